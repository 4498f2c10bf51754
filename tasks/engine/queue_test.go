package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/models"
	"taskrunner/models/modelstest"
	"taskrunner/tasks"
)

// setupQueued builds an engine whose runs of the functions in queued go
// to the default queue over tr, and no worker yet.
func setupQueued(t *testing.T, db *models.DB, tr Transport, queued ...string) *harness {
	t.Helper()
	byDefault := func(fn string) bool {
		for _, q := range queued {
			if q == fn {
				return true
			}
		}
		return false
	}
	return setupOpts(t, db, clockwork.NewFakeClockAt(start), nil, []Option{WithQueue(tr, byDefault)})
}

// workerTickers are a worker's tickers on the fake clock: beats, task
// cache, leases.
const workerTickers = 3

// worker starts a worker beside the harness's engine, on the same clock,
// registry of functions and observer.
func (h *harness) worker(tr Transport, queues map[string]int) *Worker {
	h.t.Helper()
	return h.workerWith(h.cfg, tr, queues)
}

func (h *harness) workerWith(cfg Config, tr Transport, queues map[string]int) *Worker {
	h.t.Helper()
	w, err := NewWorker(cfg, WorkerConfig{Queues: queues, Info: map[string]any{"test": true}}, h.db, h.reg, tr, h.log,
		WithClock(h.clock), WithObserver(testObserver{runs: h.runs, fires: h.fires}))
	must(h.t, err)
	must(h.t, w.Start(context.Background()))
	clockTickers(h.clock).Add(workerTickers)
	live := true
	h.t.Cleanup(func() {
		if live {
			clockTickers(h.clock).Add(-workerTickers)
			must(h.t, w.Shutdown())
		}
	})
	h.workers = append(h.workers, func() {
		if live {
			live = false
			clockTickers(h.clock).Add(-workerTickers)
			w.crash()
		}
	})
	return w
}

// crash stops the worker as SIGKILL would: no more jobs, beats or lease
// renewals, nothing said to the database; what it runs goes on, and
// its outcome is refused (the fence).
func (w *Worker) crash() {
	w.stop()
	w.wg.Wait()
	w.registry.halt()
	w.runner.leases.Stop()
	w.cache.Stop()
	w.started = false
}

// judge moves the clock by dead_after and more, beating for the engine
// and the live workers, and rescues and sweeps as their loops would.
func (h *harness) judge(live ...*Worker) {
	h.t.Helper()
	for range 4 {
		h.clock.Advance(h.cfg.Heartbeat)
		for _, w := range live {
			must(h.t, w.registry.beat(context.Background()))
		}
		h.rescue()
		must(h.t, h.e.sweeper.SweepOnce(context.Background()))
	}
}

func (h *harness) run(id int64) models.ExecuteTask {
	h.t.Helper()
	r, err := models.GetRun(context.Background(), h.db, id)
	must(h.t, err)
	return r
}

func TestQueue_RunsOnAWorker(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		tr := NewLocalTransport()
		h := setupQueued(t, db, tr, "record")
		w := h.worker(tr, map[string]int{DefaultQueue: 2, "other": 1})
		h.insert("q_default", "interval", "3600", "record", `["a"]`, "")
		h.insert("q_named", "interval", "3600", "other", "", `{"queue": "other"}`)
		h.insert("q_local", "interval", "3600", "other", "", "")
		h.sync()
		var ids []int64
		for _, key := range []string{"q_default", "q_named", "q_local"} {
			m, err := h.e.RunNow(context.Background(), key, tasks.Args{})
			must(t, err)
			ids = append(ids, m.ID)
		}
		runs := h.wait(3)
		for _, r := range runs {
			if r.Status != models.RunSuccess {
				t.Fatalf("run %+v", r)
			}
		}
		for i, want := range []struct{ queue, owner string }{{DefaultQueue, w.ID()}, {"other", w.ID()}, {"", h.e.ID()}} {
			r := h.run(ids[i])
			if r.Queue != want.queue || r.Owner != want.owner || r.Status != models.RunSuccess {
				t.Errorf("run %d: queue %q owner %q status %s, want queue %q owner %q success", r.ID, r.Queue, r.Owner, r.Status, want.queue, want.owner)
			}
		}
		if out := string(h.run(ids[0]).Output); !strings.Contains(out, `args=["a"]`) {
			t.Errorf("output %q", out)
		}
	})
}

