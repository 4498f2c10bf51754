package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/models"
)

// sweeper keeps the queues true to the rows, every heartbeat:
//
//   - rows queued under another epoch than their queue's (its store lost
//     its content: Redis restarted empty, FLUSHALL, evicted keys), or
//     under none (recovered from a dead worker, handed back, or not sent
//     when the queue did not answer), are sent again;
//   - jobs delivered to a worker declared dead and not acknowledged are
//     taken from it: those whose row is still queued (the worker died
//     before taking them) are sent again, the others dropped (the rescuer
//     decides for a row the dead worker took);
//   - a dead worker's personal queue, once no row waits on it, is deleted
//     from the transport (once per worker and process);
//   - the rows a dead replica handed to a queue and no worker took are
//     marked to be sent again (once per replica and process): it may have
//     died between the hand-off's commit and the send.
//
// A job sent twice is harmless: a worker takes the row before it runs it,
// and only one take succeeds.
type sweeper struct {
	cfg   Config
	db    *models.DB
	log   *slog.Logger
	clock clockwork.Clock
	tab   *table
	tr    Transport
	dead  func(consumer string) bool
	// deadWorkers lists the workers known dead; forgotten, those whose
	// personal queue this sweeper deleted (pruned to that list).
	deadWorkers func() []string
	// deadReplicas lists the replicas known dead; resent, those whose
	// queued rows this sweeper marked to be sent again (pruned likewise).
	deadReplicas func() []string
	mu           sync.Mutex // over forgotten and resent: SweepOnce may be called beside the loop
	forgotten    map[string]bool
	resent       map[string]bool

	poke chan struct{}
	loop loop
}

// sweepBatch bounds the rows sent again per queue and sweep.
const sweepBatch = 1000

func (s *sweeper) Start() {
	s.loop.every(s.clock, s.cfg.Heartbeat, s.poke, func() {
		if err := s.SweepOnce(context.Background()); err != nil {
			s.log.Warn("queue sweep", "error", err)
		}
	})
}

func (s *sweeper) Stop() { s.loop.halt() }

// look asks for a sweep now: a run was put back on its queue.
func (s *sweeper) look() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// SweepOnce sends again what the queues may have lost.
func (s *sweeper) SweepOnce(ctx context.Context) error {
	if err := s.resendDead(ctx); err != nil {
		return err
	}
	names, err := models.QueuesInUse(ctx, s.db)
	if err != nil {
		return err
	}
	for _, name := range s.queues(names) {
		if owner, personal := personalOwner(name); personal && s.dead(owner) {
			if err := s.abandoned(ctx, name, owner); err != nil {
				s.log.Warn("queue sweep: a dead worker's queue", "queue", name, "error", err)
			}
			continue
		}
		if err := s.orphans(ctx, name); err != nil {
			s.log.Warn("queue sweep: orphaned jobs", "queue", name, "error", err)
		}
		if err := s.resend(ctx, name); err != nil {
			s.log.Warn("queue sweep: resend", "queue", name, "error", err)
		}
	}
	s.forgetDead(ctx, names)
	return nil
}

// resendDead marks the queued rows of dead replicas to be sent again,
// before this sweep's resends.
func (s *sweeper) resendDead(ctx context.Context) error {
	if s.deadReplicas == nil {
		return nil
	}
	dead := s.deadReplicas()
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	s.resent, err = onceEach(s.resent, dead, func(id string) (bool, error) {
		n, err := models.ResendQueuedOf(ctx, s.db, id)
		if n > 0 {
			s.log.Warn("queued runs of a dead replica sent again (it may have died before sending them)", "replica", id, "runs", n)
		}
		return err == nil, err
	})
	return err
}

// forgetDead deletes the personal queues of dead workers that no queued
// row waits on (inUse): each worker that dies, or is declared dead and
// registers again, would leave one behind. A row queued there later (a
// replica that had not seen the death yet) is moved by abandoned all the
// same: the rows are the truth, the transport only their carrier.
func (s *sweeper) forgetDead(ctx context.Context, inUse []string) {
	if s.deadWorkers == nil {
		return
	}
	busy := make(map[string]bool, len(inUse))
	for _, n := range inUse {
		busy[n] = true
	}
	dead := s.deadWorkers()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgotten, _ = onceEach(s.forgotten, dead, func(id string) (bool, error) {
		name := personalQueue(id)
		if busy[name] {
			return false, nil
		}
		if err := s.tr.Forget(ctx, name); err != nil {
			s.log.Warn("queue sweep: a dead worker's queue not deleted", "queue", name, "error", err)
			return false, nil
		}
		return true, nil
	})
}

