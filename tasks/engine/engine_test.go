package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"taskrunner/libs/phrase"
	"taskrunner/libs/trigger"
	"taskrunner/models"
	"taskrunner/models/modelstest"
	"taskrunner/tasks"
)

// start is the fake clock's first instant: one second past a minute, so
// an interval of 5s first fires at 00:00:05.
var start = time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)

type harness struct {
	t     *testing.T
	db    *models.DB
	clock *clockwork.FakeClock
	e     *Engine
	live  bool // started, not shut down or killed
	// tickers is how many clock tickers the engine's services keep.
	tickers int
	// newExec, when set before setupClock builds the engine, builds the
	// executor in place of the in-process runner.
	newExec func(h *harness, db *models.DB, reg *tasks.Registry, rec Recorder) Executor
	runs    chan recordedRun
	fires   chan time.Time
	logs    *lockedBuffer
	// release unblocks the "block" task function; started hears it start.
	release     chan struct{}
	started     chan struct{}
	releaseOnce sync.Once
	// workers kill, each, a worker started beside the engine.
	workers []func()
	// What the engine was built with, for workers beside it.
	reg *tasks.Registry
	cfg Config
	log *slog.Logger
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the decoded log lines whose msg is msg.
func (l *lockedBuffer) lines(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

type pair struct {
	N    int
	Word string
}

func setup(t *testing.T, db *models.DB) *harness {
	t.Helper()
	return setupClock(t, db, clockwork.NewFakeClockAt(start))
}

// setupClock builds an engine on clock; engines sharing a clock are
// replicas seeing the same instants. tune, if given, may change the
// config and register more functions before the engine is built.
func setupClock(t *testing.T, db *models.DB, clock *clockwork.FakeClock, tune ...func(*Config, *tasks.Registry)) *harness {
	t.Helper()
	return setupExec(t, db, clock, nil, tune...)
}

// setupExec is setupClock with an executor built by newExec in place of
// the in-process runner.
func setupExec(t *testing.T, db *models.DB, clock *clockwork.FakeClock, newExec func(*harness, *models.DB, *tasks.Registry, Recorder) Executor,
	tune ...func(*Config, *tasks.Registry)) *harness {
	t.Helper()
	return setupOpts(t, db, clock, newExec, nil, tune...)
}

// setupOpts is setupExec with more engine options.
func setupOpts(t *testing.T, db *models.DB, clock *clockwork.FakeClock, newExec func(*harness, *models.DB, *tasks.Registry, Recorder) Executor,
	more []Option, tune ...func(*Config, *tasks.Registry)) *harness {
	t.Helper()
	h := &harness{t: t, db: db, clock: clock, runs: make(chan recordedRun, 1000), fires: make(chan time.Time, 1000),
		logs: &lockedBuffer{}, release: make(chan struct{}), started: make(chan struct{}, 100), newExec: newExec}
	reg := tasks.NewRegistry()
	must(t, reg.Add("record", func(ctx context.Context, run *tasks.Run) error {
		run.Logger.Info("record ran")
		run.Printf("args=%s", run.Args)
		return nil
	}))
	must(t, reg.Add("other", func(ctx context.Context, run *tasks.Run) error {
		run.Printf("other")
		return nil
	}))
	must(t, reg.Add("boom", func(ctx context.Context, run *tasks.Run) error { panic("kaboom") }))
	must(t, reg.Add("fail", func(ctx context.Context, run *tasks.Run) error { return errors.New("it broke") }))
	must(t, reg.Add("skip", func(ctx context.Context, run *tasks.Run) error {
		return fmt.Errorf("nothing new: %w", tasks.ErrSkipped)
	}))
	must(t, reg.Add("wait", func(ctx context.Context, run *tasks.Run) error {
		h.started <- struct{}{}
		<-ctx.Done() // honours its context
		return ctx.Err()
	}))
	must(t, reg.Add("flaky", func(ctx context.Context, run *tasks.Run) error {
		if run.Attempt == 1 && run.ScheduledAt.Equal(start.Add(59*time.Second)) {
			h.started <- struct{}{}
			<-h.release // the first attempt of the first fire hangs, as on a dying host
		}
		return nil
	}))
	must(t, reg.Add("noretry", func(ctx context.Context, run *tasks.Run) error {
		return tasks.NoRetry(errors.New("bad input"))
	}))
	must(t, reg.Add("block", func(ctx context.Context, run *tasks.Run) error {
		h.started <- struct{}{}
		<-h.release // ignores its context on purpose
		return nil
	}))
	must(t, tasks.AddTyped(reg, "pair", func(ctx context.Context, run *tasks.Run, p pair) error {
		run.Printf("%d %s", p.N, p.Word)
		return nil
	}))
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := DefaultConfig()
	cfg.ShutdownTimeout, cfg.MisfireGrace = 2*time.Second, time.Second
	for _, f := range tune {
		f(&cfg, reg)
	}
	opts := []Option{WithClock(h.clock), WithObserver(testObserver{runs: h.runs, fires: h.fires})}
	if h.newExec != nil {
		opts = append(opts, WithExecutor(func(rec Recorder) Executor { return h.newExec(h, db, reg, rec) }))
	}
	h.reg, h.cfg, h.log = reg, cfg, log
	e, err := New(cfg, db, reg, log, append(opts, more...)...)
	must(t, err)
	h.e = e
	h.tickers = tickers
	if e.sweeper != nil {
		h.tickers++
	}
	if e.runner != nil {
		e.runner.timeoutGrace = time.Second
	} else {
		h.tickers-- // the executor counts its own
	}
	must(t, e.Start(t.Context()))
	h.live = true
	clockTickers(clock).Add(int32(h.tickers))
	t.Cleanup(func() {
		h.releaseAll()
		h.shutdown()
		if t.Failed() {
			h.logs.mu.Lock()
			t.Logf("engine log:\n%s", h.logs.b.String())
			h.logs.mu.Unlock()
		}
	})
	return h
}

// recordedRun is a run whose outcome was written.
type recordedRun struct {
	Job    Job
	Status string
	Error  string
}

// testObserver hands tests the engine's recorded runs and claimed fires.
type testObserver struct {
	NopObserver
	runs  chan recordedRun
	fires chan time.Time
}

func (o testObserver) RunFinished(j Job, f models.Finish) {
	o.runs <- recordedRun{Job: j, Status: f.Status, Error: f.Error}
}

func (o testObserver) FireClaimed(_ string, at time.Time, _, _ int) { o.fires <- at }

// tickers is how many clock tickers an engine's services keep: the
// registry's beat, the rescuer, the retrier, the runner's leases and the
// dispatcher's gap loop. advance counts them on top of the timers a test
// waits for.
const tickers = 5

var tickersOn sync.Map // *clockwork.FakeClock -> *atomic.Int32: the tickers of live services on it

func clockTickers(c *clockwork.FakeClock) *atomic.Int32 {
	n, _ := tickersOn.LoadOrStore(c, new(atomic.Int32))
	return n.(*atomic.Int32)
}

// releaseAll lets the blocked functions return.
func (h *harness) releaseAll() { h.releaseOnce.Do(func() { close(h.release) }) }

// shutdown shuts the engine down, once.
func (h *harness) shutdown() {
	h.t.Helper()
	if h.live {
		h.live = false
		clockTickers(h.clock).Add(-int32(h.tickers))
		must(h.t, h.e.Shutdown())
	}
}

// kill stops the engine as SIGKILL would: no more fires, heartbeats,
// lease renewals or rescues, and nothing said to the database. Its
// functions still running go on, their outcomes unrecorded.
func (h *harness) kill() {
	h.t.Helper()
	if !h.live {
		return
	}
	h.live = false
	clockTickers(h.clock).Add(-int32(h.tickers))
	e := h.e
	e.timer.Stop()
	e.dispatcher.Stop()
	e.registry.halt()
	e.rescuer.Stop()
	e.retrier.Stop()
	if e.sweeper != nil {
		e.sweeper.Stop()
	}
	if e.runner != nil {
		e.runner.leases.Stop()
	}
	e.started = false
}

// stopFiring stops the engine's timers only: it stays alive (beats,
// renews leases, records), but fires nothing more.
func (h *harness) stopFiring() { h.e.timer.Stop() }

// rescue beats and runs the rescuer once, as their loops would (a fake
// clock's tickers do not wait for their goroutines).
func (h *harness) rescue() {
	h.t.Helper()
	must(h.t, h.e.registry.beat(context.Background()))
	must(h.t, h.e.rescuer.RescueOnce(context.Background()))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (h *harness) insert(key, trig, spec, fn, args, extra string) int64 {
	h.t.Helper()
	id, err := models.InsertTask(context.Background(), h.db, models.Task{
		Key: key, Desc: key, Func: fn, Trigger: trig, Spec: spec, Args: args, IsValid: 1, Extra: extra,
	})
	must(h.t, err)
	h.stamp(id)
	return id
}

// stamp sets a row's update_at to the fake clock's time, as the database
// would in production: the misfire window starts at the last edit.
func (h *harness) stamp(id int64) {
	h.t.Helper()
	h.exec("UPDATE task SET update_at = ? WHERE id = ?", h.clock.Now().UTC().Truncate(time.Second).Format("2006-01-02 15:04:05"), id)
}

// fired waits for n fires to be dispatched.
func (h *harness) fired(n int) {
	h.t.Helper()
	for range n {
		select {
		case <-h.fires:
		case <-time.After(20 * time.Second):
			h.t.Fatal("fire not dispatched")
		}
	}
}

func (h *harness) exec(query string, args ...any) {
	h.t.Helper()
	_, err := h.db.Exec(query, args...)
	must(h.t, err)
}

// sync syncs once, then renews leases, rescues, starts due attempts and
// settles gaps once, as the loops of the runner, the rescuer, the retrier
// and the dispatcher would.
func (h *harness) sync() SyncReport {
	h.t.Helper()
	must(h.t, h.e.SyncOnce(context.Background()))
	if h.e.runner != nil && h.live {
		must(h.t, h.e.runner.leases.renew(context.Background()))
	}
	h.rescue()
	must(h.t, h.e.retrier.startDue(context.Background()))
	h.e.dispatcher.settleGaps(context.Background())
	return h.e.LastSync()
}

func (h *harness) task(id int64) models.Task {
	h.t.Helper()
	t, err := models.GetTask(context.Background(), h.db, id)
	must(h.t, err)
	return t
}

// advance waits until gocron has armed `timers` timers, then moves the
// clock. Waiting on the fake clock's waiters is what lets the test never
// sleep.
func (h *harness) advance(timers int, d time.Duration) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.clock.BlockUntilContext(ctx, int(clockTickers(h.clock).Load())+timers); err != nil {
		h.t.Fatalf("waiting for %d timers: %v", timers, err)
	}
	h.clock.Advance(d)
}

// wait returns the next n recorded runs.
func (h *harness) wait(n int) []recordedRun {
	h.t.Helper()
	var out []recordedRun
	deadline := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case r := <-h.runs:
			out = append(out, r)
		case <-deadline:
			h.t.Fatalf("got %d of %d runs: %+v", len(out), n, out)
		}
	}
	return out
}

