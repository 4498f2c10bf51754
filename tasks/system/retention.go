// Package system holds taskrunner's own tasks: functions registered like
// any other and a row in task that runs them, which a user sees in the
// console and the CLI and may disable (is_valid = 0). Today there is one,
// system_retention, which deletes old history.
package system

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/models"
	"taskrunner/tasks"
)

// Retention's function name and task key.
const (
	RetentionFunc = "system_retention"
	RetentionKey  = "system_retention"
	// RetentionSpec is the row's schedule when it is created: daily at
	// 03:30 in [app] timezone. The row is the user's to edit.
	RetentionSpec = "30 3 * * *"
)

// Register adds the system functions, which read and delete through db.
func Register(r *tasks.Registry, db *models.DB, cfg Config, opts ...Option) error {
	ret := &Retention{db: db, cfg: cfg, clock: clockwork.NewRealClock()}
	for _, o := range opts {
		o(ret)
	}
	if key, err := cfg.Validate(); err != nil {
		return fmt.Errorf("retention config %s: %w", key, err)
	}
	return r.Add(RetentionFunc, ret.Run)
}

// Option changes what Register builds.
type Option func(*Retention)

// WithClock sets the clock ages are measured on. Defaults to the real one.
func WithClock(c clockwork.Clock) Option { return func(r *Retention) { r.clock = c } }

// EnsureTask inserts the system_retention row when no row has its key, so
// a new database gets it and a user's edits (or is_valid = 0) stay. It
// reports whether it inserted the row. Replicas starting together may
// collide on the insert; the one refused finds the row on its retry.
func EnsureTask(ctx context.Context, db *models.DB) (bool, error) {
	t := models.Task{Key: RetentionKey, Func: RetentionFunc, Trigger: "cron", Spec: RetentionSpec, IsValid: 1,
		Desc: "Deletes run history past its age: [retention] in common.toml, extra.keep and extra.history per task"}
	ins, err := models.InsertTaskIfMissing(ctx, db, t)
	if err != nil {
		ins, err = models.InsertTaskIfMissing(ctx, db, t)
	}
	if err != nil {
		return false, fmt.Errorf("insert the %s task: %w", RetentionKey, err)
	}
	return ins, nil
}

// Retention deletes history past its age.
type Retention struct {
	db    *models.DB
	cfg   Config
	clock clockwork.Clock
}

// counts is what one run deleted.
type counts struct {
	runs, byTask, thinned, runStarts, audit int64
	batches                                 int
}

// Run is the system_retention task function: it deletes, in batches,
// execute_task rows past their age (Keep, or the task's extra.keep), the
// successes that extra.history "errors" does not keep, and old run_start
// and audit rows, and writes what it deleted to the run's output.
func (r *Retention) Run(ctx context.Context, run *tasks.Run) error {
	began := r.clock.Now()
	now := began.UTC()
	var c counts
	own, err := r.taskOptions(ctx, run)
	if err != nil {
		return err
	}
	var except []int64
	for id, o := range own {
		if o.Keep != nil {
			except = append(except, id)
		}
	}
	slices.Sort(except)
	step := func(what string, f func() error) {
		if err != nil {
			return
		}
		if e := f(); e != nil {
			err = fmt.Errorf("%s: %w", what, e)
		}
	}
	if r.cfg.Keep > 0 {
		step("execute_task", func() error { return r.deleteOld(ctx, now.Add(-time.Duration(r.cfg.Keep)), except, &c) })
	}
	for _, id := range except {
		step(fmt.Sprintf("task %d", id), func() error { return r.deleteTaskOld(ctx, id, now.Add(-time.Duration(*own[id].Keep)), &c) })
	}
	for id, o := range own {
		if o.History != HistoryErrors {
			continue
		}
		keep := r.cfg.Keep
		if o.Keep != nil {
			keep = *o.Keep
		}
		from := time.Unix(0, 0).UTC()
		if keep > 0 {
			from = now.Add(-time.Duration(keep))
		}
		step(fmt.Sprintf("task %d history", id), func() error { return r.thin(ctx, id, from, now.Truncate(time.Hour), &c) })
	}
	if r.cfg.RunStartKeep > 0 {
		step("run_start", func() error {
			return r.repeat(ctx, &c, &c.runStarts, func() (int64, error) {
				return models.DeleteRunStarts(ctx, r.db, now.Add(-time.Duration(r.cfg.RunStartKeep)), r.cfg.BatchSize)
			})
		})
	}
	if r.cfg.AuditKeep > 0 {
		step("audit", func() error {
			return r.repeat(ctx, &c, &c.audit, func() (int64, error) {
				return models.DeleteAudit(ctx, r.db, now.Add(-time.Duration(r.cfg.AuditKeep)), r.cfg.BatchSize)
			})
		})
	}
	took := r.clock.Since(began)
	run.Printf("execute_task: %d rows older than %s deleted\n", c.runs, ageOrForever(r.cfg.Keep))
	run.Printf("execute_task: %d rows of %d tasks with their own keep deleted\n", c.byTask, len(except))
	run.Printf("execute_task: %d successes thinned (history: errors)\n", c.thinned)
	run.Printf("run_start: %d rows deleted; audit: %d rows deleted\n", c.runStarts, c.audit)
	run.Printf("%d batches of at most %d rows in %s\n", c.batches, r.cfg.BatchSize, took.Round(time.Millisecond))
	run.Logger.InfoContext(ctx, "retention", "runs", c.runs, "runs_own_keep", c.byTask, "thinned", c.thinned,
		"run_start", c.runStarts, "audit", c.audit, "batches", c.batches, "took", took, "error", err)
	return err
}

