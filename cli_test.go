package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"taskrunner/api"
	"taskrunner/libs/sqlitedb"
	"taskrunner/models"
	"taskrunner/models/modelstest"
	"taskrunner/tasks"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/system"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with what the tests print")

// golden compares got with testdata/<name>.golden (or, with -update,
// writes it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		must(t, os.MkdirAll("testdata", 0o755))
		must(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	must(t, err)
	if got != string(want) {
		t.Errorf("%s differs (go test -run %s -update rewrites it)\n--- got\n%s--- want\n%s", path, t.Name(), got, want)
	}
}

// cli runs the command line and returns what it printed, its error and
// exit status.
func cli(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(args, &out)
	return out.String(), exitCode(err), err
}

// cliOK runs the command line and fails the test unless it succeeds.
func cliOK(t *testing.T, args ...string) string {
	t.Helper()
	out, _, err := cli(t, args...)
	if err != nil {
		t.Fatalf("taskrunner %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// cliDB points the CLI's configuration (conf/local, through its
// environment overrides) at a new migrated database of kind, and returns
// that database for the test to fill and read.
func cliDB(t *testing.T, kind string) *models.DB {
	t.Helper()
	t.Setenv("APP_ENV", "local")
	t.Setenv(envServer, "")
	t.Setenv(envToken, "")
	var db *models.DB
	if kind == "mysql" {
		cfg := modelstest.EmptyMySQL(t)
		t.Setenv("TASKRUNNER_COMMON_APP_DATABASE", "mysql")
		t.Setenv("TASKRUNNER_MYSQL_DSN", cfg.DSN)
		db = modelstest.Open(t, cfg)
	} else {
		path := filepath.Join(t.TempDir(), "cli.db")
		t.Setenv("TASKRUNNER_COMMON_APP_DATABASE", "sqlite")
		t.Setenv("TASKRUNNER_COMMON_APP_SQLITE_PATH", path)
		raw, err := sqlitedb.Open(context.Background(), path)
		must(t, err)
		t.Cleanup(func() { _ = raw.Close() })
		if db, err = models.Open(raw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := models.Migrate(context.Background(), db, modelstest.Schema(t)); err != nil {
		t.Fatal(err)
	}
	return db
}

var (
	shanghai, _ = time.LoadLocation("Asia/Shanghai")
	utc         = func(s string) time.Time {
		t, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			panic(err)
		}
		return t
	}
)

// fixtureTasks inserts the task rows the tests read: one scheduled, two
// disabled, and two the engine refuses (an unknown function with a bad
// spec, and a second enabled row of one key).
func fixtureTasks(t *testing.T, db *models.DB) {
	t.Helper()
	ctx := context.Background()
	for _, tk := range []models.Task{
		{Key: "report", Desc: "daily report", Func: "test_cron", Trigger: "date", Spec: "2030-01-01 09:00:00", Args: "1,2", IsValid: 1, Extra: `{"timezone":"Asia/Shanghai"}`},
		{Key: "every_hour", Func: "test_interval", Trigger: "interval", Spec: "1h", IsValid: 0},
		{Key: "ny_open", Func: "test_cron", Trigger: "cron", Spec: "30 9 * * 1-5", Args: "4,5,6", IsValid: 0, Extra: `{"timezone":"America/New_York"}`},
		{Key: "broken", Func: "test_nope", Trigger: "cron", Spec: "61 * * * *", IsValid: 1},
		{Key: "report", Func: "test_interval", Trigger: "interval", Spec: "5m", IsValid: 1},
	} {
		_, err := models.InsertTask(ctx, db, tk)
		must(t, err)
	}
}

// fixtureHistory inserts runs and audit rows of fixed times.
func fixtureHistory(t *testing.T, db *models.DB) {
	t.Helper()
	ctx := context.Background()
	claim := func(c models.Claim, fin *models.Finish) {
		c.Attempt, c.Host, c.Owner = 1, "host-a/1", "owner-a"
		ids, err := models.ClaimRuns(ctx, db, []models.Claim{c})
		must(t, err)
		if fin != nil {
			ok, err := models.FinishRun(ctx, db, models.Outcome{ID: ids[0], TaskID: c.TaskID, TraceID: c.TraceID, Owner: c.Owner, Attempt: 1, Finish: *fin})
			must(t, err)
			if !ok {
				t.Fatalf("run %d not finished", ids[0])
			}
		}
	}
	at := utc("2026-11-01 01:00:00")
	claim(models.Claim{TaskID: 1, TaskKey: "report", ScheduledAt: at, Source: models.SourceSchedule, TraceID: "trace-1"},
		&models.Finish{Status: models.RunSuccess, Output: "sum=3", StartedAt: at, FinishedAt: at.Add(1500 * time.Millisecond), Duration: 1500 * time.Millisecond})
	at = utc("2026-11-02 01:00:00")
	claim(models.Claim{TaskID: 1, TaskKey: "report", ScheduledAt: at, Source: models.SourceManual, TraceID: "trace-2"},
		&models.Finish{Status: models.RunFailed, Error: "boom: the report server said 502\ngoroutine 1 [running]", StartedAt: at, FinishedAt: at.Add(20 * time.Millisecond), Duration: 20 * time.Millisecond})
	at = utc("2026-11-02 14:30:00")
	claim(models.Claim{TaskID: 3, TaskKey: "ny_open", ScheduledAt: at, Source: models.SourceSchedule, TraceID: "trace-3",
		Status: models.RunSkipped, Error: "overlap forbid: a run is still going", StartedAt: at}, nil)

	before := `{"args":"1,2","desc":"daily report","execute_func":"test_cron","extra":{"timezone":"Asia/Shanghai"},"is_valid":1,"spec":"2029-01-01 09:00:00","task_key":"report","trigger":"date"}`
	after := strings.Replace(before, "2029", "2030", 1)
	for _, a := range []models.Audit{
		{At: utc("2026-11-28 02:00:00"), Actor: "admin-bot", Source: models.AuditSourceAPI, Remote: "10.0.0.7", Action: models.AuditCreate, TaskID: 1, TaskKey: "report", After: models.NullString(before)},
		{At: utc("2026-11-29 03:04:05"), Actor: "cli:alice", Source: models.AuditSourceCLI, Remote: "ops-1", Action: models.AuditUpdate, TaskID: 1, TaskKey: "report", Before: models.NullString(before), After: models.NullString(after)},
	} {
		_, err := models.InsertAudit(ctx, db, a)
		must(t, err)
	}
}

// fixtureWorkers registers a live worker and one that stopped.
func fixtureWorkers(t *testing.T, db *models.DB) {
	t.Helper()
	ctx := context.Background()
	must(t, models.RegisterReplica(ctx, db, models.Replica{ID: "w-live", Kind: models.KindWorker, Host: "host-b", PID: 101, Version: "v1.2.0", StartedAt: utc("2026-11-30 01:00:00"),
		Info: `{"ip": "10.0.0.7", "queues": {"default": 8, "reports": 2}}`}))
	must(t, models.RegisterReplica(ctx, db, models.Replica{ID: "w-gone", Kind: models.KindWorker, Host: "host-c", PID: 202, Version: "v1.1.0", StartedAt: utc("2026-11-29 01:00:00")}))
	must(t, models.StopReplica(ctx, db, "w-gone", utc("2026-11-29 10:00:00")))
}

// startEngine starts an engine on db (the functions of the binary, plus
// block, which runs until cancelled) and syncs the table once.
func startEngine(t *testing.T, db *models.DB) (*engine.Engine, func()) {
	t.Helper()
	reg, err := registry(nil, nil, system.Config{})
	must(t, err)
	must(t, reg.Add("block", func(ctx context.Context, run *tasks.Run) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	cfg := engine.DefaultConfig()
	cfg.Location = shanghai
	cfg.ShutdownTimeout = 2 * time.Second
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := engine.New(cfg, db, reg, log)
	must(t, err)
	ctx := context.Background()
	must(t, eng.Start(ctx))
	var once sync.Once
	stop := func() { once.Do(func() { must(t, eng.Shutdown()) }) }
	t.Cleanup(stop)
	must(t, eng.SyncOnce(ctx))
	return eng, stop
}

// serve serves the real API for eng on db, and points the CLI at it
// (TASKRUNNER_SERVER, TASKRUNNER_TOKEN) with an admin token.
func serve(t *testing.T, db *models.DB, eng *engine.Engine) {
	t.Helper()
	sum := sha256.Sum256([]byte("tok-admin"))
	c := api.DefaultConfig()
	c.Tokens = []api.Token{{Name: "cli-test", Role: "admin", SHA256: hex.EncodeToString(sum[:])}}
	srv, err := api.New(api.Options{Config: c, DB: db, Engine: eng, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	must(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Setenv(envServer, ts.URL)
	t.Setenv(envToken, "tok-admin")
}

// TestCLI_Database runs the verbs on the database directly.
func TestCLI_Database(t *testing.T) {
	modelstest.EachKind(t, func(t *testing.T, kind string) {
		db := cliDB(t, kind)
		fixtureTasks(t, db)
		_, stop := startEngine(t, db)
		stop() // the state a daemon wrote
		fixtureHistory(t, db)
		fixtureWorkers(t, db)
		reads(t)
		golden(t, "workers", cliOK(t, "workers", "--kind", "worker", "--dead-within", "87600h"))
		var ws []map[string]any
		must(t, json.Unmarshal([]byte(cliOK(t, "workers", "--kind", "worker", "--dead-within", "87600h", "--json")), &ws))
		if len(ws) != 2 || ws[0]["id"] != "w-live" || ws[0]["state"] != "live" || ws[1]["state"] != "dead" || ws[1]["dead_at"] != "2026-11-29T18:00:00+08:00" {
			t.Errorf("workers --json: %v", ws)
		}
		if out := cliOK(t, "workers", "--kind", "worker"); strings.Contains(out, "w-gone") {
			t.Errorf("a worker dead long ago is listed:\n%s", out)
		}
		checkEdits(t, db)
	})
}

// TestCLI_Server runs the verbs through a daemon's API; the reads print
// what they print on the database.
func TestCLI_Server(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		t.Setenv("APP_ENV", "local")
		fixtureTasks(t, db)
		eng, _ := startEngine(t, db)
		fixtureHistory(t, db)
		serve(t, db, eng)
		reads(t)

		// trigger: synchronous (test_cron sums the row's args and those
		// appended), then asynchronous; kill.
		if out := cliOK(t, "trigger", "report", "--wait", "--", "10"); out != "sum=13\n" {
			t.Errorf("trigger --wait printed %q", out)
		}
		cliOK(t, "tasks", "create", "--key", "blocker", "--func", "block", "--trigger", "date", "--spec", "2030-01-01 00:00:00")
		var started struct {
			RunID int64 `json:"run_id"`
		}
		must(t, json.Unmarshal([]byte(cliOK(t, "trigger", "blocker", "--json")), &started))
		if started.RunID == 0 {
			t.Fatal("trigger --json: no run id")
		}
		id := strconv.FormatInt(started.RunID, 10)
		if out := cliOK(t, "kill", id); out != "run "+id+" killed\n" {
			t.Errorf("kill printed %q", out)
		}
		var runs []runView
		must(t, json.Unmarshal([]byte(cliOK(t, "runs", "--task", "blocker", "--json")), &runs))
		if len(runs) != 1 || runs[0].Status != models.RunKilled || runs[0].Source != models.SourceManual {
			t.Errorf("runs of blocker: %+v", runs)
		}
		if _, code, err := cli(t, "kill", id); code != exitError || !strings.Contains(err.Error(), "HTTP 409") {
			t.Errorf("kill of a cancelled run: %v (exit %d)", err, code)
		}

		// backfill: the dry run lists the fire times in the task's zone;
		// the backfill runs them.
		cliOK(t, "tasks", "create", "--key", "hourly", "--func", "test_interval", "--trigger", "interval", "--spec", "1h",
			"--extra", `{"timezone":"Asia/Shanghai"}`)
		golden(t, "backfill_dry_run", cliOK(t, "backfill", "hourly", "--from", "2026-11-01 00:00", "--to", "2026-11-01 03:00", "--dry-run"))
		out := cliOK(t, "backfill", "hourly", "--from", "2026-11-01 00:00", "--to", "2026-11-01 03:00")
		if out != "backfill of hourly started: 4 runs (4 fire times, 0 already ran); follow it with taskrunner runs --task hourly\n" {
			t.Errorf("backfill printed %q", out)
		}
		waitRuns(t, db, 4, "hourly")
		var plan struct {
			Times   []string `json:"times"`
			Pending int      `json:"pending"`
		}
		must(t, json.Unmarshal([]byte(cliOK(t, "backfill", "hourly", "--from", "2026-11-01 00:00", "--to", "2026-11-01 03:00", "--dry-run", "--json")), &plan))
		if len(plan.Times) != 4 || plan.Pending != 0 || plan.Times[0] != "2026-11-01T00:00:00+08:00" {
			t.Errorf("backfill --dry-run --json after the backfill: %+v", plan)
		}

		// A wrong token is the server's refusal, without the token.
		t.Setenv(envToken, "tok-wrong")
		if _, code, err := cli(t, "tasks", "list"); code != exitError || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), "tok-wrong") {
			t.Errorf("wrong token: %v (exit %d)", err, code)
		}
	})
}

// waitRuns waits until key has n finished runs.
func waitRuns(t *testing.T, db *models.DB, n int, key string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var done int
		must(t, db.QueryRowx("SELECT COUNT(*) FROM execute_task WHERE task_key = ? AND status = ?", key, models.RunSuccess).Scan(&done))
		if done == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs of %s finished", done, n, key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reads checks the read verbs on the fixture, the same on the database
// and through the API.
func reads(t *testing.T) {
	t.Helper()
	golden(t, "tasks_list", cliOK(t, "tasks", "list"))
	if out := cliOK(t, "tasks"); out != cliOK(t, "tasks", "list") {
		t.Errorf("tasks without a subcommand is not tasks list:\n%s", out)
	}
	golden(t, "tasks_list_disabled", cliOK(t, "tasks", "list", "--disabled"))
	var ts []taskView
	must(t, json.Unmarshal([]byte(cliOK(t, "tasks", "list", "--json")), &ts))
	if len(ts) != 5 || ts[0].Key != "report" || ts[0].Timezone != "Asia/Shanghai" || ts[0].NextFireAt == nil ||
		!ts[0].NextFireAt.Equal(utc("2030-01-01 01:00:00")) || ts[3].Status != models.TaskError || ts[2].Timezone != "America/New_York" {
		t.Errorf("tasks list --json: %+v", ts)
	}
	raw := cliOK(t, "tasks", "list", "--json", "--key", "ny_open")
	if !strings.Contains(raw, `"timezone": "America/New_York"`) {
		t.Errorf("tasks list --json --key ny_open:\n%s", raw)
	}
	var one taskView
	must(t, json.Unmarshal([]byte(cliOK(t, "tasks", "show", "report", "--json")), &one))
	if one.ID != 1 || one.Args != "1,2" || one.AppliedSpec != "date 2030-01-01 09:00:00" {
		t.Errorf("tasks show report --json (the enabled row of the key, the lower id): %+v", one)
	}
	show := cliOK(t, "tasks", "show", "report")
	if !strings.Contains(show, "next_fire_at  2030-01-01 09:00:00 +0800") || !strings.Contains(show, "timezone      Asia/Shanghai") {
		t.Errorf("tasks show report:\n%s", show)
	}
	if _, code, err := cli(t, "tasks", "show", "nope"); code != exitError || !strings.Contains(err.Error(), "not found") {
		t.Errorf("tasks show nope: %v (exit %d)", err, code)
	}

	golden(t, "runs", cliOK(t, "runs"))
	golden(t, "runs_report_failed", cliOK(t, "runs", "--task", "report", "--status", "failed"))
	if out := cliOK(t, "runs", "--since", "2026-11-02 12:00"); strings.Count(out, "\n") != 2 || !strings.Contains(out, "ny_open") {
		t.Errorf("runs --since 2026-11-02 12:00 (+0800):\n%s", out)
	}
	var rs []map[string]any
	must(t, json.Unmarshal([]byte(cliOK(t, "runs", "--json")), &rs))
	if len(rs) != 3 || rs[0]["scheduled_at"] != "2026-11-02T09:30:00-05:00" || rs[2]["scheduled_at"] != "2026-11-01T09:00:00+08:00" || rs[2]["duration_ms"] != 1500.0 {
		t.Errorf("runs --json: %v", rs)
	}

	golden(t, "audit", cliOK(t, "audit", "--task", "report"))
	var as []auditView
	must(t, json.Unmarshal([]byte(cliOK(t, "audit", "--json")), &as))
	if len(as) != 2 || as[0].Actor != "cli:alice" || as[0].At.Format(time.RFC3339) != "2026-11-29T11:04:05+08:00" {
		t.Errorf("audit --json: %+v", as)
	}

	out, code, err := cli(t, "validate")
	golden(t, "validate", out)
	if code != exitBad || err == nil || err.Error() != "validate: 2 of 5 task rows cannot be scheduled" {
		t.Errorf("validate: %v (exit %d)", err, code)
	}
	out, _, _ = cli(t, "validate", "--json")
	var v struct {
		Checked int      `json:"checked"`
		Bad     []badRow `json:"bad"`
	}
	must(t, json.Unmarshal([]byte(out), &v))
	if v.Checked != 5 || len(v.Bad) != 2 || v.Bad[0].ID != 4 || len(v.Bad[0].Errors) != 2 || v.Bad[1].Errors[0].Field != "task_key" {
		t.Errorf("validate --json: %+v", v)
	}

	if out := cliOK(t, "next", "ny_open", "--from", "2026-11-27", "-n", "3"); out != "cron 30 9 * * 1-5\n"+
		"2026-11-27 09:30:00 Fri -0500 EST\n2026-11-30 09:30:00 Mon -0500 EST\n2026-12-01 09:30:00 Tue -0500 EST\n" {
		t.Errorf("next ny_open:\n%s", out)
	}
}

// checkEdits checks the task edits on the database: checked as the engine
// would, audited as cli:<os user>.
func checkEdits(t *testing.T, db *models.DB) {
	t.Helper()
	ctx := context.Background()
	audits := func() []models.Audit {
		as, err := models.ListAudit(ctx, db, models.AuditFilter{Limit: 100})
		must(t, err)
		return as
	}
	n := len(audits())

	file := filepath.Join(t.TempDir(), "task.toml")
	must(t, os.WriteFile(file, []byte(`task_key = "from_file"
desc = "from a file"
execute_func = "test_cron"
trigger = "cron"
spec = "0 9 * * *"
args = [1, 2]

[extra]
timezone = "Asia/Shanghai"
timeout = "5m"
`), 0o644))
	var created taskView
	must(t, json.Unmarshal([]byte(cliOK(t, "tasks", "create", "-f", file, "--desc", "flag wins", "--json")), &created))
	var extra map[string]string
	must(t, json.Unmarshal(created.Extra, &extra))
	if created.Key != "from_file" || created.Desc != "flag wins" || created.Args != "[1,2]" || created.IsValid != 1 ||
		created.Timezone != "Asia/Shanghai" || extra["timeout"] != "5m" || extra["timezone"] != "Asia/Shanghai" {
		t.Errorf("tasks create -f: %+v", created)
	}
	cliOK(t, "tasks", "edit", "from_file", "--spec", "0 10 * * *")
	cliOK(t, "tasks", "disable", "from_file")
	cliOK(t, "tasks", "enable", "from_file")
	if out := cliOK(t, "tasks", "delete", "from_file"); out != "task 6 (from_file) deleted\n" {
		t.Errorf("tasks delete printed %q", out)
	}
	as := audits()
	if len(as) != n+5 {
		t.Fatalf("%d audit rows, want %d", len(as), n+5)
	}
	for i, action := range []string{models.AuditDelete, models.AuditEnable, models.AuditDisable, models.AuditUpdate, models.AuditCreate} {
		a := as[i]
		if a.Action != action || a.Actor != "cli:"+osUser() || a.Source != models.AuditSourceCLI || a.TaskID != 6 || a.TaskKey != "from_file" {
			t.Errorf("audit row %d: %+v, want %s by cli:%s", i, a, action, osUser())
		}
	}
	if !strings.Contains(string(as[3].Before), `"spec":"0 9 * * *"`) || !strings.Contains(string(as[3].After), `"spec":"0 10 * * *"`) || as[0].After != "" {
		t.Errorf("audit before/after: %+v", as[:4])
	}

	// Refused, and nothing written: a bad spec; a key an enabled row holds.
	for _, args := range [][]string{
		{"tasks", "edit", "ny_open", "--spec", "61 * * * *"},
		{"tasks", "create", "--key", "x", "--func", "test_nope", "--spec", "* * * * *"},
		{"tasks", "edit", "5", "--desc", "x"}, // the second "report": row 1 holds the key
	} {
		_, code, err := cli(t, args...)
		if code != exitError || err == nil || !strings.Contains(err.Error(), "nothing written") {
			t.Errorf("%v: %v (exit %d)", args, err, code)
		}
	}
	cliOK(t, "tasks", "disable", "report")
	if _, _, err := cli(t, "tasks", "enable", "1"); err == nil || !strings.Contains(err.Error(), `task_key: "report" is already used by task row 5`) {
		t.Errorf("enable of a row whose key another enabled row holds: %v", err)
	}
	if len(audits()) != n+6 {
		t.Errorf("a refused edit was audited")
	}
}

// TestCLI_ExitCodes: 2 for a command line that cannot be read, 1 for a
// command that failed, 3 for validate (see TestCLI_Database).
func TestCLI_ExitCodes(t *testing.T) {
	t.Setenv(envServer, "")
	tests := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"tasks", "frobnicate"}, exitUsage, `unknown command "frobnicate" for "taskrunner tasks"`},
		{[]string{"tasks", "show"}, exitUsage, "want 1 argument(s)"},
		{[]string{"runs", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{[]string{"runs", "--limit", "0"}, exitUsage, "--limit: want 1 to 1000"},
		{[]string{"backfill", "k", "--from", "2026-01-01"}, exitUsage, `required flag(s) "to" not set`},
		{[]string{"trigger", "report"}, exitUsage, "trigger needs a running daemon: give its API with --server URL"},
		{[]string{"trigger", "--", "1"}, exitUsage, "want the task's key"},
		{[]string{"kill", "12"}, exitUsage, "kill needs a running daemon"},
		{[]string{"kill", "twelve"}, exitUsage, "want a run id"},
		{[]string{"backfill", "k", "--from", "2026-01-01", "--to", "2026-01-02"}, exitUsage, "backfill needs a running daemon"},
		{[]string{"next"}, exitUsage, "give a task key, or --spec"},
		{[]string{"next", "k", "--spec", "5"}, exitUsage, "not both"},
		{[]string{"tasks", "create", "--key", "k"}, exitUsage, "create needs --func, --spec"},
		{[]string{"tasks", "edit", "k"}, exitUsage, "nothing to change"},
		{[]string{"tasks", "list", "--server", "ftp://x"}, exitUsage, "--server: want the API's URL"},
		{[]string{"next", "--spec", "61 * * * *"}, exitError, "end of range"},
		{[]string{"tasks", "list", "--server", "http://127.0.0.1:1"}, exitError, "server:"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, code, err := cli(t, tt.args...)
			if code != tt.code || err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("exit %d, want %d; err = %v, want %q", code, tt.code, err, tt.says)
			}
			if out != "" {
				t.Errorf("printed %q; errors are for main to print", out)
			}
		})
	}
	if exitCode(nil) != exitOK {
		t.Error("exitCode(nil) is not 0")
	}
}