// waitStarted waits for a blocking task function to start.
func (h *harness) waitStarted() {
	h.t.Helper()
	select {
	case <-h.started:
	case <-time.After(20 * time.Second):
		h.t.Fatal("run never started")
	}
}

func (h *harness) history(taskID int64) []models.ExecuteTask {
	h.t.Helper()
	runs, err := models.ListRuns(context.Background(), h.db, taskID, 100)
	must(h.t, err)
	return runs
}

func TestEngine_IntervalTaskRuns(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		id := h.insert("tick", "interval", "5", "record", "1,2,3", "")
		rep := h.sync()
		if rep.Changed != 1 || rep.Groups != 1 {
			t.Fatalf("first sync: %+v", rep)
		}
		row := h.task(id)
		if row.Status != models.TaskReady || row.AppliedSpec != "interval 5s" || row.SchedError != "" ||
			!row.NextFireAt.Time.Equal(start.Add(4*time.Second)) {
			t.Fatalf("row after sync: status %q applied %q error %q next %v", row.Status, row.AppliedSpec, row.SchedError, row.NextFireAt.Time)
		}

		h.advance(1, 4*time.Second)
		r := h.wait(1)[0]
		h.advance(1, 5*time.Second)
		h.wait(1)
		if r.Status != models.RunSuccess || r.Job.ScheduledAt != start.Add(4*time.Second) {
			t.Fatalf("first run %+v", r)
		}
		runs := h.history(id)
		if len(runs) != 2 {
			t.Fatalf("history has %d runs, want 2", len(runs))
		}
		first := runs[1]
		if _, err := uuid.Parse(first.TraceID); err != nil {
			t.Errorf("trace id %q: %v", first.TraceID, err)
		}
		if first.Status != models.RunSuccess || first.Output != "args=[1,2,3]" || first.TaskKey != "tick" ||
			!first.ScheduledAt.Time.Equal(start.Add(4*time.Second)) || !first.StartedAt.Valid || !first.FinishedAt.Valid ||
			first.Attempt != 1 || first.Source != models.SourceSchedule || first.Host == "" {
			t.Errorf("history row %+v", first)
		}
		if runs[0].ScheduledAt.Time.Sub(first.ScheduledAt.Time) != 5*time.Second {
			t.Errorf("second fire at %v, first at %v", runs[0].ScheduledAt.Time, first.ScheduledAt.Time)
		}
		row = h.task(id)
		// A 5 s schedule writes its fires to its rows every 10 s only: the
		// row still says the first fire, 00:00:05.
		if row.Status != models.TaskReady || row.LastStatus != models.RunSuccess || !row.LastFireAt.Time.Equal(start.Add(4*time.Second)) {
			t.Errorf("row after runs: %+v", row)
		}
		// Every line of a run carries the task key and trace id.
		for _, msg := range []string{"run started", "record ran", "run finished"} {
			lines := h.logs.lines(msg)
			if len(lines) != 2 {
				t.Fatalf("%d %q lines, want 2", len(lines), msg)
			}
			for _, l := range lines {
				if l["task_key"] != "tick" || l["trace_id"] == nil || l["trace_id"] == "" {
					t.Errorf("log line without task key or trace id: %v", l)
				}
			}
		}
	})
}

