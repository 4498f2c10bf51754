package engine

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/models"
)

// rescuer takes over the runs of owners that are gone. Every heartbeat it
// declares dead the replicas and workers whose beats stopped for
// dead_after, then rescues the running rows they hold; every sync
// interval it also rescues rows whose lease ran out (the backstop: an
// owner that beats but lost touch with a run). A run its owner never let
// start (no run_start row of the owner holds it, and it has no start
// time) is requeued to run elsewhere, still the same attempt; one it let
// start may have run, so it is lost, and the task's max_retries decides
// whether another attempt runs. Of several replicas rescuing one row,
// exactly one does.
type rescuer struct {
	cfg   Config
	db    *models.DB
	log   *slog.Logger
	clock clockwork.Clock
	obs   Observer
	tab   *table
	host  string
	// due is told when a requeued run or a next attempt is due.
	due func(at time.Time)
	// continuous reports whether this replica's own beats are unbroken:
	// only then may it judge that others stopped beating.
	continuous func(now time.Time) bool
	// recovered, when set, is told a run went back on its queue.
	recovered func()

	lastScan time.Time
	loop     loop
}

func (r *rescuer) Start() {
	r.loop.every(r.clock, r.cfg.Heartbeat, nil, func() {
		ctx, now := context.Background(), r.clock.Now()
		err := r.rescueDead(ctx, now)
		if err == nil && now.Sub(r.lastScan) >= r.cfg.SyncInterval {
			r.lastScan = now
			err = r.rescueExpired(ctx, now)
		}
		if err != nil {
			r.log.Warn("rescue", "error", err)
		}
	})
}

func (r *rescuer) Stop() { r.loop.halt() }

// RescueOnce declares silent owners dead and rescues their runs, then
// the runs whose lease ran out. The loop does the first every heartbeat
// and the second every sync interval.
func (r *rescuer) RescueOnce(ctx context.Context) error {
	now := r.clock.Now()
	if err := r.rescueDead(ctx, now); err != nil {
		return err
	}
	return r.rescueExpired(ctx, now)
}

// rescueDead declares silent owners dead and rescues the runs of dead
// owners.
func (r *rescuer) rescueDead(ctx context.Context, now time.Time) error {
	if !r.continuous(now) {
		r.log.Debug("not judging other replicas: this one's own heartbeats were interrupted")
	} else {
		dead, err := models.MarkDeadReplicas(ctx, r.db, now.Add(-r.cfg.DeadAfter), now, fmt.Sprintf("no heartbeat for %s", r.cfg.DeadAfter))
		if err != nil {
			return err
		}
		for _, id := range dead {
			r.log.Warn("replica declared dead: no heartbeat", "replica", id, "dead_after", r.cfg.DeadAfter)
		}
	}
	owners, err := models.DeadOwners(ctx, r.db)
	if err != nil {
		return err
	}
	for _, owner := range owners {
		runs, err := models.ListRunningByOwner(ctx, r.db, owner, 1000)
		if err != nil {
			return err
		}
		if err := r.rescue(ctx, runs, now, "was declared dead (no heartbeat)"); err != nil {
			return err
		}
	}
	return nil
}

// rescueExpired rescues the runs whose lease ran out, and clears what
// dead owners left behind.
func (r *rescuer) rescueExpired(ctx context.Context, now time.Time) error {
	stale, err := models.ListStaleRuns(ctx, r.db, now.Add(-r.cfg.Lease), 1000)
	if err != nil {
		return err
	}
	if err := r.rescue(ctx, stale, now, "stopped renewing the lease"); err != nil {
		return err
	}
	if err := models.ForgetRunStarts(ctx, r.db); err != nil {
		return err
	}
	_, err = models.PruneReplicas(ctx, r.db, now.Add(-24*time.Hour))
	return err
}

