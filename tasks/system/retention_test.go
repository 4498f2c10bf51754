package system_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"taskrunner/models"
	"taskrunner/models/modelstest"
	"taskrunner/tasks"
	"taskrunner/tasks/system"
)

const layout = "2006-01-02 15:04:05.000"

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// row is a run to insert with the times a test wants.
type row struct {
	task      int64
	status    string
	scheduled time.Time
	created   time.Time
}

// insertRuns writes rows in multi-row statements.
func insertRuns(t *testing.T, db *models.DB, rows []row) {
	t.Helper()
	for len(rows) > 0 {
		part := rows[:min(len(rows), 200)]
		rows = rows[len(part):]
		var sb strings.Builder
		var args []any
		sb.WriteString("INSERT INTO execute_task (task_id, status, trace_id, task_key, scheduled_at, attempt, source, create_at) VALUES ")
		for i, r := range part {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, 1, 'schedule', ?)")
			args = append(args, r.task, r.status, fmt.Sprintf("trace-%d", i), fmt.Sprintf("task%d", r.task),
				r.scheduled.UTC().Format(layout), r.created.UTC().Format(layout))
		}
		_, err := db.ExecContext(context.Background(), sb.String(), args...)
		must(t, err)
	}
}

// series is n runs of a task, one a minute from first, all created at
// created, with status.
func series(task int64, n int, first, created time.Time, status string) []row {
	rows := make([]row, n)
	for i := range rows {
		rows[i] = row{task: task, status: status, scheduled: first.Add(time.Duration(i) * time.Minute), created: created}
	}
	return rows
}

func count(t *testing.T, db *models.DB, where string, args ...any) int {
	t.Helper()
	var n int
	must(t, db.GetContext(context.Background(), &n, "SELECT COUNT(*) FROM execute_task WHERE "+where, args...))
	return n
}

func insertTask(t *testing.T, db *models.DB, key, extra string) int64 {
	t.Helper()
	id, err := models.InsertTask(context.Background(), db, models.Task{Key: key, Func: "ok", Trigger: "interval", Spec: "60",
		IsValid: 1, Extra: extra})
	must(t, err)
	return id
}

// retain runs system_retention once, as the engine would call it, and
// returns its output.
func retain(t *testing.T, db *models.DB, cfg system.Config) string {
	t.Helper()
	reg := tasks.NewRegistry()
	must(t, system.Register(reg, db, cfg))
	fn, ok := reg.Lookup(system.RetentionFunc)
	if !ok {
		t.Fatal("system_retention not registered")
	}
	run := tasks.NewRun(65535)
	run.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	must(t, fn(context.Background(), run))
	return run.OutputText()
}

func config(batch int) system.Config {
	cfg := system.DefaultConfig()
	cfg.BatchSize, cfg.Pause = batch, 0
	return cfg
}

var day = 24 * time.Hour

