package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/libs/notice"
	"taskrunner/models"
	"taskrunner/models/modelstest"
	"taskrunner/tasks"
	"taskrunner/tasks/alert"
	"taskrunner/tasks/engine"
)

// start is one second past a minute: an interval of 5s fires at
// 00:00:05, 00:00:10, …
var start = time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)

// engineTickers is how many clock tickers a started engine keeps.
const engineTickers = 5

// robot is a local generic-webhook receiver.
type robot struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []notice.Message
}

func newRobot(t *testing.T, handle func(w http.ResponseWriter)) *robot {
	t.Helper()
	r := &robot{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var b notice.Batch
		if err := json.NewDecoder(req.Body).Decode(&b); err != nil {
			t.Errorf("robot: %v", err)
		}
		r.mu.Lock()
		r.msgs = append(r.msgs, b.Messages...)
		r.mu.Unlock()
		if handle != nil {
			handle(w)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *robot) messages() []notice.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notice.Message(nil), r.msgs...)
}

// finished tells the test each run the engine recorded.
type finished struct {
	engine.NopObserver
	ch      chan models.Finish
	skipped chan string
}

func (f finished) RunFinished(_ engine.Job, fin models.Finish) { f.ch <- fin }

func (f finished) Skipped(_ string, _ time.Time, reason string) { f.skipped <- reason }

type fixture struct {
	t       *testing.T
	db      *models.DB
	clock   *clockwork.FakeClock
	e       *engine.Engine
	n       *notice.Notifier
	a       *alert.Alerts
	runs    chan models.Finish
	skipped chan string
	healthy atomic.Bool // the "flip" function succeeds while set
	release chan struct{}
	holding chan struct{}
	stopped bool
}

// setup builds an engine on a fake clock whose alerts go, by cfg, to the
// webhook at url.
func setup(t *testing.T, db *models.DB, url string, cfg alert.Config) *fixture {
	t.Helper()
	f := &fixture{t: t, db: db, clock: clockwork.NewFakeClockAt(start), runs: make(chan models.Finish, 100),
		skipped: make(chan string, 10),
		release: make(chan struct{}), holding: make(chan struct{}, 10)}
	reg := tasks.NewRegistry()
	must(t, reg.Add("ok", func(context.Context, *tasks.Run) error { return nil }))
	must(t, reg.Add("fail", func(context.Context, *tasks.Run) error { return errors.New("disk full") }))
	must(t, reg.Add("flip", func(context.Context, *tasks.Run) error {
		if f.healthy.Load() {
			return nil
		}
		return errors.New("upstream down")
	}))
	must(t, reg.Add("hold", func(context.Context, *tasks.Run) error {
		f.holding <- struct{}{}
		<-f.release
		return nil
	}))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ncfg := notice.DefaultConfig()
	ncfg.TaskInterval, ncfg.MaxAttempts, ncfg.RetryDelay, ncfg.Timeout = 0, 2, 100*time.Millisecond, time.Second
	ncfg.Webhook.URL = url
	n, err := notice.New(ncfg, notice.WithLogger(log))
	must(t, err)
	a, err := alert.New(db, cfg, time.UTC, n, log)
	must(t, err)
	n.Start()
	a.Start()
	ecfg := engine.DefaultConfig()
	ecfg.ShutdownTimeout = 2 * time.Second
	e, err := engine.New(ecfg, db, reg, log, engine.WithClock(f.clock),
		engine.WithObserver(a), engine.WithObserver(finished{ch: f.runs, skipped: f.skipped}))
	must(t, err)
	must(t, e.Start(context.Background()))
	f.e, f.n, f.a = e, n, a
	t.Cleanup(func() { f.stop() })
	return f
}

func (f *fixture) insert(key, fn, extra string) {
	f.t.Helper()
	_, err := models.InsertTask(context.Background(), f.db, models.Task{Key: key, Desc: "the " + key + " task",
		Func: fn, Trigger: "interval", Spec: "5", IsValid: 1, Extra: extra})
	must(f.t, err)
}