// A worker killed with a run in hand: with on_lost recover, the run goes
// back on its queue and runs to completion once on another worker; the
// dead worker's late outcome is refused. With drop, it is lost.
func TestQueue_WorkerKilled(t *testing.T) {
	for _, policy := range []string{OnLostRecover, OnLostDrop} {
		t.Run(policy, func(t *testing.T) {
			modelstest.Each(t, func(t *testing.T, db *models.DB) {
				tr := NewLocalTransport()
				h := setupQueued(t, db, tr)
				w1 := h.worker(tr, map[string]int{"q": 1})
				h.insert("held", "interval", "3600", "block", "", `{"queue": "q", "on_lost": "`+policy+`"}`)
				h.sync()
				m, err := h.e.RunNow(context.Background(), "held", tasks.Args{})
				must(t, err)
				h.waitStarted()
				if r := h.run(m.ID); r.Owner != w1.ID() || r.Status != models.RunRunning {
					t.Fatalf("run %+v", r)
				}
				h.workers[0]() // SIGKILL
				w2 := h.worker(tr, map[string]int{"q": 1})
				h.judge(w2)
				if policy == OnLostDrop {
					r := h.run(m.ID)
					if r.Status != models.RunLost || !strings.Contains(string(r.Error), w1.ID()) {
						t.Fatalf("dropped run: %s %q", r.Status, string(r.Error))
					}
					h.releaseAll()
					return
				}
				h.waitStarted() // again, on w2
				h.releaseAll()
				// Both functions return: the dead worker's outcome is refused
				// by the fence (observers hear of it all the same).
				h.wait(2)
				r := h.run(m.ID)
				if r.Status != models.RunSuccess || r.Owner != w2.ID() {
					t.Fatalf("row %s owner %s", r.Status, r.Owner)
				}
				if n := len(h.history(r.TaskID)); n != 1 {
					t.Fatalf("%d rows for one fire", n)
				}
			})
		})
	}
}

// The queue lost its content (Redis restarted empty, FLUSHALL): the runs
// still queued come back from their rows, each run once.
func TestQueue_LostQueueResent(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		tr := NewLocalTransport()
		h := setupQueued(t, db, tr)
		h.insert("later", "interval", "3600", "record", "", `{"queue": "q", "overlap": "allow"}`)
		h.sync()
		var ids []int64
		for range 3 {
			m, err := h.e.RunNow(context.Background(), "later", tasks.Args{})
			must(t, err)
			ids = append(ids, m.ID)
			h.clock.Advance(time.Millisecond)
		}
		for _, id := range ids { // each handed over by a goroutine of its own
			waitFor(t, func() bool { return h.run(id).Status == models.RunQueued })
		}
		fresh := NewLocalTransport() // the store restarted empty: a new epoch
		h.e.sweeper.tr = fresh
		must(t, h.e.sweeper.SweepOnce(context.Background()))
		h.worker(fresh, map[string]int{"q": 2})
		runs := h.wait(3)
		seen := map[int64]bool{}
		for _, r := range runs {
			if r.Status != models.RunSuccess || seen[r.Job.RunID] {
				t.Fatalf("runs %+v", runs)
			}
			seen[r.Job.RunID] = true
		}
		must(t, h.e.sweeper.SweepOnce(context.Background()))
		select {
		case r := <-h.runs:
			t.Fatalf("a run ran twice: %+v", r)
		case <-time.After(300 * time.Millisecond):
		}
	})
}

