package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/models"
	"taskrunner/models/modelstest"
	"taskrunner/tasks"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/metrics"
)

// start is one second past a minute: an interval of 5s fires at
// 00:00:05, 00:00:10, 00:00:15.
var start = time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)

// engineTickers is how many clock tickers a started engine keeps (its
// registry, rescuer, retrier, lease keeper and gap loop): advance waits
// for them and the timers a step arms before it moves the clock.
const engineTickers = 5

// signals is the Metrics observer, telling the test what happened.
type signals struct {
	*metrics.Metrics
	finished chan models.Finish
	skipped  chan string
	retried  chan int
}

func (s signals) RunFinished(j engine.Job, f models.Finish) {
	s.Metrics.RunFinished(j, f)
	s.finished <- f
}

func (s signals) Skipped(key string, at time.Time, reason string) {
	s.Metrics.Skipped(key, at, reason)
	s.skipped <- reason
}

func (s signals) Retried(key string, attempt int, at time.Time) {
	s.Metrics.Retried(key, attempt, at)
	s.retried <- attempt
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s", what)
	}
	var zero T
	return zero
}

// A known sequence of runs, then a scrape: 3 fires of 3 tasks on one
// 5-second schedule — "ok" succeeds each time; "flaky" fails its first
// fire, is retried a second later and succeeds, then succeeds; "hold"
// hangs in its first run, so its second fire is skipped (overlap
// forbid), then succeeds.
func TestMetrics_ScrapeAfterRuns(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		clock := clockwork.NewFakeClockAt(start)
		release := make(chan struct{})
		holding := make(chan struct{}, 1)
		first := start.Add(4 * time.Second)
		reg := tasks.NewRegistry()
		must(t, reg.Add("ok", func(context.Context, *tasks.Run) error { return nil }))
		must(t, reg.Add("flaky", func(_ context.Context, run *tasks.Run) error {
			if run.Attempt == 1 && run.ScheduledAt.Equal(first) {
				return errors.New("flaked")
			}
			return nil
		}))
		must(t, reg.Add("hold", func(_ context.Context, run *tasks.Run) error {
			if run.ScheduledAt.Equal(first) {
				holding <- struct{}{}
				<-release
			}
			return nil
		}))
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		m := metrics.New(db, metrics.Config{}, log)
		obs := signals{Metrics: m, finished: make(chan models.Finish, 100), skipped: make(chan string, 10), retried: make(chan int, 10)}
		cfg := engine.DefaultConfig()
		cfg.ShutdownTimeout = 2 * time.Second
		e, err := engine.New(cfg, db, reg, log, engine.WithClock(clock), engine.WithObserver(obs))
		must(t, err)
		m.Watch(e)
		must(t, e.Start(ctx))
		t.Cleanup(func() { must(t, e.Shutdown()) })

		for key, fn := range map[string]string{"ok": "ok", "flaky": "flaky", "hold": "hold"} {
			extra := ""
			if key == "flaky" {
				extra = `{"max_retries":1,"retry_delay":"1s","retry_backoff":"fixed"}`
			}
			_, err := models.InsertTask(ctx, db, models.Task{Key: key, Func: fn, Trigger: "interval", Spec: "5", IsValid: 1, Extra: extra})
			must(t, err)
		}
		must(t, e.SyncOnce(ctx))

		advance := func(timers int, d time.Duration) {
			t.Helper()
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			must(t, clock.BlockUntilContext(ctx, engineTickers+timers))
			clock.Advance(d)
		}
		finished := func(n int) (statuses []string) {
			t.Helper()
			for range n {
				statuses = append(statuses, recv(t, obs.finished, "run finished").Status)
			}
			return statuses
		}

		advance(1, 4*time.Second) // 00:00:05
		recv(t, holding, "hold run")
		finished(2) // ok, flaky (failed)
		if a := recv(t, obs.retried, "retry"); a != 2 {
			t.Fatalf("retried attempt %d, want 2", a)
		}
		advance(2, time.Second) // 00:00:06: the retry timer, besides the group's
		finished(1)             // flaky, attempt 2
		advance(1, 4*time.Second)
		if r := recv(t, obs.skipped, "skip"); !strings.Contains(r, "overlap forbid") {
			t.Fatalf("skipped for %q", r)
		}
		finished(2) // ok, flaky
		close(release)
		finished(1)               // hold's first run
		advance(1, 5*time.Second) // 00:00:15
		finished(3)
		deadline := time.Now().Add(10 * time.Second)
		for e.Backlog() != 0 && time.Now().Before(deadline) {
			runtime.Gosched() // the last outcome's writer is returning
		}

		got := scrape(t, m)
		for name, want := range map[string]float64{
			`taskrunner_schedule_fires_total`:                         3,
			`taskrunner_fires_claimed_total`:                          8,
			`taskrunner_runs_total{status="success",task="ok"}`:       3,
			`taskrunner_runs_total{status="success",task="flaky"}`:    3,
			`taskrunner_runs_total{status="failed",task="flaky"}`:     1,
			`taskrunner_runs_total{status="success",task="hold"}`:     2,
			`taskrunner_runs_total{status="failed",task="ok"}`:        0,
			`taskrunner_retries_total`:                                1,
			`taskrunner_fires_skipped_total{reason="overlap_forbid"}`: 1,
			`taskrunner_fires_skipped_total{reason="max_parallel"}`:   0,
			`taskrunner_misfires_total`:                               0,
			`taskrunner_runs_requeued_total`:                          0,
			`taskrunner_lateness_seconds_count`:                       8,
			`taskrunner_lateness_seconds_bucket{le="0.001"}`:          8,
			`taskrunner_run_duration_seconds_count`:                   9,
			`taskrunner_syncs_total{result="ok"}`:                     1,
			`taskrunner_sync_duration_seconds_count`:                  1,
			`taskrunner_tasks{state="ready"}`:                         3,
			`taskrunner_tasks{state="error"}`:                         0,
			`taskrunner_schedule_groups`:                              1,
			`taskrunner_replicas{kind="replica"}`:                     1,
			`taskrunner_replicas{kind="worker"}`:                      0,
			`taskrunner_history_backlog`:                              0,
		} {
			v, ok := got[name]
			if !ok {
				t.Errorf("%s: not scraped", name)
			} else if v != want {
				t.Errorf("%s = %v, want %v", name, v, want)
			}
		}
		// No queue is configured: its series exist, with no values.
		for name := range got {
			if strings.HasPrefix(name, "taskrunner_queue_") {
				t.Errorf("%s scraped without a queue", name)
			}
		}
	})
}