// Any field of the row may change; the change applies at the next sync,
// and a sync with nothing changed does nothing.
func TestEngine_EditsApply(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		id := h.insert("edit", "interval", "5", "record", "1", "")
		h.sync()
		h.advance(1, 4*time.Second) // 00:00:05
		if r := h.wait(1)[0]; r.Job.Func != "record" {
			t.Fatalf("ran %q", r.Job.Func)
		}
		// The row was last edited long before the previous sync: an idle
		// sync does not even read it.
		if rep := h.sync(); rep.Changed != 0 || rep.Read != 0 || rep.Full {
			t.Fatalf("sync with nothing edited: %+v", rep)
		}

		h.exec("UPDATE task SET execute_func = 'other', args = '2', `trigger` = 'cron', spec = '*/10 * * * * *' WHERE id = ?", id)
		if rep := h.sync(); rep.Changed != 1 {
			t.Fatalf("edit not seen: %+v", rep)
		}
		if row := h.task(id); row.AppliedSpec != "cron */10 * * * * *" || !row.NextFireAt.Time.Equal(start.Add(9*time.Second)) {
			t.Fatalf("after edit: applied %q next %v", row.AppliedSpec, row.NextFireAt.Time)
		}
		h.advance(1, 5*time.Second) // 00:00:10
		r := h.wait(1)[0]
		if r.Job.Func != "other" || r.Job.Args.String() != "[2]" || r.Job.ScheduledAt != start.Add(9*time.Second) {
			t.Fatalf("after edit ran %+v", r.Job)
		}

		// Disable: no more fires, the row says so.
		h.exec("UPDATE task SET is_valid = 0 WHERE id = ?", id)
		if rep := h.sync(); rep.Groups != 0 {
			t.Fatalf("disabled task still scheduled: %+v", rep)
		}
		if row := h.task(id); row.Status != models.TaskDisabled || row.NextFireAt.Valid {
			t.Fatalf("disabled row: %q next %v", row.Status, row.NextFireAt)
		}
		// Re-enable, then delete.
		h.exec("UPDATE task SET is_valid = 1 WHERE id = ?", id)
		if rep := h.sync(); rep.Groups != 1 {
			t.Fatalf("re-enabled task not scheduled: %+v", rep)
		}
		h.exec("DELETE FROM task WHERE id = ?", id)
		if rep := h.sync(); rep.Removed != 1 || rep.Groups != 0 || rep.Tasks != 0 {
			t.Fatalf("deleted task: %+v", rep)
		}
	})
}

