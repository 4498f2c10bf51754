package engine

import (
	"context"
	"fmt"
	"time"

	"taskrunner/models"
)

// BackfillPlan is what a backfill of a task between two instants would
// do: its fire times in the range, oldest first, and which of them
// execute_task already accounts for (those are not run again).
type BackfillPlan struct {
	TaskKey string
	Times   []time.Time
	Done    []bool // Done[i]: Times[i] already ran, or is recorded skipped or missed
}

// Pending returns the fire times a backfill would run.
func (p BackfillPlan) Pending() []time.Time {
	var out []time.Time
	for i, at := range p.Times {
		if !p.Done[i] {
			out = append(out, at)
		}
	}
	return out
}

// BackfillReport is what a backfill did.
type BackfillReport struct {
	Plan    BackfillPlan
	Started int // runs started (each recorded with its own fire time)
	Taken   int // fire times another replica or run took meanwhile (the unique fire key)
	Skipped int // fire times recorded skipped at their claim
}

// maxBackfill is the most fire times one backfill covers.
const maxBackfill = 100000

// PlanBackfill lists the fire times of a scheduled task from from to to
// (both included), and which of them already ran: the dry run of
// Backfill.
func (e *Engine) PlanBackfill(ctx context.Context, key string, from, to time.Time) (BackfillPlan, error) {
	ent, _, ok := e.tab.byKey(key)
	if !ok {
		return BackfillPlan{}, fmt.Errorf("%w: %q", ErrNotScheduled, key)
	}
	now := e.clock.Now()
	switch {
	case !from.Before(to) && !from.Equal(to):
		return BackfillPlan{}, fmt.Errorf("backfill: from (%s) is after to (%s)", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	case to.After(now):
		return BackfillPlan{}, fmt.Errorf("backfill: to (%s) is in the future; the schedule runs those fire times itself", to.UTC().Format(time.RFC3339))
	}
	plan := BackfillPlan{TaskKey: key}
	for at := ent.sched.Next(from.Add(-time.Nanosecond)); !at.IsZero() && !at.After(to); at = ent.sched.Next(at) {
		if len(plan.Times) == maxBackfill {
			return BackfillPlan{}, fmt.Errorf("backfill: more than %d fire times between %s and %s; narrow the range",
				maxBackfill, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
		}
		plan.Times = append(plan.Times, at)
	}
	if len(plan.Times) == 0 {
		return plan, nil
	}
	spans, err := models.AccountedFires(ctx, e.db, []int64{ent.task.ID}, from.Add(-time.Nanosecond), to)
	if err != nil {
		return BackfillPlan{}, err
	}
	missing, _ := unaccounted(ent, from.Add(-time.Nanosecond), to, spans[ent.task.ID])
	isMissing := make(map[time.Time]bool, len(missing))
	for _, at := range missing {
		isMissing[at] = true
	}
	plan.Done = make([]bool, len(plan.Times))
	for i, at := range plan.Times {
		plan.Done[i] = !isMissing[at]
	}
	return plan, nil
}

// backfillWait is how often a backfill looks again while a run of its
// task blocks the next fire time (overlap forbid or max_parallel).
const backfillWait = 100 * time.Millisecond

// backfillOne claims and starts one fire time of a backfill. While the
// task's overlap policy refuses it (a live run is going), it waits and
// tries again, rather than recording the fire time skipped for good.
func (e *Engine) backfillOne(ctx context.Context, key string, at time.Time) (fireResult, error) {
	for {
		ent, next, ok := e.tab.byKey(key)
		if !ok {
			return fireResult{}, fmt.Errorf("%w: %q (it stopped during the backfill)", ErrNotScheduled, key)
		}
		res := e.dispatcher.dispatch(ctx, nil, []*entry{ent}, at, next, models.SourceBackfill)
		if !res.deferred {
			return res, nil
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-e.clock.After(backfillWait):
		}
	}
}

// Backfill runs the fire times of a task between from and to that have
// not run, oldest first, one at a time, at least every apart: a fire time
// its task's overlap policy refuses (a live run is going) waits for it; each is a
// run of its own fire time (source backfill), claimed through the unique
// fire key, so a fire time that ran (or runs meanwhile) is not run again.
// It returns when the last run is recorded, or when ctx ends.
func (e *Engine) Backfill(ctx context.Context, key string, from, to time.Time, every time.Duration) (BackfillReport, error) {
	plan, err := e.PlanBackfill(ctx, key, from, to)
	if err != nil {
		return BackfillReport{}, err
	}
	rep := BackfillReport{Plan: plan}
	for i, at := range plan.Pending() {
		if i > 0 && every > 0 {
			select {
			case <-ctx.Done():
				return rep, ctx.Err()
			case <-e.clock.After(every):
			}
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		res, err := e.backfillOne(ctx, key, at)
		if err != nil {
			return rep, err
		}
		switch {
		case res.err != nil:
			return rep, res.err
		case res.skipped != "":
			rep.Skipped++
		case len(res.ids) == 0:
			rep.Taken++
		default:
			rep.Started++
			<-res.done[0]
		}
	}
	return rep, nil
}