// rescue requeues or loses each run, as its owner let it start or not.
func (r *rescuer) rescue(ctx context.Context, runs []models.ExecuteTask, now time.Time, why string) error {
	// Of the rows never marked started, those in a run_start row of their
	// owner were let go before it died.
	started := map[string]map[int64]time.Time{}
	for _, run := range runs {
		if run.StartedAt.Valid || started[run.Owner] != nil {
			continue
		}
		var ids []int64
		for _, o := range runs {
			if o.Owner == run.Owner && !o.StartedAt.Valid {
				ids = append(ids, o.ID)
			}
		}
		var err error
		if started[run.Owner], err = models.StartedRuns(ctx, r.db, run.Owner, ids); err != nil {
			return err
		}
	}
	for _, run := range runs {
		if run.Queue != "" {
			if ent, _, ok := r.tab.scheduled(run.TaskID); ok && ent.recovers(run) {
				if err := r.recover(ctx, run, ent.queue, now, why); err != nil {
					return err
				}
				continue
			}
		}
		at, let := started[run.Owner][run.ID]
		if !run.StartedAt.Valid && !let {
			// Claimed but never started: nothing ran, so any replica may run it.
			ok, err := models.Requeue(ctx, r.db, run.ID, run.Owner+" ("+run.Host+")", now)
			if err != nil {
				return err
			}
			if ok {
				r.log.Warn("run requeued: its owner died before starting it", "task_key", run.TaskKey, "exec_id", run.ID, "owner", run.Owner)
				r.obs.Requeued(run.TaskKey, run.ID, run.Owner)
				r.due(now)
			}
			continue
		}
		if err := r.lose(ctx, run, at, now, why); err != nil {
			return err
		}
	}
	return nil
}

// recover puts a queued run whose worker is gone back on its task's queue
// (entry.recovers): it runs again elsewhere, the same attempt.
func (r *rescuer) recover(ctx context.Context, run models.ExecuteTask, queue string, now time.Time, why string) error {
	note := fmt.Sprintf("recovered: its worker %s (%s) %s; sent again to queue %s", run.Owner, run.Host, why, queue)
	ok, err := models.RecoverRun(ctx, r.db, run.ID, run.Owner, queue, note, now)
	if err != nil || !ok {
		return err
	}
	r.log.Warn("run recovered from a dead worker (on_lost recover)", "task_key", run.TaskKey, "exec_id", run.ID, "owner", run.Owner, "queue", queue)
	r.obs.Requeued(run.TaskKey, run.ID, run.Owner)
	if r.recovered != nil {
		r.recovered()
	}
	return nil
}

// lose closes a run as lost and writes its next attempt, if its task
// wants one, in one transaction.
func (r *rescuer) lose(ctx context.Context, run models.ExecuteTask, startedAt, now time.Time, why string) error {
	msg := fmt.Sprintf("lost: its owner %s (%s) %s; last heartbeat %s UTC",
		run.Owner, run.Host, why, run.HeartbeatAt.Time.UTC().Format("2006-01-02 15:04:05"))
	first := run.ID
	if run.FirstID.Valid {
		first = run.FirstID.Int64
	}
	next, retry := nextAttemptClaim(r.tab, now, r.host, run.TaskID, run.TaskKey, run.ScheduledAt.Time, run.Attempt, first, run.Shard, run.ShardTotal)
	var children []models.Claim
	if !retry {
		children = childClaims(r.tab, now, r.host, run.TaskID, run.ID, models.RunLost)
	}
	tx, err := r.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	ok, err := models.CloseRun(ctx, tx, run.ID, models.RunRunning, models.RunLost, msg, now, startedAt)
	if err != nil || !ok {
		return err // another replica took it
	}
	if err := models.FinishTaskRun(ctx, tx, run.TaskID, models.TaskReady, models.RunLost, msg); err != nil {
		return err
	}
	if retry {
		children = []models.Claim{next}
	}
	if len(children) > 0 {
		if _, err := models.ClaimRuns(ctx, tx, children); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	r.log.Warn("run lost", "task_key", run.TaskKey, "trace_id", run.TraceID, "exec_id", run.ID, "owner", run.Owner, "reason", why)
	r.obs.RunLost(run.TaskKey, run.ID, run.Owner)
	switch {
	case retry:
		r.log.Info("retry scheduled", "task_key", run.TaskKey, "attempt", next.Attempt, "at", next.RetryAt)
		r.obs.Retried(run.TaskKey, next.Attempt, next.RetryAt)
		r.due(next.RetryAt)
	case len(children) > 0:
		r.due(now)
	}
	return nil
}