func TestEngine_BadRowsSayWhy(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		good := h.insert("good", "interval", "5", "record", "", "")
		bad := map[string]struct {
			id   int64
			want string
		}{}
		for _, c := range []struct{ key, trig, spec, fn, args, extra, want string }{
			{"bad_trigger", "weekly", "5", "record", "", "", "column trigger: unknown trigger \"weekly\""},
			{"bad_cron", "cron", "61 * * * *", "record", "", "", "column spec: bad spec: cron \"61 * * * *\""},
			{"bad_interval", "interval", "soon", "record", "", "", "column spec: bad spec: interval \"soon\""},
			{"bad_date", "date", "2026-13-01 00:00:00", "record", "", "", "column spec: bad spec: date 1"},
			{"bad_func", "interval", "5", "nope", "", "", "column execute_func: unknown execute_func \"nope\""},
			{"bad_args", "interval", "5", "record", "a,b", "", "column args: bad args \"a,b\""},
			{"bad_typed_args", "interval", "5", "pair", `"x","y"`, "", "column args: bad args: value 1 (\"x\") for engine.pair.N"},
			{"bad_extra", "interval", "5", "record", "", "{oops", "column extra: not a JSON object"},
			{"bad_zone", "interval", "5", "record", "", `{"timezone":"Mars/Olympus"}`, "column extra: key \"timezone\": unknown time zone \"Mars/Olympus\""},
			{"bad_timeout", "interval", "5", "record", "", `{"timeout":"soon"}`, "column extra: key \"timeout\""},
			{"bad_misfire", "interval", "5", "record", "", `{"misfire":"sometimes"}`, "column extra: key \"misfire\": want one of skip, once, all, got \"sometimes\""},
			{"bad_overlap", "interval", "5", "record", "", `{"overlap":"queue"}`, "column extra: key \"overlap\": want one of allow, forbid, replace"},
			{"bad_retries", "interval", "5", "record", "", `{"max_retries":-1}`, "column extra: key \"max_retries\": must not be negative"},
			{"bad_retry_type", "interval", "5", "record", "", `{"max_retries":"3"}`, "column extra: key \"max_retries\""},
			{"bad_backoff", "interval", "5", "record", "", `{"retry_backoff":"linear"}`, "column extra: key \"retry_backoff\""},
		} {
			bad[c.key] = struct {
				id   int64
				want string
			}{h.insert(c.key, c.trig, c.spec, c.fn, c.args, c.extra), c.want}
		}
		for range 3 {
			h.sync()
		}
		for key, b := range bad {
			row := h.task(b.id)
			if row.Status != models.TaskError || !strings.Contains(row.SchedError, b.want) {
				t.Errorf("%s: status %q error %q; want error containing %q", key, row.Status, row.SchedError, b.want)
			}
		}
		if n := len(h.logs.lines("task not scheduled")); n != len(bad) {
			t.Errorf("%d 'task not scheduled' log lines after 3 syncs, want one per bad row (%d)", n, len(bad))
		}
		// The good task runs all the same.
		h.advance(1, 4*time.Second)
		if r := h.wait(1)[0]; r.Job.TaskID != good {
			t.Fatalf("ran %+v", r.Job)
		}
		// Fixing a row schedules it at the next sync.
		h.exec("UPDATE task SET spec = '*/5 * * * * *' WHERE id = ?", bad["bad_cron"].id)
		h.sync()
		if row := h.task(bad["bad_cron"].id); row.Status != models.TaskReady || row.SchedError != "" {
			t.Fatalf("fixed row: %q %q", row.Status, row.SchedError)
		}
		h.advance(1, 5*time.Second) // both fire at 00:00:10, in one group
		got := map[int64]bool{}
		for _, r := range h.wait(2) {
			got[r.Job.TaskID] = true
		}
		if !got[good] || !got[bad["bad_cron"].id] {
			t.Fatalf("runs after fix: %v", got)
		}
	})
}