// Cancel reaches a run on a worker: the row says cancelled and the
// function's context ends.
func TestQueue_CancelReachesTheWorker(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		tr := NewLocalTransport()
		h := setupQueued(t, db, tr)
		h.worker(tr, map[string]int{"q": 1})
		h.insert("waits", "interval", "3600", "wait", "", `{"queue": "q"}`)
		h.sync()
		m, err := h.e.RunNow(context.Background(), "waits", tasks.Args{})
		must(t, err)
		h.waitStarted()
		must(t, h.e.Cancel(context.Background(), m.ID))
		runs := h.wait(1)
		if runs[0].Status != models.RunCancelled {
			t.Fatalf("run %+v", runs[0])
		}
		if r := h.run(m.ID); r.Status != models.RunKilled {
			t.Fatalf("row %s", r.Status)
		}
	})
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// setupShards is setupQueued with a function that prints its shard.
func setupShards(t *testing.T, db *models.DB, tr Transport) *harness {
	t.Helper()
	return setupOpts(t, db, clockwork.NewFakeClockAt(start), nil, []Option{WithQueue(tr, nil)}, func(_ *Config, reg *tasks.Registry) {
		must(t, reg.Add("shard", func(ctx context.Context, run *tasks.Run) error {
			run.Printf("shard %d/%d", run.ShardIndex, run.ShardTotal)
			return nil
		}))
	})
}

// fireRows returns the runs of a task, by shard.
func (h *harness) fireRows(taskID int64) map[int]models.ExecuteTask {
	h.t.Helper()
	out := map[int]models.ExecuteTask{}
	for _, r := range h.history(taskID) {
		if _, dup := out[r.Shard]; dup {
			h.t.Fatalf("shard %d has two rows", r.Shard)
		}
		out[r.Shard] = r
	}
	return out
}

// A sharded fire is one row per shard, each run told its shard and the
// total, spread over the live workers; its child task starts once, after
// the last shard.
func TestQueue_Shards(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		tr := NewLocalTransport()
		h := setupShards(t, db, tr)
		w1 := h.worker(tr, map[string]int{"q": 2})
		w2 := h.worker(tr, map[string]int{"q": 2})
		id := h.insert("sharded", "interval", "3600", "shard", "", `{"queue": "q", "shards": 4, "then": ["after"]}`)
		child := h.insert("after", "interval", "3600", "record", "", "")
		h.sync() // the engine's beat sees the workers
		_, err := h.e.RunNow(context.Background(), "sharded", tasks.Args{})
		must(t, err)
		h.wait(4)
		rows := h.fireRows(id)
		owners := map[string]int{}
		for k := range 4 {
			r := rows[k]
			if r.Status != models.RunSuccess || r.ShardTotal != 4 || string(r.Output) != fmt.Sprintf("shard %d/4", k) {
				t.Fatalf("shard %d: %s total %d output %q", k, r.Status, r.ShardTotal, string(r.Output))
			}
			owners[r.Owner]++
		}
		if owners[w1.ID()] != 2 || owners[w2.ID()] != 2 {
			t.Fatalf("shards not spread over the two workers: %v", owners)
		}
		h.sync() // the retrier starts the child
		h.wait(1)
		if n := len(h.history(child)); n != 1 {
			t.Fatalf("child ran %d times", n)
		}
	})
}

// A broadcast fire runs once on every live worker of its queue.
func TestQueue_Broadcast(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		tr := NewLocalTransport()
		h := setupShards(t, db, tr)
		w1 := h.worker(tr, map[string]int{"q": 1})
		w2 := h.worker(tr, map[string]int{"q": 1, "other": 1})
		h.worker(tr, map[string]int{"other": 1})
		id := h.insert("everywhere", "interval", "3600", "shard", "", `{"queue": "q", "route": "broadcast"}`)
		h.sync()
		_, err := h.e.RunNow(context.Background(), "everywhere", tasks.Args{})
		must(t, err)
		h.wait(2)
		rows := h.fireRows(id)
		got := map[string]bool{rows[0].Owner: true, rows[1].Owner: true}
		if len(rows) != 2 || !got[w1.ID()] || !got[w2.ID()] {
			t.Fatalf("broadcast rows %v, want one on each of %s and %s", got, w1.ID(), w2.ID())
		}
	})
}