// fire moves the clock to the next 5-second fire (timers: the gocron
// timers armed) and waits for n runs to be recorded.
func (f *fixture) fire(timers, n int) []string {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(f.t, f.clock.BlockUntilContext(ctx, engineTickers+timers))
	f.clock.Advance(5 * time.Second)
	var sts []string
	for range n {
		select {
		case fin := <-f.runs:
			sts = append(sts, fin.Status)
		case <-time.After(20 * time.Second):
			f.t.Fatalf("%d of %d runs recorded", len(sts), n)
		}
	}
	return sts
}

// stop shuts the engine down, then lets the alerts and the notifier send
// what they hold: the robot has then seen every alert.
func (f *fixture) stop() {
	if f.stopped {
		return
	}
	f.stopped = true
	close(f.release)
	must(f.t, f.e.Shutdown())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(f.t, f.a.Stop(ctx))
	_ = f.n.Stop(ctx)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func statuses(ms []notice.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.TaskKey+": "+m.Status)
	}
	return out
}

func TestAlerts_FailedRun(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		r := newRobot(t, nil)
		cfg := alert.DefaultConfig()
		cfg.ConsoleURL = "https://console.example/taskrunner/"
		f := setup(t, db, r.srv.URL, cfg)
		f.insert("nightly", "fail", `{"timezone": "Asia/Shanghai"}`)
		f.insert("fine", "ok", "")
		must(t, f.e.SyncOnce(context.Background()))
		f.fire(1, 2)
		f.stop()

		ms := r.messages()
		if len(ms) != 1 {
			t.Fatalf("alerts %v, want one", statuses(ms))
		}
		m := ms[0]
		if m.TaskKey != "nightly" || m.TaskDesc != "the nightly task" || m.Status != "failed" ||
			!strings.Contains(m.Error, "disk full") || m.RunID == 0 || m.TraceID == "" {
			t.Fatalf("alert %+v", m)
		}
		if m.ScheduledAt != "2026-01-01 08:00:05 CST" {
			t.Errorf("scheduled_at %q, want the task's zone", m.ScheduledAt)
		}
		if want := "https://console.example/taskrunner/#/runs/"; !strings.HasPrefix(m.Link, want) ||
			m.Link != want+itoa(m.RunID) {
			t.Errorf("link %q", m.Link)
		}
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// With after = 3, four failures in a row alert once (the third); the
// first success after them alerts a recovery.
func TestAlerts_StreakThenRecovery(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		r := newRobot(t, nil)
		cfg := alert.DefaultConfig()
		cfg.After = 3
		f := setup(t, db, r.srv.URL, cfg)
		f.insert("sync_orders", "flip", "")
		must(t, f.e.SyncOnce(context.Background()))
		for range 4 {
			if st := f.fire(1, 1); st[0] != models.RunFailed {
				t.Fatalf("run %v", st)
			}
		}
		f.healthy.Store(true)
		f.fire(1, 1)
		f.fire(1, 1) // a second success: no second recovery
		f.stop()

		got := statuses(r.messages())
		want := []string{"sync_orders: failed, 3 failures in a row", "sync_orders: recovered after 4 failures"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("alerts %q, want %q", got, want)
		}
	})
}

// Fewer failures than after neither alert nor make a recovery alert.
func TestAlerts_ShortStreakIsQuiet(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		r := newRobot(t, nil)
		cfg := alert.DefaultConfig()
		cfg.After = 3
		f := setup(t, db, r.srv.URL, cfg)
		f.insert("blip", "flip", "")
		must(t, f.e.SyncOnce(context.Background()))
		f.fire(1, 1)
		f.fire(1, 1)
		f.healthy.Store(true)
		f.fire(1, 1)
		f.stop()
		if ms := r.messages(); len(ms) != 0 {
			t.Fatalf("alerts %q, want none", statuses(ms))
		}
	})
}