func TestEngine_FailuresAreRecorded(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		boom := h.insert("boom", "interval", "5", "boom", "", "")
		fail := h.insert("fail", "interval", "5", "fail", "", "")
		skip := h.insert("skip", "interval", "5", "skip", "", "")
		h.sync()
		h.advance(1, 4*time.Second)
		h.wait(3)
		for id, want := range map[int64][2]string{
			boom: {models.RunFailed, "panic: kaboom"},
			fail: {models.RunFailed, "it broke"},
			skip: {models.RunSkipped, "nothing new: skipped"},
		} {
			r := h.history(id)[0]
			if r.Status != want[0] || !strings.HasPrefix(string(r.Error), want[1]) {
				t.Errorf("task %d: %q %q, want %q %q", id, r.Status, r.Error, want[0], want[1])
			}
		}
		if r := h.history(boom)[0]; !strings.Contains(string(r.Error), "goroutine") {
			t.Errorf("panic recorded without its stack: %q", r.Error)
		}
		// The daemon is still firing.
		h.advance(1, 5*time.Second)
		h.wait(3)
	})
}

// A one-shot date runs once; a second engine on the same table (a
// restart) does not run it again.
func TestEngine_DateRunsOnce(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		id := h.insert("once", "date", "2026-01-01 00:00:03, 2026-01-01 00:00:06", "record", "", "")
		h.sync()
		h.advance(1, 2*time.Second) // 00:00:03
		h.wait(1)
		if row := h.task(id); row.Status != models.TaskReady {
			t.Fatalf("after first date: %q", row.Status)
		}
		h.advance(1, 3*time.Second) // 00:00:06, the last
		h.wait(1)
		row := h.task(id)
		if row.Status != models.TaskDone || row.NextFireAt.Valid {
			t.Fatalf("after last date: %q next %v", row.Status, row.NextFireAt)
		}
		h.sync()
		if row := h.task(id); row.Status != models.TaskDone || row.SchedError != "" {
			t.Fatalf("resync of a finished date task: %q %q", row.Status, row.SchedError)
		}

		// A restarted engine at the same instant: nothing left to fire.
		h2 := setup(t, db)
		h2.clock.Advance(5 * time.Second)
		if rep := h2.sync(); rep.Groups != 0 {
			t.Fatalf("restarted engine scheduled a finished date task: %+v", rep)
		}
		if n := len(h.history(id)); n != 2 {
			t.Fatalf("%d runs, want 2", n)
		}
	})
}