// onceEach calls do for each of ids not done before (done), and returns
// the ids done now or before: a set that keeps no id gone from the list
// (the registry forgets the dead after an hour). It stops at do's first
// error, returning the ids done so far.
func onceEach(done map[string]bool, ids []string, do func(id string) (bool, error)) (map[string]bool, error) {
	kept := make(map[string]bool, len(ids))
	for _, id := range ids {
		if done[id] {
			kept[id] = true
			continue
		}
		ok, err := do(id)
		if err != nil {
			return kept, err
		}
		if ok {
			kept[id] = true
		}
	}
	return kept, nil
}

// queues are the queues in use by rows, and those the table's tasks name.
func (s *sweeper) queues(inUse []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, n := range inUse {
		add(n)
	}
	for _, n := range s.tab.queueNames() {
		add(n)
	}
	return out
}

// orphans takes the jobs dead workers held and sends again those whose
// row is still queued.
func (s *sweeper) orphans(ctx context.Context, name string) error {
	ds, err := s.tr.Orphans(ctx, name, s.dead)
	if err != nil || len(ds) == 0 {
		return err
	}
	ids := make([]int64, 0, len(ds))
	acks := make([]string, 0, len(ds))
	for _, d := range ds {
		acks = append(acks, d.ID)
		if d.Err == nil {
			ids = append(ids, d.Job.RunID)
		}
	}
	// Rows still queued are marked to be sent again; the others were taken
	// (the rescuer's) or closed.
	if err := models.SentRuns(ctx, s.db, ids, "", s.clock.Now()); err != nil {
		return err
	}
	s.log.Warn("jobs taken back from dead workers", "queue", name, "jobs", len(ds))
	return s.tr.Ack(ctx, name, acks)
}

// abandoned empties the personal queue of a dead worker: a shard moves to
// its task's queue, for any worker; a broadcast run, meant for that
// worker, is lost.
func (s *sweeper) abandoned(ctx context.Context, name, owner string) error {
	rows, err := models.ListQueuedOn(ctx, s.db, name, sweepBatch)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	for _, row := range rows {
		ent, _, ok := s.tab.scheduled(row.TaskID)
		switch {
		case !ok:
			err = closeUnscheduled(ctx, s.db, row.ID, models.RunQueued, "queued run", now)
		case ent.opts.Route == RouteBroadcast:
			_, err = models.CloseRun(ctx, s.db, row.ID, models.RunQueued, models.RunLost,
				fmt.Sprintf("lost: its worker %s died before taking this broadcast run", owner), now, now)
		default:
			ok, err = models.MoveQueued(ctx, s.db, row.ID, name, ent.queue, now)
			if ok {
				s.log.Warn("shard moved from a dead worker's queue", "task_key", row.TaskKey, "exec_id", row.ID, "worker", owner, "queue", ent.queue)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// resend sends the rows queued on name that its current epoch lacks.
func (s *sweeper) resend(ctx context.Context, name string) error {
	epoch, err := s.tr.Epoch(ctx, name)
	if err != nil {
		return err
	}
	rows, err := models.ListUnsent(ctx, s.db, name, epoch, s.clock.Now(), sweepBatch)
	if err != nil || len(rows) == 0 {
		return err
	}
	now := s.clock.Now()
	jobs := make([]Job, 0, len(rows))
	ids := make([]int64, 0, len(rows))
	for _, row := range rows {
		ent, next, ok := s.tab.scheduled(row.TaskID)
		if !ok {
			if err := closeUnscheduled(ctx, s.db, row.ID, models.RunQueued, "queued run", now); err != nil {
				return err
			}
			continue
		}
		args, err := runArgs(ctx, s.db, ent, row)
		if err != nil {
			if _, err := models.CloseRun(ctx, s.db, row.ID, models.RunQueued, models.RunFailed, fmt.Sprintf("queued run not run: %v", err), now, time.Time{}); err != nil {
				return err
			}
			continue
		}
		jobs = append(jobs, rowJob(ent, row, args, next, "", name))
		ids = append(ids, row.ID)
	}
	if len(jobs) == 0 {
		return nil
	}
	got, err := s.tr.Send(ctx, name, jobs)
	if err != nil {
		return err
	}
	s.log.Info("queued runs sent again", "queue", name, "runs", len(jobs), "epoch", got)
	return models.SentRuns(ctx, s.db, ids, got, now)
}