// A fire skipped by overlap forbid alerts when the rules list skipped.
func TestAlerts_SkippedFire(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		r := newRobot(t, nil)
		cfg := alert.DefaultConfig()
		cfg.On = []string{alert.OnSkipped}
		f := setup(t, db, r.srv.URL, cfg)
		f.insert("slow_report", "hold", "")
		must(t, f.e.SyncOnce(context.Background()))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		must(t, f.clock.BlockUntilContext(ctx, engineTickers+1))
		f.clock.Advance(5 * time.Second)
		<-f.holding
		f.fire(1, 0)
		select {
		case <-f.skipped:
		case <-time.After(20 * time.Second):
			t.Fatal("second fire not skipped")
		}
		f.stop()

		ms := r.messages()
		if len(ms) != 1 || ms[0].Status != "skipped" || ms[0].TaskKey != "slow_report" ||
			!strings.Contains(ms[0].Error, "overlap") || ms[0].ScheduledAt != "2026-01-01 00:00:10 UTC" {
			t.Fatalf("alerts %+v", ms)
		}
	})
}

// extra.alert overrides the global rules key by key.
func TestAlerts_TaskRulesOverride(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		r := newRobot(t, nil)
		f := setup(t, db, r.srv.URL, alert.DefaultConfig())
		f.insert("quiet", "fail", `{"alert": {"on": []}}`)
		f.insert("timeouts_only", "fail", `{"alert": {"on": ["timeout"]}}`)
		f.insert("loud", "fail", "")
		f.insert("patient", "fail", `{"alert": {"after": 2}}`)
		f.insert("bad_rules", "fail", `{"alert": {"on": ["explode"]}}`) // the global rules apply
		must(t, f.e.SyncOnce(context.Background()))
		f.fire(1, 5)
		f.fire(1, 5)
		f.fire(1, 5)
		f.stop()

		count := map[string]int{}
		for _, m := range r.messages() {
			count[m.TaskKey+": "+m.Status]++
		}
		want := map[string]int{"loud: failed": 3, "bad_rules: failed": 3, "patient: failed, 2 failures in a row": 1}
		if len(count) != len(want) {
			t.Fatalf("alerts %v, want %v", count, want)
		}
		for k, n := range want {
			if count[k] != n {
				t.Errorf("alerts %v, want %v", count, want)
			}
		}
	})
}

// A channel that hangs delays no run: every fire is recorded on time,
// the alerts wait in the notifier's queue.
func TestAlerts_StuckChannelDoesNotBlockRuns(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		unblock := make(chan struct{})
		called := make(chan struct{}, 1)
		r := newRobot(t, func(w http.ResponseWriter) {
			select {
			case called <- struct{}{}:
			default:
			}
			<-unblock
			w.WriteHeader(http.StatusInternalServerError)
		})
		defer close(unblock)
		f := setup(t, db, r.srv.URL, alert.DefaultConfig())
		f.insert("doomed", "fail", "")
		must(t, f.e.SyncOnce(context.Background()))
		began := time.Now()
		for range 20 {
			if st := f.fire(1, 1); st[0] != models.RunFailed {
				t.Fatalf("run %v", st)
			}
		}
		if took := time.Since(began); took > 15*time.Second {
			t.Fatalf("20 fires took %v with a stuck channel", took)
		}
		select {
		case <-called:
		case <-time.After(10 * time.Second):
			t.Fatal("the robot was never called")
		}
		must(t, f.e.Shutdown())
		f.stopped = true
		close(f.release)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		must(t, f.a.Stop(ctx))
		if err := f.n.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("notifier stop: %v, want its deadline", err)
		}
	})
}