// Two engines on one table: each fire runs once.
func TestEngine_ReplicasClaimOnce(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		a := setup(t, db)
		b := setupClock(t, db, a.clock)
		const n = 20
		for i := range n {
			a.insert(fmt.Sprintf("t%d", i), "interval", "5", "record", "", "")
		}
		a.sync()
		b.sync()
		for fire := range 3 {
			d := 5 * time.Second
			if fire == 0 {
				d = 4 * time.Second // from 00:00:01 to the first fire
			}
			a.advance(2, d) // one timer per replica
			// Each fire's n runs are split between the two replicas.
			got := 0
			deadline := time.After(20 * time.Second)
			for got < n {
				select {
				case <-a.runs:
				case <-b.runs:
				case <-deadline:
					t.Fatalf("fire %d: %d of %d runs", fire, got, n)
				}
				got++
			}
		}
		var pairs []struct {
			TaskID int64     `db:"task_id"`
			At     time.Time `db:"scheduled_at"`
			N      int       `db:"n"`
		}
		must(t, db.Select(&pairs, "SELECT task_id, scheduled_at, COUNT(*) AS n FROM execute_task GROUP BY task_id, scheduled_at"))
		if len(pairs) != 3*n {
			t.Fatalf("%d distinct (task, fire) pairs, want %d", len(pairs), 3*n)
		}
		for _, p := range pairs {
			if p.N != 1 {
				t.Fatalf("task %d fire %v ran %d times", p.TaskID, p.At, p.N)
			}
		}
	})
}

func TestEngine_Timeout(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		// "block" ignores its context: it is recorded as timed out all the
		// same, after the grace period, and the engine does not wait on it.
		id := h.insert("stuck", "interval", "5", "block", "", `{"timeout": "2s"}`)
		h.sync()
		h.advance(1, 4*time.Second) // 00:00:05: the run starts
		h.waitStarted()
		h.advance(2, 2*time.Second) // group timer + the run's deadline
		h.advance(2, time.Second)   // group timer + the grace period
		r := h.wait(1)[0]
		if r.Status != models.RunTimeout || r.Error != "timeout after 2s; the function did not return" {
			t.Fatalf("run %+v", r)
		}
		if row := h.history(id)[0]; row.Status != models.RunTimeout {
			t.Fatalf("history %+v", row)
		}
	})
}

