package engine

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"taskrunner/models"
	"taskrunner/models/modelstest"
	"taskrunner/tasks"
)

// queueExecutor is a second Executor, shaped as a queue with a remote
// worker would be: each job crosses to the worker as JSON, the worker (a
// registered replica row of kind worker, beating on its own) takes the
// run over from the replica that claimed it, runs it, keeps its lease and
// records its outcome as its owner. Nothing of it is known to the engine
// but the Executor interface.
type queueExecutor struct {
	db    *models.DB
	reg   *tasks.Registry
	clock clockwork.Clock
	rec   Recorder
	log   *slog.Logger
	id    string
	cfg   Config

	leases *leaseKeeper
	beats  loop
	wg     sync.WaitGroup
	mu     sync.Mutex
	active map[int64]context.CancelCauseFunc
	live   bool
}

func newQueueExecutor(h *harness, db *models.DB, reg *tasks.Registry, rec Recorder, cfg Config) *queueExecutor {
	q := &queueExecutor{db: db, reg: reg, clock: h.clock, rec: rec, log: slog.New(slog.NewJSONHandler(h.logs, nil)), id: "worker-" + uuid.NewString(),
		cfg: cfg, active: map[int64]context.CancelCauseFunc{}}
	q.leases = newLeaseKeeper(db, h.clock, q.log, cfg.Lease, func(id int64, cause error) { q.Cancel(id, cause) })
	q.start(h.t)
	return q
}

func (q *queueExecutor) Execute(ctx context.Context, jobs []Job, gate *Gate) []<-chan struct{} {
	done := make([]<-chan struct{}, len(jobs))
	for i, job := range jobs {
		wire, err := json.Marshal(job)
		if err != nil {
			panic(err)
		}
		d := make(chan struct{})
		done[i] = d
		q.wg.Add(1)
		go func() {
			defer q.wg.Done()
			defer close(d)
			if gate != nil {
				<-gate.Wait()
				if gate.Aborted() {
					return
				}
			}
			q.work(wire)
		}()
	}
	return done
}

// work is the worker's side: it sees only the JSON.
func (q *queueExecutor) work(wire []byte) {
	var job Job
	if err := json.Unmarshal(wire, &job); err != nil {
		panic(err)
	}
	q.mu.Lock()
	id, leases := q.id, q.leases
	q.mu.Unlock()
	ok, err := models.TakeRun(context.Background(), q.db, job.RunID, job.Attempt, job.Owner, id, q.clock.Now())
	if err != nil || !ok {
		q.log.Warn("run not taken", "run", job.RunID, "error", err)
		return
	}
	job.Owner = id
	ctx, cancel := context.WithCancelCause(context.Background())
	q.mu.Lock()
	q.active[job.RunID] = cancel
	q.mu.Unlock()
	leases.track(job)
	defer func() {
		leases.untrack(job.RunID)
		q.mu.Lock()
		delete(q.active, job.RunID)
		q.mu.Unlock()
	}()
	fn, _ := q.reg.Lookup(job.Func)
	run := tasks.NewRun(1000)
	run.TaskID, run.TaskKey, run.Args, run.ExecID, run.TraceID, run.ScheduledAt, run.Attempt =
		job.TaskID, job.TaskKey, job.Args, job.RunID, job.TraceID, job.ScheduledAt, job.Attempt
	run.Logger = q.log
	start := q.clock.Now()
	err = fn(ctx, run)
	f := models.Finish{Status: models.RunSuccess, Output: run.OutputText(), StartedAt: start, Duration: q.clock.Since(start)}
	switch {
	case errors.Is(context.Cause(ctx), errShutdown):
		f.Status, f.Error = models.RunInterrupted, errShutdown.Error()
	case ctx.Err() != nil:
		f.Status, f.Error = models.RunCancelled, context.Cause(ctx).Error()
	case err != nil:
		f.Status, f.Error = models.RunFailed, err.Error()
	}
	q.rec.Record(job, f, errors.Is(err, tasks.ErrNoRetry))
}

func (q *queueExecutor) Cancel(runID int64, cause error) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	cancel, ok := q.active[runID]
	if ok {
		cancel(cause)
	}
	return ok
}

func (q *queueExecutor) Drain(ctx context.Context) int {
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	defer q.crash()
	select {
	case <-done:
		return 0
	case <-ctx.Done():
	}
	q.mu.Lock()
	n := len(q.active)
	for _, cancel := range q.active {
		cancel(errShutdown)
	}
	q.mu.Unlock()
	select {
	case <-done:
	case <-time.After(2 * time.Second): // a function that ignores its context is left behind
	}
	return n
}

// crash stops the worker's beats and lease renewals, as SIGKILL would;
// what it runs goes on, unrecorded when it ends (the fence).
func (q *queueExecutor) crash() {
	if q.live {
		q.live = false
		q.leases.Stop()
		q.beats.halt()
		clockTickers(q.clock.(*clockwork.FakeClock)).Add(-2)
	}
}

// restart is a new worker process: a new id, beats and leases.
func (q *queueExecutor) restart(t *testing.T) {
	t.Helper()
	q.mu.Lock()
	q.id = "worker-" + uuid.NewString()
	q.beats = loop{}
	q.leases = newLeaseKeeper(q.db, q.clock, q.log, q.cfg.Lease, func(id int64, cause error) { q.Cancel(id, cause) })
	q.mu.Unlock()
	q.start(t)
}