func ageOrForever(a Age) string {
	if a == 0 {
		return "forever (keep = 0)"
	}
	return a.String()
}

// taskOptions reads the rows whose extra sets keep or history; a row
// whose options do not read is left out (all its runs kept by the
// default), and said in the run's log.
func (r *Retention) taskOptions(ctx context.Context, run *tasks.Run) (map[int64]taskOptions, error) {
	ts, err := models.TasksWithExtra(ctx, r.db, "keep", "history")
	if err != nil {
		return nil, fmt.Errorf("read task options: %w", err)
	}
	own := map[int64]taskOptions{}
	for _, t := range ts {
		o, err := parseTaskOptions(t.Extra)
		if err != nil {
			run.Logger.WarnContext(ctx, "retention: task options not applied", "task", t.Key, "error", err)
			run.Printf("task %s: %v: not applied\n", t.Key, err)
			continue
		}
		if o.Keep != nil || o.History == HistoryErrors {
			own[t.ID] = o
		}
	}
	return own, nil
}

// deleteOld deletes the runs created before cutoff, except those of the
// tasks in except, walking the primary key in ranges of BatchSize ids.
func (r *Retention) deleteOld(ctx context.Context, cutoff time.Time, except []int64, c *counts) error {
	lo, hi, ok, err := models.OldRunRange(ctx, r.db, cutoff)
	if err != nil || !ok {
		return err
	}
	for from := lo - 1; from < hi; from += int64(r.cfg.BatchSize) {
		n, err := models.DeleteOldRuns(ctx, r.db, from, min(from+int64(r.cfg.BatchSize), hi), cutoff, except)
		c.runs += n
		c.batches++
		if err != nil {
			return err
		}
		if err := r.pause(ctx); err != nil {
			return err
		}
	}
	return nil
}

// deleteTaskOld deletes one task's runs created before cutoff, a batch
// of ids at a time from the fire index.
func (r *Retention) deleteTaskOld(ctx context.Context, taskID int64, cutoff time.Time, c *counts) error {
	return r.repeat(ctx, c, &c.byTask, func() (int64, error) {
		ids, err := models.OldTaskRuns(ctx, r.db, taskID, cutoff, r.cfg.BatchSize)
		if err != nil || len(ids) == 0 {
			return 0, err
		}
		return models.DeleteRuns(ctx, r.db, ids)
	})
}

// thin deletes a task's successes scheduled in [from, to) but the first
// of each hour (UTC), a page of BatchSize at a time.
func (r *Retention) thin(ctx context.Context, taskID int64, from, to time.Time, c *counts) error {
	var keptHour time.Time
	var keptID int64
	for {
		page, err := models.TaskSuccesses(ctx, r.db, taskID, from, to, r.cfg.BatchSize)
		if err != nil {
			return err
		}
		var del []int64
		for _, rt := range page {
			h := rt.ScheduledAt.UTC().Truncate(time.Hour)
			switch {
			case rt.ID == keptID:
			case keptID == 0 || !h.Equal(keptHour):
				keptHour, keptID = h, rt.ID
			default:
				del = append(del, rt.ID)
			}
		}
		if len(del) > 0 {
			n, err := models.DeleteRuns(ctx, r.db, del)
			c.thinned += n
			c.batches++
			if err != nil {
				return err
			}
			if err := r.pause(ctx); err != nil {
				return err
			}
		}
		if len(page) < r.cfg.BatchSize || (len(del) == 0 && !keptHour.After(from)) {
			return nil
		}
		// What is left before keptHour is one success an hour: go on
		// from the hour kept last (its kept row is read again).
		from = keptHour
	}
}

// repeat runs del until it deletes less than a batch, counting into n.
func (r *Retention) repeat(ctx context.Context, c *counts, n *int64, del func() (int64, error)) error {
	for {
		k, err := del()
		*n += k
		if k > 0 || err != nil {
			c.batches++
		}
		if err != nil || k < int64(r.cfg.BatchSize) {
			return err
		}
		if err := r.pause(ctx); err != nil {
			return err
		}
	}
}

func (r *Retention) pause(ctx context.Context) error {
	if r.cfg.Pause <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.clock.After(r.cfg.Pause):
		return nil
	}
}