// A worker killed mid-fire: its shard is sent again and runs on the other
// worker; the fire's child starts once, after all shards.
func TestQueue_ShardOfAKilledWorker(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		tr := NewLocalTransport()
		h := setupShards(t, db, tr)
		w1 := h.worker(tr, map[string]int{"q": 2})
		w2 := h.worker(tr, map[string]int{"q": 2})
		id := h.insert("held_shards", "interval", "3600", "block", "", `{"queue": "q", "shards": 2, "then": ["after2"]}`)
		child := h.insert("after2", "interval", "3600", "record", "", "")
		h.sync()
		_, err := h.e.RunNow(context.Background(), "held_shards", tasks.Args{})
		must(t, err)
		h.waitStarted()
		h.waitStarted()
		dead := personalQueue(w1.ID())
		tr.mu.Lock()
		_, had := tr.queues[dead]
		tr.mu.Unlock()
		h.workers[0]() // SIGKILL the first worker, its shard in hand
		h.judge(w2)
		h.waitStarted() // the lost shard again, on w2
		tr.mu.Lock()
		_, has := tr.queues[dead]
		tr.mu.Unlock()
		if !had || has {
			t.Fatalf("the dead worker's personal queue: there before its death %v, after %v; want deleted", had, has)
		}
		h.releaseAll()
		h.wait(3) // the dead worker's outcome is refused, but heard
		rows := h.fireRows(id)
		for k := range 2 {
			if rows[k].Status != models.RunSuccess || rows[k].Owner != w2.ID() {
				t.Fatalf("shard %d: %s on %s", k, rows[k].Status, rows[k].Owner)
			}
		}
		h.sync()
		h.wait(1)
		if n := len(h.history(child)); n != 1 {
			t.Fatalf("child ran %d times", n)
		}
	})
}

// A worker shut down with a run in hand past its deadline hands the run
// back (its task recovers runs): another worker runs it, once.
func TestQueue_ShutdownHandsBack(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		tr := NewLocalTransport()
		h := setupQueued(t, db, tr)
		quick := h.cfg
		quick.ShutdownTimeout = 100 * time.Millisecond
		w1 := h.workerWith(quick, tr, map[string]int{"q": 1})
		h.insert("handed", "interval", "3600", "block", "", `{"queue": "q", "on_lost": "recover"}`)
		h.sync()
		m, err := h.e.RunNow(context.Background(), "handed", tasks.Args{})
		must(t, err)
		h.waitStarted()
		clockTickers(h.clock).Add(-workerTickers)
		h.workers[0] = func() {} // shut down here, not again at cleanup
		must(t, w1.Shutdown())
		if r := h.run(m.ID); r.Status != models.RunQueued || r.Owner != "" {
			t.Fatalf("after the shutdown the run is %s (owner %q)", r.Status, r.Owner)
		}
		w2 := h.worker(tr, map[string]int{"q": 1})
		must(t, h.e.sweeper.SweepOnce(context.Background()))
		h.waitStarted()
		h.releaseAll()
		waitFor(t, func() bool { return h.run(m.ID).Status == models.RunSuccess })
		if r := h.run(m.ID); r.Owner != w2.ID() {
			t.Fatalf("run done by %s, want %s", r.Owner, w2.ID())
		}
	})
}