// Old rows go in batches; young ones, running ones and those of tasks
// with a longer keep stay; a shorter keep deletes sooner.
func TestRetention_DeletesByAge(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		now := time.Now().UTC().Truncate(time.Second)
		plain := insertTask(t, db, "plain", "")
		short := insertTask(t, db, "short", `{"keep": "2d"}`)
		long := insertTask(t, db, "long", `{"keep": "60d", "timeout": "5m"}`)
		var rows []row
		rows = append(rows, series(plain, 2000, now.Add(-40*day), now.Add(-40*day), models.RunSuccess)...)
		rows = append(rows, series(plain, 500, now.Add(-2*day), now.Add(-1*day), models.RunFailed)...)
		rows = append(rows, series(plain, 1, now.Add(-50*day).Add(time.Second), now.Add(-50*day), models.RunRunning)...)
		rows = append(rows, series(9999, 300, now.Add(-45*day), now.Add(-45*day), models.RunSuccess)...) // a deleted task's
		rows = append(rows, series(short, 200, now.Add(-3*day), now.Add(-3*day), models.RunSuccess)...)
		rows = append(rows, series(short, 100, now.Add(-day), now.Add(-day), models.RunSuccess)...)
		rows = append(rows, series(long, 300, now.Add(-40*day), now.Add(-40*day), models.RunSuccess)...)
		rows = append(rows, series(long, 150, now.Add(-70*day), now.Add(-70*day), models.RunSuccess)...)
		insertRuns(t, db, rows)

		out := retain(t, db, config(100))

		for _, c := range []struct {
			task int64
			want int
		}{{plain, 501}, {9999, 0}, {short, 100}, {long, 300}} {
			if got := count(t, db, "task_id = ?", c.task); got != c.want {
				t.Errorf("task %d: %d rows left, want %d", c.task, got, c.want)
			}
		}
		if got := count(t, db, "status = 'running'"); got != 1 {
			t.Errorf("running rows %d, want the one kept", got)
		}
		for _, want := range []string{"2300 rows older than 30d deleted", "350 rows of 2 tasks with their own keep deleted"} {
			if !strings.Contains(out, want) {
				t.Errorf("output %q lacks %q", out, want)
			}
		}
		// 2300 old rows in 100-id ranges, plus the per-task batches.
		if !strings.Contains(out, "batches of at most 100 rows") {
			t.Errorf("output %q", out)
		}
		if m := regexp.MustCompile(`(\d+) batches`).FindStringSubmatch(out); m == nil {
			t.Errorf("output %q", out)
		} else if n, _ := strconv.Atoi(m[1]); n < 23 {
			t.Errorf("%d batches for 2,650 rows of at most 100", n)
		}

		// A second run finds nothing more.
		out = retain(t, db, config(100))
		if !strings.Contains(out, "0 rows older than 30d deleted") {
			t.Errorf("second run: %q", out)
		}
	})
}

// history: errors keeps every non-success and the first success of
// each hour.
func TestRetention_HistoryErrors(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		now := time.Now().UTC()
		hour := now.Truncate(time.Hour).Add(-5 * time.Hour)
		busy := insertTask(t, db, "busy", `{"history": "errors"}`)
		other := insertTask(t, db, "other", "")
		var rows []row
		rows = append(rows, series(busy, 180, hour, hour, models.RunSuccess)...) // 3 hours, a run a minute
		rows = append(rows, series(busy, 7, hour.Add(30*time.Second), hour, models.RunFailed)...)
		rows = append(rows, series(other, 180, hour, hour, models.RunSuccess)...)
		insertRuns(t, db, rows)

		out := retain(t, db, config(50))

		if got := count(t, db, "task_id = ? AND status = 'failed'", busy); got != 7 {
			t.Errorf("failures left %d, want 7", got)
		}
		var kept []time.Time
		must(t, db.SelectContext(context.Background(), &kept,
			"SELECT scheduled_at FROM execute_task WHERE task_id = ? AND status = 'success' ORDER BY scheduled_at", busy))
		if len(kept) != 3 {
			t.Fatalf("successes left %v, want one an hour", kept)
		}
		for i, k := range kept {
			if !k.UTC().Equal(hour.Add(time.Duration(i) * time.Hour)) {
				t.Errorf("kept %v, want the hour's first", kept)
			}
		}
		if got := count(t, db, "task_id = ?", other); got != 180 {
			t.Errorf("other task: %d left, want all 180", got)
		}
		if !strings.Contains(out, "177 successes thinned") {
			t.Errorf("output %q", out)
		}
	})
}

// Writers are never held up for long while a cleanup deletes: each
// insert of a new run, made while it works, takes well under a second.
func TestRetention_WritesProceed(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		now := time.Now().UTC().Truncate(time.Second)
		id := insertTask(t, db, "busy", "")
		insertRuns(t, db, series(id, 10000, now.Add(-60*day), now.Add(-60*day), models.RunSuccess))
		cfg := config(100)
		cfg.Pause = 2 * time.Millisecond

		done := make(chan string)
		go func() {
			reg := tasks.NewRegistry()
			if err := system.Register(reg, db, cfg); err != nil {
				t.Error(err)
			}
			fn, _ := reg.Lookup(system.RetentionFunc)
			run := tasks.NewRun(65535)
			run.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			if err := fn(context.Background(), run); err != nil {
				t.Error(err)
			}
			done <- run.OutputText()
		}()
		var (
			writes  int
			slowest time.Duration
			out     string
		)
		next := now
	loop:
		for {
			select {
			case out = <-done:
				break loop
			default:
			}
			began := time.Now()
			next = next.Add(time.Second)
			insertRuns(t, db, []row{{task: id, status: models.RunSuccess, scheduled: next, created: time.Now()}})
			slowest = max(slowest, time.Since(began))
			writes++
		}
		if !strings.Contains(out, "10000 rows older than 30d deleted") {
			t.Fatalf("output %q", out)
		}
		if writes < 5 || slowest > time.Second {
			t.Errorf("%d writes during the cleanup, slowest %v", writes, slowest)
		}
		t.Logf("%d writes during the cleanup, slowest %v", writes, slowest)
		if got := count(t, db, "task_id = ?", id); got != writes {
			t.Errorf("%d rows left, want the %d written", got, writes)
		}
	})
}

