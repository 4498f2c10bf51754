package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/models"
)

// retrier starts pending runs whose time has come: next attempts of
// failed, timed-out or lost runs (written by the completer and the
// rescuer, on any replica) and runs requeued from an owner that died
// before starting them. It looks every sync interval, and at the time of
// each next attempt this replica wrote.
type retrier struct {
	cfg   Config
	db    *models.DB
	log   *slog.Logger
	clock clockwork.Clock
	tab   *table
	exec  Executor
	host  string
	owner func() string

	mu   sync.Mutex // one startDue at a time
	poke chan struct{}
	loop loop
}

func (r *retrier) Start() {
	r.poke = make(chan struct{}, 1)
	r.loop.every(r.clock, r.cfg.SyncInterval, r.poke, func() {
		if err := r.startDue(context.Background()); err != nil {
			r.log.Warn("start due attempts", "error", err)
		}
	})
}

func (r *retrier) Stop() { r.loop.halt() }

// due asks for a look at at.
func (r *retrier) due(at time.Time) {
	if wait := at.Sub(r.clock.Now()); wait > 0 {
		r.clock.AfterFunc(wait, r.look)
		return
	}
	r.look()
}

func (r *retrier) look() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// startDue starts the pending runs whose time has come.
func (r *retrier) startDue(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	due, err := models.ListDueRetries(ctx, r.db, now, 1000)
	if err != nil {
		return err
	}
	owner := r.owner()
	for _, p := range due {
		ent, next, ok := r.tab.scheduled(p.TaskID)
		if !ok {
			if err := closeUnscheduled(ctx, r.db, p.ID, models.RunPending, "attempt", now); err != nil {
				return err
			}
			continue
		}
		args, ok, err := r.pendingArgs(ctx, ent, p, now)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		taken, err := models.ClaimPending(ctx, r.db, p.ID, owner, r.host, now)
		if err != nil {
			return err
		}
		if !taken {
			continue // another replica's, or this one was declared dead
		}
		if err := models.MarkTasksFired(ctx, r.db, []int64{p.TaskID}, p.ScheduledAt.Time, next, true); err != nil {
			r.log.Warn("attempt claimed but task state not written", "error", err)
		}
		r.exec.Execute(ctx, []Job{rowJob(ent, p, args, next, owner, ent.queue)}, nil)
	}
	return nil
}
