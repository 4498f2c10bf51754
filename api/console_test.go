package api

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

// chromium finds Debian's chromium (or another Chrome). Without one the
// browser test is skipped, unless TASKRUNNER_TEST_CHROMIUM=required (as
// .ci/run sets it): then it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("TASKRUNNER_TEST_CHROMIUM_PATH"), "chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("TASKRUNNER_TEST_CHROMIUM") == "required" {
		t.Fatal("no Chromium found (chromium, chromium-browser, google-chrome) and TASKRUNNER_TEST_CHROMIUM=required: apt-get install chromium")
	}
	t.Skip("no Chromium found; set TASKRUNNER_TEST_CHROMIUM=required to fail instead")
	return ""
}

// browser starts a headless Chromium of 1280x800 and returns its
// context, whose actions time out after 5 minutes.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("lang", "en-US"),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// The first call starts the browser, on a context without a timeout:
	// the timeout would end the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel3 := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(cancel3)
	return ctx
}

// shots is where the screenshots go: $TASKRUNNER_SCREENSHOTS, or a
// temporary folder kept in the log.
func shots(t *testing.T) string {
	dir := os.Getenv("TASKRUNNER_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	must(t, os.MkdirAll(dir, 0o755))
	t.Logf("screenshots in %s", dir)
	return dir
}

// The console in a real Chromium: sign in, a bad spec refused as it is
// typed, the fixed one previewed, saved and run, disabled, its history
// and audit; search, duplicate, delete, kill, a backfill's dry run; a
// read token sees no edit buttons and is refused anyway; the language is
// remembered; the time to draw a page of a 10,000-task table is logged.
func TestConsole_Browser(t *testing.T) {
	ctx := browser(t)
	db := modelstest.SQLite(t)
	f := setup(t, db)
	dir := shots(t)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			// The toast of the last action would hide part of the page.
			if _, err := chromedp.Evaluate[chromedp.Void](`document.getElementById('toast').hidden = true`)(ctx, tg); err != nil {
				return err
			}
			png, err := chromedp.CaptureScreenshot()(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		})
	}
	js := func(expr string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](expr) }
	// hash moves within the console (a same-document navigation).
	hash := func(h string) chromedp.Action[chromedp.Void] { return js(fmt.Sprintf("location.hash = %q", h)) }
	// typeSpec puts a whole spec in the field at once, as a paste does:
	// typed key by key, its prefixes would be previewed on the way.
	typeSpec := func(spec string) chromedp.Action[chromedp.Void] {
		return js(fmt.Sprintf("(e => { e.value = %q; e.dispatchEvent(new Event('input')); })(document.getElementById('spec'))", spec))
	}
	run := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(css("main")))
			t.Fatalf("%s: %v\nmain: %s", step, err, truncate(html, 3000))
		}
	}
	// Tasks of other kinds, for the pages to show more than one.
	f.create(map[string]any{"task_key": "morning_report", "desc": "每天早上的报表", "execute_func": "echo", "trigger": "text", "spec": "每天早上9点"})
	f.create(map[string]any{"task_key": "flaky_sync", "desc": "fails every 3 s", "execute_func": "fail", "trigger": "cron", "spec": "*/3 * * * * *"})

	// 1. Sign in.
	run("sign in",
		chromedp.Navigate(f.ts.URL+"/"),
		chromedp.WaitVisible(css("#token")),
		shot("signin"),
		chromedp.SendKeys(css("#token"), testTokens["admin"]),
		chromedp.Click(css("#signin")),
		chromedp.WaitVisible(css("#runs-chart")),
	)
	if who := value(t, ctx, chromedp.Text(css("#whoami"))); !strings.Contains(who, "admin-bot") {
		t.Errorf("whoami shows %q", who)
	}

	// 2. A bad spec is refused as it is typed; 3. the fixed one previewed.
	run("bad spec",
		hash("#/tasks/new"),
		chromedp.WaitVisible(css("#spec")),
		chromedp.SendKeys(css(`input[name=task_key]`), "console_demo"),
		chromedp.SendKeys(css(`input[name=desc]`), "made by the browser test"),
		chromedp.SendKeys(css(`input[name=execute_func]`), "echo"),
		chromedp.SendKeys(css(`input[name=args]`), `"hello",42`),
		typeSpec("61 * * * * *"),
		chromedp.WaitVisible(css(`#preview [data-state=error]`)),
	)
	if msg := value(t, ctx, chromedp.Text(css("#preview"))); !strings.Contains(msg, "61") {
		t.Errorf("the bad spec's error says %q", msg)
	}
	run("fixed spec",
		typeSpec("*/2 * * * * *"),
		chromedp.WaitVisible(css(`#preview [data-state=ok]`)),
		chromedp.SendKeys(css(`input[name=max_retries]`), "1"),
		shot("task-form"),
	)
	if n := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#preview li').length`)); n != 5 {
		t.Errorf("the preview shows %d fire times, want 5", n)
	}

	// 4. Saved, it runs: its history shows a successful run.
	run("save and run",
		chromedp.Click(css("#save")),
		chromedp.WaitVisible(css(`#runs tr.run[data-status=success]`)),
		chromedp.Click(css(`#auto`)), // no refresh under the next click
		chromedp.Click(css(`#runs tr.run[data-status=success] a`)),
		chromedp.WaitVisible(css(`#runs tr.detail pre`)),
		shot("history"),
	)
	if out := value(t, ctx, chromedp.Text(css(`#runs tr.detail pre`))); !strings.Contains(out, `args=`) {
		t.Errorf("the run's output is %q", out)
	}
	task, err := models.ListTasksPage(context.Background(), db, models.TaskFilter{Key: "console_demo", Valid: -1, Limit: 1})
	must(t, err)
	if len(task) != 1 || !strings.Contains(task[0].Extra, `"max_retries":1`) {
		t.Fatalf("saved task: %+v", task)
	}
	id := task[0].ID

	// A run's own page, where an alert's link points (#/runs/<id>).
	runs, err := models.ListRuns(context.Background(), db, id, 100)
	must(t, err)
	var done int64 // a run that ended, so its page shows its output
	for _, r := range runs {
		if r.Status == models.RunSuccess {
			done = r.ID
			break
		}
	}
	if done == 0 {
		t.Fatalf("no successful run of console_demo: %+v", runs)
	}
	run("a run's page",
		chromedp.Navigate(fmt.Sprintf("%s/console/#/runs/%d", f.ts.URL, done)),
		chromedp.WaitVisible(css(`h2 a[href="#/tasks/`+fmt.Sprint(id)+`/runs"]`)),
	)
	if out := value(t, ctx, chromedp.Text(css(`main pre`))); !strings.Contains(out, `args=`) {
		t.Errorf("the run's page shows output %q", out)
	}

	// 5. Disabled from the tasks page; 6. its history opened from there.
	row := `#tasks tr[data-key=console_demo] `
	run("disable",
		hash("#/tasks"),
		chromedp.WaitVisible(css(row+`[data-act=disable]`)),
		chromedp.Click(css(row+`[data-act=disable]`)),
		chromedp.WaitVisible(css(row+`[data-act=enable]`)),
		shot("tasks"),
		chromedp.Click(css(row+`a.key`)),
		chromedp.WaitVisible(css(`#runs tr.run`)),
	)
	if got, _ := models.GetTask(context.Background(), db, id); got.IsValid != 0 {
		t.Errorf("is_valid = %d after Disable", got.IsValid)
	}

	// Search; duplicate a task, then delete the copy (confirmed in a
	// dialog); kill a running run; a backfill's dry run.
	run("search",
		hash("#/tasks"),
		chromedp.WaitVisible(css(`#tasks[data-drawn] tr[data-key=flaky_sync]`)),
		chromedp.SendKeys(css("#search"), "flaky"),
	)
	if n := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#tasks tbody tr').length`)); n != 1 {
		t.Errorf("searching flaky shows %d rows, want 1", n)
	}
	run("duplicate and delete",
		js(`(e => { e.value = ''; e.dispatchEvent(new Event('input')); })(document.getElementById('search'))`),
		chromedp.WaitVisible(css(`#tasks tr[data-key=morning_report] [data-act=duplicate]`)),
		chromedp.Click(css(`#tasks tr[data-key=morning_report] [data-act=duplicate]`)),
		chromedp.WaitVisible(css(`#preview [data-state=ok]`)),
		chromedp.Click(css("#save")),
		chromedp.WaitVisible(css(`#runs`)),
		chromedp.Click(css(`[data-act=edit]`)),
		chromedp.WaitVisible(css(`#delete`)),
		chromedp.Click(css(`#delete`)),
		chromedp.WaitVisible(css(`#confirm-ok`)),
		chromedp.Click(css(`#confirm-ok`)),
		chromedp.WaitVisible(css(`#tasks[data-drawn] tr[data-key=morning_report]`)),
	)
	if n := count(t, db, "task"); n != 3 {
		t.Errorf("%d tasks after duplicating one and deleting the copy, want 3", n)
	}
	var dup int
	must(t, db.QueryRowx("SELECT COUNT(*) FROM audit WHERE task_key = 'morning_report_copy'").Scan(&dup))
	if dup != 2 { // created, deleted
		t.Errorf("%d audit rows of the copy, want 2", dup)
	}
	blocker := f.create(map[string]any{"task_key": "blocker", "execute_func": "block", "trigger": "cron", "spec": "0 0 1 1 *"})
	flaky, err := models.ListTasksPage(context.Background(), db, models.TaskFilter{Key: "flaky_sync", Valid: -1, Limit: 1})
	must(t, err)
	run("kill and backfill",
		hash(fmt.Sprintf("#/tasks/%d/runs", blocker.ID)),
		chromedp.WaitVisible(css("#run-now")),
		chromedp.Click(css("#run-now")),
		chromedp.WaitVisible(css(`#runs [data-act=kill]`)),
		chromedp.Click(css(`#runs [data-act=kill]`)),
		chromedp.WaitVisible(css(`#runs tr.run[data-status=killed]`)),
		hash(fmt.Sprintf("#/tasks/%d/runs", flaky[0].ID)),
		// The route draws the new page later: until then blocker's page,
		// which has a backfill form too, is shown. Wait for flaky_sync's.
		chromedp.WaitVisible(css(fmt.Sprintf(`a[href="#/audit?task_id=%d"]`, flaky[0].ID))),
		chromedp.WaitVisible(css(`details.backfill summary`)),
		chromedp.Click(css(`details.backfill summary`)),
		chromedp.Click(css(`#bf-preview`)),
		chromedp.WaitVisible(css(`#bf-plan p`)),
	)
	if plan := value(t, ctx, chromedp.Text(css(`#bf-plan`))); !strings.Contains(plan, "fire times") {
		t.Errorf("the backfill's dry run shows %q", plan)
	}

	// The audit, the overview with its chart, and the language kept.
	setLang := func(l string) chromedp.Action[chromedp.Void] {
		return js(fmt.Sprintf("(e => { e.value = %q; e.dispatchEvent(new Event('change')); })(document.getElementById('lang'))", l))
	}
	run("audit and overview",
		hash("#/audit"),
		chromedp.WaitVisible(css(`#audit tr[data-action=disable]`)),
		shot("audit"),
		hash("#/overview"),
		chromedp.WaitVisible(css(`#runs-chart rect[data-status=success]`)),
		chromedp.WaitVisible(css(`#failing a`)),
		shot("overview"),
		setLang("zh"),
		chromedp.Reload(),
		chromedp.WaitVisible(css(`#runs-chart`)),
		shot("overview-zh"),
	)
	if nav := value(t, ctx, chromedp.Text(css(`[data-nav=tasks]`))); nav != "任务" {
		t.Errorf("after choosing 中文 and a reload the nav says %q", nav)
	}
	run("english", setLang("en"))

	// 7. A read token sees no edit buttons, and is refused anyway.
	run("read token",
		chromedp.Click(css("#signout")),
		chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), testTokens["read"]),
		chromedp.Click(css("#signin")),
		chromedp.WaitVisible(css("#top")),
		hash("#/tasks"),
		chromedp.WaitVisible(css(`#tasks[data-drawn] tr[data-key=console_demo]`)),
		chromedp.WaitVisible(css(`#readonly`)),
	)
	buttons := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#new, [data-act=edit], [data-act=duplicate], [data-act=run], [data-act=enable], [data-act=disable], [data-act=kill]').length`))
	run("read token: form", hash(fmt.Sprintf("#/tasks/%d/edit", id)), chromedp.WaitVisible(css(`#spec`)))
	editable := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#save, #delete, form.task input:not(:disabled)').length`))
	if buttons != 0 || editable != 0 {
		t.Errorf("a read token sees %d edit buttons on the task list and %d editable fields or save/delete on the form", buttons, editable)
	}
	status := value(t, ctx, chromedp.Evaluate[int](fmt.Sprintf(`fetch('/api/v1/tasks/%d/enable', {method: 'POST', headers: {Authorization: 'Bearer ' + sessionStorage.getItem('taskrunner.token')}}).then((r) => r.status)`, id),
		chromedp.EvalAwaitPromise))
	if status != http.StatusForbidden {
		t.Errorf("enable with a read token: %d, want 403", status)
	}

	// The time from the browser's navigation to a drawn task table (its
	// first page, 1,000 rows) with 10,000 tasks in the table.
	batch := make([]models.Task, 10000)
	for i := range batch {
		batch[i] = models.Task{Key: fmt.Sprintf("bulk_%05d", i), Desc: "a row of the 10,000", Func: "echo", Trigger: "cron",
			Spec: "0 0 1 1 *", IsValid: 0, Status: models.TaskDisabled}
	}
	must(t, models.InsertTasks(context.Background(), db, batch))
	start := time.Now()
	run("10,000 tasks", // a full page load: the query differs
		chromedp.Navigate(f.ts.URL+"/console/?tasks=10000#/tasks"),
		chromedp.WaitVisible(css(`#tasks[data-drawn]`)),
	)
	wall := time.Since(start)
	drawnMS := value(t, ctx, chromedp.Evaluate[float64](`window.tasksDrawnMS`))
	rows := value(t, ctx, chromedp.Evaluate[int](`+document.getElementById('tasks').dataset.rows`))
	apiMS := value(t, ctx, chromedp.Evaluate[[]float64](`performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/tasks?')).map((e) => Math.round(e.responseEnd - e.requestStart))`))
	if rows != 1000 {
		t.Errorf("the first page drew %d rows, want 1000", rows)
	}
	t.Logf("10,000 tasks: navigation to the first page's table drawn (%d rows) in %.0f ms (browser clock; %s wall clock from Navigate); the API answered the page in %v ms",
		rows, drawnMS, wall.Round(time.Millisecond), apiMS)
}

// value runs an action that returns a value.
func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