// Past MaxTasks, task keys fold into "other"; a known key keeps its own.
func TestMetrics_TaskKeysCapped(t *testing.T) {
	m := metrics.New(modelstest.SQLite(t), metrics.Config{MaxTasks: 2}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, key := range []string{"a", "b", "c", "a", "d"} {
		m.RunFinished(engine.Job{TaskKey: key}, models.Finish{Status: models.RunFailed})
	}
	got := scrape(t, m)
	for name, want := range map[string]float64{
		`taskrunner_runs_total{status="failed",task="a"}`:     2,
		`taskrunner_runs_total{status="failed",task="b"}`:     1,
		`taskrunner_runs_total{status="failed",task="other"}`: 2,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	for name := range got {
		if strings.Contains(name, `task="c"`) || strings.Contains(name, `task="d"`) {
			t.Errorf("%s: a key past the cap has its own series", name)
		}
	}
}

// Skip reasons are a fixed set, whatever the engine's text says.
func TestMetrics_SkipReasons(t *testing.T) {
	m := metrics.New(modelstest.SQLite(t), metrics.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, r := range []string{
		"run 12 is still running (overlap forbid)",
		"2 runs are still running (overlap allow, max_parallel 2)",
		"something new",
	} {
		m.Skipped("k", start, r)
	}
	got := scrape(t, m)
	for _, reason := range []string{metrics.SkipOverlapForbid, metrics.SkipMaxParallel, metrics.SkipOther} {
		if name := `taskrunner_fires_skipped_total{reason="` + reason + `"}`; got[name] != 1 {
			t.Errorf("%s = %v, want 1", name, got[name])
		}
	}
}

// scrape GETs the handler and returns every sample by name and labels,
// as the text format writes them: `name{a="x",b="y"}`, labels sorted.
func scrape(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// The text format: name{labels sorted by name} value.
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scraped line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