// A broadcast with one of its workers killed mid-fire: that worker's run
// is lost (it was for that worker), the other's succeeds; nothing runs
// twice.
func TestQueue_BroadcastWithAKilledWorker(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		tr := NewLocalTransport()
		h := setupShards(t, db, tr)
		w1 := h.worker(tr, map[string]int{"q": 1})
		w2 := h.worker(tr, map[string]int{"q": 1})
		id := h.insert("everywhere_held", "interval", "3600", "block", "", `{"queue": "q", "route": "broadcast", "on_lost": "recover"}`)
		h.sync()
		_, err := h.e.RunNow(context.Background(), "everywhere_held", tasks.Args{})
		must(t, err)
		h.waitStarted()
		h.waitStarted()
		h.workers[0]() // SIGKILL w1, its run in hand
		h.judge(w2)
		h.releaseAll()
		h.wait(2)
		rows := h.fireRows(id)
		if len(rows) != 2 {
			t.Fatalf("%d rows", len(rows))
		}
		byOwner := map[string]string{}
		for _, r := range rows {
			byOwner[r.Owner] = r.Status
		}
		if byOwner[w1.ID()] != models.RunLost || byOwner[w2.ID()] != models.RunSuccess {
			t.Fatalf("broadcast rows by owner: %v (w1 %s, w2 %s)", byOwner, w1.ID(), w2.ID())
		}
	})
}

// With prefetch, a worker takes jobs ahead of a free slot, and still runs
// no more than its concurrency at once.
func TestQueue_Prefetch(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		tr := NewLocalTransport()
		h := setupQueued(t, db, tr)
		w, err := NewWorker(h.cfg, WorkerConfig{Queues: map[string]int{"q": 1}, Prefetch: 1}, h.db, h.reg, tr, h.log,
			WithClock(h.clock), WithObserver(testObserver{runs: h.runs, fires: h.fires}))
		must(t, err)
		must(t, w.Start(context.Background()))
		clockTickers(h.clock).Add(workerTickers)
		t.Cleanup(func() { clockTickers(h.clock).Add(-workerTickers); must(t, w.Shutdown()) })
		h.insert("two", "interval", "3600", "block", "", `{"queue": "q", "overlap": "allow"}`)
		h.sync()
		var ids []int64
		for range 2 {
			m, err := h.e.RunNow(context.Background(), "two", tasks.Args{})
			must(t, err)
			ids = append(ids, m.ID)
			h.clock.Advance(time.Millisecond)
		}
		h.waitStarted()
		for _, id := range ids { // both taken: one running, one waiting for the slot
			waitFor(t, func() bool { r := h.run(id); return r.Status == models.RunRunning && r.Owner == w.ID() })
		}
		select {
		case <-h.started:
			t.Fatal("two runs at once with concurrency 1")
		case <-time.After(200 * time.Millisecond):
		}
		h.releaseAll()
		h.waitStarted()
		h.wait(2)
	})
}

// A replica that marked its runs queued and died before it sent them
// (SIGKILL between the commit and the XADD): the row says queued under
// the queue's current epoch and no message carries it. Once its claimant
// is known dead, the sweeper sends it again: it runs once.
func TestQueue_HandedNotSentIsResent(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		tr := NewLocalTransport()
		h := setupQueued(t, db, tr)
		id := h.insert("unsent", "interval", "3600", "record", "", `{"queue": "q"}`)
		h.sync()
		ctx := context.Background()
		must(t, models.RegisterReplica(ctx, db, models.Replica{ID: "dead", Host: "gone/1", StartedAt: start.Add(-time.Minute), HeartbeatAt: start}))
		ids, err := models.ClaimRuns(ctx, db, []models.Claim{{TaskID: id, TaskKey: "unsent", ScheduledAt: start.Add(-time.Second), Attempt: 1,
			Source: models.SourceSchedule, TraceID: "dead-unsent", Owner: "dead", Host: "gone/1", StartedAt: start.Add(-time.Second)}})
		must(t, err)
		epoch, err := tr.Epoch(ctx, "q")
		must(t, err)
		queued, err := models.QueueRuns(ctx, db, "dead", ids, "q", epoch, start)
		must(t, err)
		if len(queued) != 1 {
			t.Fatalf("queued %v", queued)
		}
		w := h.worker(tr, map[string]int{"q": 1})
		h.judge(w)
		r := h.wait(1)[0]
		if r.Job.RunID != ids[0] || r.Status != models.RunSuccess {
			t.Fatalf("run %+v, want run %d done", r, ids[0])
		}
		if got := h.run(ids[0]); got.Status != models.RunSuccess || got.Owner != w.ID() {
			t.Fatalf("row %s on %s", got.Status, got.Owner)
		}
	})
}