func TestEngine_ShutdownInterruptsRuns(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		h.e.cfg.ShutdownTimeout = 100 * time.Millisecond
		h.e.runner.timeoutGrace = 100 * time.Millisecond
		id := h.insert("long", "interval", "5", "block", "", "")
		h.sync()
		h.advance(1, 4*time.Second)
		select {
		case <-h.started:
		case <-time.After(10 * time.Second):
			t.Fatal("run never started")
		}
		h.shutdown()
		r := h.history(id)[0]
		if r.Status != models.RunInterrupted || !strings.Contains(string(r.Error), "shutting down") || !r.FinishedAt.Valid {
			t.Fatalf("after shutdown: %+v", r)
		}
	})
}

// A text row is scheduled by the canonical form of its phrase, which is
// written back; a phrase not understood is refused with the parser's words.
func TestEngine_TextTrigger(t *testing.T) {
	trigger.SetTextFunc(phrase.Parse)
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		ok := h.insert("words", "text", "每5秒", "record", "", "")
		bad := h.insert("mumble", "text", "每天xx点", "record", "", "")
		h.sync()
		if row := h.task(ok); row.AppliedSpec != "interval 5s" || row.Status != models.TaskReady {
			t.Fatalf("text row: %q %q %q", row.AppliedSpec, row.Status, row.SchedError)
		}
		if row := h.task(bad); row.Status != models.TaskError || !strings.Contains(row.SchedError, `cannot understand "每天xx点"`) {
			t.Fatalf("bad phrase: %q %q", row.Status, row.SchedError)
		}
		h.advance(1, 4*time.Second)
		if r := h.wait(1)[0]; r.Job.TaskID != ok {
			t.Fatalf("ran %+v", r.Job)
		}
	})
}

// Editing or disabling a row while it runs does not touch the run.
func TestEngine_EditDoesNotInterruptARun(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		h.e.cfg.ShutdownTimeout = 100 * time.Millisecond // the run is still going at cleanup
		id := h.insert("busy", "interval", "5", "wait", "", "")
		h.sync()
		h.advance(1, 4*time.Second)
		h.waitStarted()
		h.exec("UPDATE task SET spec = '60', args = '1' WHERE id = ?", id)
		h.sync()
		h.exec("UPDATE task SET is_valid = 0 WHERE id = ?", id)
		h.sync()
		if runs := h.history(id); len(runs) != 1 || runs[0].Status != models.RunRunning {
			t.Fatalf("after edits: %+v", runs)
		}
		select {
		case r := <-h.runs:
			t.Fatalf("run ended by an edit: %+v", r)
		default:
		}
	})
}

// A schedule made in the first half of a second claims its first fire,
// the next second, at the claim point as usual: gocron would time its
// first run a period later (its DST check compares times to the second).
func TestEngine_NewScheduleClaimsFirstFireOnTime(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db) // 00:00:01.000
		h.e.cfg.ClaimAhead = 500 * time.Millisecond
		id := h.insert("every", "cron", "* * * * * *", "record", "", `{"overlap":"allow"}`)
		h.sync()
		h.advance(2, 500*time.Millisecond) // the claim point of 00:00:02
		deadline := time.Now().Add(10 * time.Second)
		for len(h.history(id)) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("00:00:02 not claimed at 00:00:01.5")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if runs := h.history(id); !runs[0].ScheduledAt.Time.Equal(start.Add(time.Second)) {
			t.Fatalf("claimed %v", runs[0].ScheduledAt.Time)
		}
		if n := len(h.logs.lines("fire came late")); n != 0 {
			t.Fatalf("%d late fires", n)
		}
		h.clock.Advance(500 * time.Millisecond) // its time: the run is let go
		if r := h.wait(1)[0]; !r.Job.ScheduledAt.Equal(start.Add(time.Second)) || r.Status != models.RunSuccess {
			t.Fatalf("run %+v", r)
		}
	})
}