// run_start rows of replicas that are gone, and old audit rows, go too.
func TestRetention_RunStartAndAudit(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		must(t, models.RegisterReplica(ctx, db, models.Replica{ID: "alive", Host: "h", StartedAt: now, HeartbeatAt: now}))
		for _, owner := range []string{"alive", "gone"} {
			_, err := db.ExecContext(ctx, "INSERT INTO run_start (owner, started_at, run_ids) VALUES (?, ?, '1-5')",
				owner, now.Add(-10*day).Format(layout))
			must(t, err)
		}
		for _, at := range []time.Time{now.Add(-400 * day), now.Add(-day)} {
			_, err := models.InsertAudit(ctx, db, models.Audit{At: at, Actor: "ci", Action: "update", TaskID: 1, TaskKey: "k"})
			must(t, err)
		}
		out := retain(t, db, config(10))
		var owners []string
		must(t, db.SelectContext(ctx, &owners, "SELECT owner FROM run_start"))
		if len(owners) != 1 || owners[0] != "alive" {
			t.Errorf("run_start owners left %v, want [alive]", owners)
		}
		var audits int
		must(t, db.GetContext(ctx, &audits, "SELECT COUNT(*) FROM audit"))
		if audits != 1 {
			t.Errorf("audit rows left %d, want 1", audits)
		}
		if !strings.Contains(out, "run_start: 1 rows deleted; audit: 1 rows deleted") {
			t.Errorf("output %q", out)
		}
	})
}

// The row is inserted once; a user's edits, is_valid = 0 included, stay.
func TestEnsureTask(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		ins, err := system.EnsureTask(ctx, db)
		must(t, err)
		if !ins {
			t.Fatal("not inserted on a new database")
		}
		_, err = db.ExecContext(ctx, "UPDATE task SET is_valid = 0 WHERE task_key = ?", system.RetentionKey)
		must(t, err)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ins, err := system.EnsureTask(ctx, db); err != nil || ins {
					t.Errorf("again: inserted %v, %v", ins, err)
				}
			}()
		}
		wg.Wait()
		tk, err := models.GetTaskByKey(ctx, db, system.RetentionKey)
		must(t, err)
		if tk.IsValid != 0 || tk.Func != system.RetentionFunc || tk.Trigger != "cron" || tk.Spec != system.RetentionSpec {
			t.Fatalf("row %+v", tk)
		}
		var n int
		must(t, db.GetContext(ctx, &n, "SELECT COUNT(*) FROM task WHERE task_key = ?", system.RetentionKey))
		if n != 1 {
			t.Fatalf("%d rows", n)
		}
	})
}

func TestParseAge(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * day, true}, {"168h", 168 * time.Hour, true}, {"1d12h", 36 * time.Hour, true},
		{"90m", 90 * time.Minute, true}, {"0", 0, true},
		{"30", 0, false}, {"d", 0, false}, {"-1d", 0, false}, {"1.5d", 0, false}, {"1w", 0, false}, {"a month", 0, false},
	} {
		got, err := system.ParseAge(c.in)
		if (err == nil) != c.ok || (c.ok && time.Duration(got) != c.want) {
			t.Errorf("ParseAge(%q) = %v, %v", c.in, time.Duration(got), err)
		}
		if c.ok {
			if back, err := system.ParseAge(got.String()); err != nil || back != got {
				t.Errorf("%q: String %q reads back as %v, %v", c.in, got, back, err)
			}
		}
	}
}