func (q *queueExecutor) start(t *testing.T) {
	t.Helper()
	must(t, models.RegisterReplica(context.Background(), q.db, models.Replica{ID: q.id, Kind: models.KindWorker, Host: "worker/1", StartedAt: q.clock.Now()}))
	q.leases.Start()
	q.beats.every(q.clock, q.cfg.Heartbeat, nil, func() {
		if _, err := models.BeatReplica(context.Background(), q.db, q.id, q.clock.Now()); err != nil {
			q.log.Warn("beat", "error", err)
		}
	})
	q.live = true
	clockTickers(q.clock.(*clockwork.FakeClock)).Add(2)
}

// setupQueue builds an engine whose runs go to a queueExecutor.
func setupQueue(t *testing.T, db *models.DB, clock *clockwork.FakeClock) (*harness, *queueExecutor) {
	t.Helper()
	var q *queueExecutor
	h := setupExec(t, db, clock, func(h *harness, db *models.DB, reg *tasks.Registry, rec Recorder) Executor {
		q = newQueueExecutor(h, db, reg, rec, DefaultConfig())
		return q
	})
	return h, q
}

// lastOwner is the owner of a task's latest run.
func (h *harness) lastOwner(taskID int64) string {
	h.t.Helper()
	return h.history(taskID)[0].Owner
}

// The engine works unchanged with another executor: runs cross to a
// worker as JSON and are taken over, run and recorded by it as their
// owner; a failure is retried; a replaced run is cancelled on the
// worker; a dead worker's runs are lost by the rescuer and stop holding
// their tasks back; a long run keeps its lease through the worker; and
// shutdown interrupts what is left.
func TestExecutor_SecondImplementation(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h, q := setupQueue(t, db, clockwork.NewFakeClockAt(start))
		ok := h.insert("ok", "date", "2026-01-01 00:00:10", "record", "1", "")
		fail := h.insert("fail", "date", "2026-01-01 00:00:10", "fail", "", `{"max_retries": 1, "retry_delay": "1s", "retry_backoff": "fixed"}`)
		repl := h.insert("repl", "interval", "10", "wait", "", `{"overlap": "replace"}`)
		long := h.insert("long", "interval", "10", "block", "", `{"overlap": "forbid"}`)
		h.sync()

		h.advance(2, 9*time.Second) // 00:00:10: four runs on the worker (two schedules)
		h.waitStarted()
		h.waitStarted()
		got := map[string]string{}
		for _, r := range h.wait(2) {
			got[r.Job.TaskKey] = r.Status
			if r.Job.Owner != q.id {
				t.Errorf("%s recorded for owner %q, want the worker %q", r.Job.TaskKey, r.Job.Owner, q.id)
			}
		}
		if got["ok"] != models.RunSuccess || got["fail"] != models.RunFailed {
			t.Fatalf("first fire: %v", got)
		}
		if runs := h.history(ok); runs[0].Owner != q.id || !runs[0].StartedAt.Valid || runs[0].Output != "args=[1]" {
			t.Fatalf("ok's row: %+v", runs[0])
		}
		h.advance(2, time.Second) // 00:00:11: the retry of fail, and the group timer
		if r := h.wait(1)[0]; r.Job.TaskKey != "fail" || r.Job.Attempt != 2 || r.Status != models.RunFailed {
			t.Fatalf("retry %+v", r)
		}
		if got := strings.Join(h.statuses(fail), " "); got != "1:failed 2:failed" {
			t.Fatalf("fail: %s", got)
		}

		h.advance(1, 9*time.Second) // 00:00:20: repl's new run replaces the old one on the worker
		if r := h.wait(1)[0]; r.Job.TaskKey != "repl" || r.Status != models.RunCancelled {
			t.Fatalf("replaced %+v", r)
		}
		h.waitStarted()

		// The worker dies with repl's and long's runs in hand: once it is
		// declared dead they are lost, and hold nothing back.
		q.crash()
		for range 5 { // dead_after (3 s) of unbroken beats of the replica, then 3 s of the worker's silence
			h.advance(1, time.Second)
			h.rescue()
		}
		if got := strings.Join(h.statuses(long), " "); got != "1:lost 1:skipped" {
			t.Fatalf("long after the worker died: %s", got)
		}
		if got := strings.Join(h.statuses(repl), " "); got != "1:cancelled 1:lost" {
			t.Fatalf("repl after the worker died: %s", got)
		}
		q.restart(t)
		h.advance(1, 5*time.Second) // 00:00:30: both run again, on the new worker
		h.waitStarted()
		h.waitStarted()
		q.mu.Lock()
		worker := q.id
		q.mu.Unlock()
		if o := h.lastOwner(long); o != worker {
			t.Fatalf("long's new run owned by %q, want the new worker %q", o, worker)
		}

		// 40 s on, past the 30 s lease: long's run keeps its lease.
		for range 4 {
			h.advance(1, 10*time.Second)
			if r := h.wait(1)[0]; r.Job.TaskKey != "repl" || r.Status != models.RunCancelled {
				t.Fatalf("replaced %+v", r)
			}
			h.waitStarted()
			must(t, q.leases.renew(context.Background()))
			h.rescue()
		}
		if runs := h.history(long); runs[len(runs)-3].Status != models.RunRunning {
			t.Fatalf("long's run, 40 s on: %s", strings.Join(h.statuses(long), " "))
		}

		h.release <- struct{}{} // long's runs end: the lost one's outcome is refused
		h.release <- struct{}{}
		h.shutdown()
		if runs := h.history(repl); runs[0].Status != models.RunInterrupted {
			t.Fatalf("repl at shutdown: %s", strings.Join(h.statuses(repl), " "))
		}
	})
}