// The Observer never waits: with the worker not started, events past the
// queue are dropped at once.
func TestAlerts_ObserverNeverBlocks(t *testing.T) {
	db := modelstest.SQLite(t)
	cfg := alert.DefaultConfig()
	cfg.QueueSize = 10
	n, err := notice.New(notice.DefaultConfig())
	must(t, err)
	a, err := alert.New(db, cfg, time.UTC, n, slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(t, err)
	began := time.Now()
	for i := range 100_000 {
		a.RunFinished(engine.Job{TaskID: 1, TaskKey: "k", RunID: int64(i)}, models.Finish{Status: models.RunFailed})
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("100,000 events took %v", took)
	}
}

// notes is a Notifier that keeps what it is given.
type notes struct {
	mu sync.Mutex
	ms []notice.Message
}

func (n *notes) Notify(m notice.Message) { n.mu.Lock(); n.ms = append(n.ms, m); n.mu.Unlock() }

// Missed fire times and lost runs alert with what the engine tells of
// them, completed from the rows: the lost run's trace id and fire time.
func TestAlerts_MissedAndLost(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		id, err := models.InsertTask(ctx, db, models.Task{Key: "etl", Desc: "nightly ETL", Func: "ok", Trigger: "cron",
			Spec: "0 2 * * *", IsValid: 1, Extra: `{"timezone": "Asia/Shanghai"}`})
		must(t, err)
		res, err := db.ExecContext(ctx, "INSERT INTO execute_task (task_id, status, trace_id, task_key, scheduled_at, attempt, source, error) "+
			"VALUES (?, 'lost', 'trace-lost', 'etl', ?, 1, 'schedule', 'owner r1 declared dead')", id, "2026-01-01 18:00:00.000")
		must(t, err)
		runID, err := res.LastInsertId()
		must(t, err)
		n := &notes{}
		a, err := alert.New(db, alert.DefaultConfig(), time.UTC, n, slog.New(slog.NewTextHandler(io.Discard, nil)))
		must(t, err)
		a.Start()
		from := time.Date(2026, 1, 2, 18, 0, 0, 0, time.UTC)
		a.Missed("etl", from, from.Add(48*time.Hour), 3)
		a.RunLost("etl", runID, "r1")
		a.Skipped("etl", from, "overlap forbid") // not in the default rules
		must(t, a.Stop(ctx))

		if len(n.ms) != 2 {
			t.Fatalf("alerts %+v", n.ms)
		}
		missed, lost := n.ms[0], n.ms[1]
		if missed.Status != "missed" || missed.TaskDesc != "nightly ETL" || missed.ScheduledAt != "2026-01-03 02:00:00 CST" ||
			missed.Error != "3 fire times missed, from 2026-01-03 02:00:00 CST to 2026-01-05 02:00:00 CST" {
			t.Errorf("missed alert %+v", missed)
		}
		if lost.Status != "lost" || lost.RunID != runID || lost.TraceID != "trace-lost" ||
			lost.ScheduledAt != "2026-01-02 02:00:00 CST" || !strings.Contains(lost.Error, "declared dead") {
			t.Errorf("lost alert %+v", lost)
		}
	})
}

// A process with no syncer (a standalone worker) calls Reread each sync
// interval: a task's rules edited since are applied from then on, and
// not before (the rows are cached).
func TestAlerts_Reread(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		r := newRobot(t, nil)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		ncfg := notice.DefaultConfig()
		ncfg.TaskInterval, ncfg.MaxAttempts, ncfg.RetryDelay, ncfg.Timeout = 0, 2, 100*time.Millisecond, time.Second
		ncfg.Webhook.URL = r.srv.URL
		n, err := notice.New(ncfg, notice.WithLogger(log))
		must(t, err)
		a, err := alert.New(db, alert.DefaultConfig(), time.UTC, n, log)
		must(t, err)
		n.Start()
		a.Start()
		ctx := context.Background()
		id, err := models.InsertTask(ctx, db, models.Task{Key: "edited", Func: "fail", Trigger: "interval", Spec: "5", IsValid: 1})
		must(t, err)
		fail := func(run int64, alerts int) {
			t.Helper()
			a.RunFinished(engine.Job{RunID: run, TaskID: id, TaskKey: "edited", ScheduledAt: start, Attempt: 1},
				models.Finish{Status: models.RunFailed, Error: "disk full"})
			for deadline := time.Now().Add(5 * time.Second); len(r.messages()) < alerts; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("run %d: %d alerts, want %d", run, len(r.messages()), alerts)
				}
			}
		}
		fail(1, 1) // alerts, and the row is cached
		_, err = db.ExecContext(ctx, "UPDATE task SET extra = ? WHERE id = ?", `{"alert": {"on": []}}`, id)
		must(t, err)
		fail(2, 2) // the cached rules: alerts still
		a.Reread()
		fail(3, 0) // the edited row: quiet
		stop, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		must(t, a.Stop(stop))
		_ = n.Stop(stop)
		ms := r.messages()
		if len(ms) != 2 || ms[0].RunID != 1 || ms[1].RunID != 2 {
			t.Fatalf("alerts %+v, want runs 1 and 2", ms)
		}
	})
}