// Once a queue's epoch is known (after its first send), a fire of a task
// on it is queued by its claim, ahead of its time: the row says queued,
// owned by the replica, due at the fire time; no worker has it before
// then, and at its time it is only sent (no hand-off write).
func TestQueue_ClaimQueuesAheadOfTime(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		tr := NewLocalTransport()
		h := setupQueued(t, db, tr)
		id := h.insert("tick", "interval", "5", "record", "", `{"queue": "q"}`)
		h.sync()
		w := h.worker(tr, map[string]int{"q": 1})
		h.advance(1, 4*time.Second) // the first fire, handed over at its time
		h.wait(1)
		h.advance(1, 5*time.Second-h.cfg.ClaimAhead) // the next one's claim, 800 ms ahead
		var row models.ExecuteTask
		waitFor(t, func() bool {
			rs := h.history(id)
			if len(rs) < 2 {
				return false
			}
			row = rs[0]
			return true
		})
		due := start.Add(9 * time.Second)
		if row.Status != models.RunQueued || row.Queue != "q" || row.Owner != h.e.ID() || row.StartedAt.Valid || !row.RetryAt.Time.Equal(due) {
			t.Fatalf("claimed ahead: %+v", row)
		}
		select {
		case r := <-h.runs:
			t.Fatalf("ran before its time: %+v", r)
		case <-time.After(200 * time.Millisecond):
		}
		h.clock.Advance(h.cfg.ClaimAhead)
		r := h.wait(1)[0]
		if r.Status != models.RunSuccess || r.Job.RunID != row.ID || !r.Job.ScheduledAt.Equal(due) {
			t.Fatalf("run %+v, want run %d", r, row.ID)
		}
		if got := h.run(row.ID); got.Owner != w.ID() || got.Status != models.RunSuccess {
			t.Fatalf("row %s on %s", got.Status, got.Owner)
		}
	})
}

// A release that does not happen (the replica was declared dead, or
// could not record it): the runs its claims queued are not sent, and
// their rows are left to the sweepers, to send when due (retry_at kept).
func TestQueue_AbortedReleaseLeavesClaimsToTheSweeper(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		must(t, models.RegisterReplica(ctx, db, models.Replica{ID: "rep", StartedAt: start}))
		id, err := models.InsertTask(ctx, db, models.Task{Key: "aborted", Func: "record", Trigger: "interval", Spec: "5", IsValid: 1})
		must(t, err)
		due := start.Add(time.Second)
		ids, err := models.ClaimRuns(ctx, db, []models.Claim{{TaskID: id, TaskKey: "aborted", ScheduledAt: due, Attempt: 1, Source: models.SourceSchedule,
			TraceID: "aborted-1", Owner: "rep", StartedAt: start, Status: models.RunQueued, Queue: "q", QueueEpoch: "e1"}})
		must(t, err)
		tr := NewLocalTransport()
		q := &queueExec{db: db, tr: tr, clock: clockwork.NewFakeClockAt(start), log: slog.New(slog.DiscardHandler), owner: func() string { return "rep" }}
		gate := NewGate()
		done := q.Execute(ctx, []Job{{RunID: ids[0], TaskID: id, TaskKey: "aborted", Queue: "q", Queued: true, QueueEpoch: "e1", ScheduledAt: due}}, gate)
		gate.Abort()
		<-done[0]
		r, err := models.GetRun(ctx, db, ids[0])
		must(t, err)
		if r.Status != models.RunQueued || r.QueueEpoch != "" || !r.RetryAt.Time.Equal(due) {
			t.Fatalf("row %s epoch %q retry_at %v; want queued, unsent, due %v", r.Status, r.QueueEpoch, r.RetryAt.Time, due)
		}
		tr.mu.Lock()
		sent := len(tr.queues["q"])
		tr.mu.Unlock()
		if sent != 0 {
			t.Fatalf("%d jobs sent for a release that did not happen", sent)
		}
	})
}
