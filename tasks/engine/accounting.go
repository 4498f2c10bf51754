package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"taskrunner/models"
)

// Every fire time of a task, between its last accounted fire and now, is
// one of: ran (a run row, whatever its outcome), skipped with a reason,
// or inside a missed record. The timer and the dispatcher handle the
// fires as they come; what follows handles those that did not come:
// fires passed over while all replicas were down (at start), while the
// database was unreachable (gaps), or while the process stalled (late).
// It reads what execute_task accounts for, so it holds whatever order an
// outage, the sync and new fires come in.

// planFires splits fire times an entry did not get at their time: those
// within misfire_grace of now run as normal (late) fires; older ones
// follow the misfire policy, either run as catch-ups or skipped.
func planFires(o taskOptions, times []time.Time, now time.Time) (late, catchup, skipped []time.Time) {
	graceStart := now.Add(-time.Duration(o.MisfireGrace))
	var old []time.Time
	for _, at := range times {
		if at.After(graceStart) {
			late = append(late, at)
		} else {
			old = append(old, at)
		}
	}
	switch o.Misfire {
	case MisfireSkip:
		skipped = old
	case MisfireOnce:
		if len(old) > 0 {
			catchup, skipped = old[len(old)-1:], old[:len(old)-1]
		}
	case MisfireAll:
		cut := max(0, len(old)-o.MisfireMax)
		catchup, skipped = old[cut:], old[:cut]
	}
	return late, catchup, skipped
}

// late handles the fire times a group's timer passed over because the
// process stalled: members sharing misfire options share a plan, and
// each planned time is dispatched for all of them at once, oldest first.
func (d *dispatcher) late(members []*entry, times []time.Time, dropped int, now time.Time) {
	type key struct {
		misfire string
		grace   duration
		max     int
		allow   bool
	}
	classes := map[key][]*entry{}
	for _, m := range members {
		k := key{m.opts.Misfire, m.opts.MisfireGrace, m.opts.MisfireMax, m.opts.Overlap == OverlapAllow}
		classes[k] = append(classes[k], m)
	}
	for k, ms := range classes {
		late, catchup, skipped := planFires(ms[0].opts, times, now)
		d.recordMissed(ms, skipped, dropped)
		// Tasks that do not allow overlap run them one after another, as
		// catch-ups do: a run still being recorded must not make the next
		// fire look like an overlap.
		d.dispatchInOrder(ms, catchup, late, ms[0].sched.Next, !k.allow)
	}
}

// dispatchInOrder dispatches catch-up then late fire times, oldest first,
// for members; with wait, each fire's runs end before the next starts.
// next gives the next fire time to write to the rows after each one.
func (d *dispatcher) dispatchInOrder(members []*entry, catchup, late []time.Time, next func(time.Time) time.Time, wait bool) {
	for i, at := range slices.Concat(catchup, late) {
		source := models.SourceSchedule
		if i < len(catchup) {
			source = models.SourceCatchup
		}
		res := d.dispatch(context.Background(), nil, members, at, next(at), source)
		if wait {
			for _, c := range res.done {
				<-c
			}
		}
	}
}

// catchUp accounts, after the first sync, for the fire times rows missed
// while nobody claimed them (all replicas down): from the later of
// last_fire_at and update_at (an edit starts a new schedule). Rows that
// never fired have nothing to catch up.
func (d *dispatcher) catchUp(rows []models.Task, now time.Time) {
	after := map[int64]time.Time{}
	for _, t := range rows {
		if !t.LastFireAt.Valid {
			continue
		}
		from := t.LastFireAt.Time
		if t.UpdateAt.After(from) {
			from = t.UpdateAt
		}
		after[t.ID] = from
	}
	if err := d.account(context.Background(), after, now); err != nil {
		d.log.Error("catch up: fire times missed while no replica ran are not accounted for", "error", err)
	}
}

// settleGaps accounts for the fire times since the earliest fire that
// could not be claimed, once the database answers again. A fire that
// failed while it ran (its group's settled time was read before it) keeps
// the gaps, and they are settled again at once.
func (d *dispatcher) settleGaps(ctx context.Context) {
	d.settling.Lock()
	defer d.settling.Unlock()
	for {
		d.gapMu.Lock()
		if len(d.gaps) == 0 {
			d.gapMu.Unlock()
			return
		}
		after := make(map[int64]time.Time, len(d.gaps))
		for id, from := range d.gaps {
			after[id] = from.Add(-time.Nanosecond) // the failed fire itself counts
		}
		fails := d.gapFails
		d.gapMu.Unlock()
		if err := d.account(ctx, after, d.clock.Now()); err != nil {
			return // still unreachable: again at the next tick
		}
		d.gapMu.Lock()
		settled := fails == d.gapFails
		if settled {
			for id, from := range after {
				if d.gaps[id].Equal(from.Add(time.Nanosecond)) {
					delete(d.gaps, id)
				}
			}
		}
		d.gapMu.Unlock()
		if settled {
			return
		}
	}
}

// catchLock is the lock of a task's catch-ups.
func (d *dispatcher) catchLock(taskID int64) *sync.Mutex {
	d.catchMu.Lock()
	defer d.catchMu.Unlock()
	if d.catching == nil {
		d.catching = map[int64]*sync.Mutex{}
	}
	mu := d.catching[taskID]
	if mu == nil {
		mu = &sync.Mutex{}
		d.catching[taskID] = mu
	}
	return mu
}

// account makes sure every fire time of each task after after[task], up
// to its group's latest settled fire (later ones are on their way to
// their own claim), is accounted for: those execute_task has no row for
// are run or recorded missed by the task's misfire policy.
func (d *dispatcher) account(ctx context.Context, after map[int64]time.Time, now time.Time) error {
	type pending struct {
		ent   *entry
		after time.Time
		upto  time.Time
		next  time.Time
	}
	var ps []pending
	for id, from := range after {
		ent, next, ok := d.tab.scheduled(id)
		if !ok {
			continue
		}
		d.tab.mu.Lock()
		upto := ent.group.settled
		d.tab.mu.Unlock()
		if upto.After(from) {
			ps = append(ps, pending{ent, from, upto, next})
		}
	}
	// Tasks read together share a range: sorted by it, the ranges of a
	// chunk are close.
	slices.SortFunc(ps, func(a, b pending) int { return a.after.Compare(b.after) })
	for len(ps) > 0 {
		part := ps[:min(len(ps), 500)]
		ps = ps[len(part):]
		ids := make([]int64, len(part))
		lo, hi := part[0].after, part[0].upto
		for i, p := range part {
			ids[i] = p.ent.task.ID
			if p.upto.After(hi) {
				hi = p.upto
			}
		}
		spans, err := models.AccountedFires(ctx, d.db, ids, lo, hi)
		if err != nil {
			return err
		}
		for _, p := range part {
			missing, dropped := unaccounted(p.ent, p.after, p.upto, spans[p.ent.task.ID])
			if len(missing) == 0 && dropped == 0 {
				continue
			}
			late, catchup, skipped := planFires(p.ent.opts, missing, now)
			d.recordMissed([]*entry{p.ent}, skipped, dropped)
			if len(late)+len(catchup) == 0 {
				continue
			}
			d.log.Info("catching up missed fires", "task_key", p.ent.task.Key, "catchup", len(catchup), "late", len(late), "misfire", p.ent.opts.Misfire)
			next := p.next
			d.bg.Add(1)
			mu := d.catchLock(p.ent.task.ID)
			go func() { // one after another, oldest first: each waits for the one before
				defer d.bg.Done()
				mu.Lock() // after the task's catch-ups on their way: theirs are claimed, not run beside
				defer mu.Unlock()
				d.dispatchInOrder([]*entry{p.ent}, catchup, late, func(time.Time) time.Time { return next }, true)
			}()
		}
	}
	return nil
}

// maxAccounted is how many missing fire times of one task are listed; older
// ones are counted only.
const maxAccounted = 100000

// unaccounted returns the fire times of ent in (after, upto] that no span
// covers, oldest first (the latest maxAccounted), and how many older
// ones it left out.
func unaccounted(ent *entry, after, upto time.Time, spans []models.Span) (missing []time.Time, dropped int) {
	slices.SortFunc(spans, func(a, b models.Span) int { return a.From.Compare(b.From) })
	i := 0
	for at := ent.sched.Next(after); !at.IsZero() && !at.After(upto); at = ent.sched.Next(at) {
		for i < len(spans) && spans[i].To.Before(at) {
			i++
		}
		covered := false
		for j := i; j < len(spans) && !spans[j].From.After(at); j++ {
			if !spans[j].To.Before(at) {
				covered = true
				break
			}
		}
		if covered {
			continue
		}
		if len(missing) == maxAccounted {
			missing = missing[1:]
			dropped++
		}
		missing = append(missing, at)
	}
	return missing, dropped
}

// recordMissed writes, for each entry, one missed row (attempt 0) per
// unbroken stretch of fire times that will not run, plus dropped older
// ones not listed. It is keyed by the stretch's first time, so replicas
// that compute the same stretch write it once; extra says its last.
func (d *dispatcher) recordMissed(ents []*entry, times []time.Time, dropped int) {
	if len(times) == 0 || len(ents) == 0 {
		return
	}
	sched := ents[0].sched
	for len(times) > 0 {
		n := 1
		for n < len(times) && sched.Next(times[n-1]).Equal(times[n]) {
			n++
		}
		d.recordSpan(ents, times[:n], dropped)
		times, dropped = times[n:], 0
	}
}

func (d *dispatcher) recordSpan(ents []*entry, times []time.Time, dropped int) {
	first, last := times[0], times[len(times)-1]
	n := fmt.Sprint(len(times) + dropped)
	msg := fmt.Sprintf("%s fire times from %s to %s UTC were not run (misfire policy %s)", n,
		first.Format("2006-01-02 15:04:05"), last.Format("2006-01-02 15:04:05"), ents[0].opts.Misfire)
	if dropped > 0 {
		msg = fmt.Sprintf("at least %s fire times up to %s UTC were not run (misfire policy %s)", n,
			last.Format("2006-01-02 15:04:05"), ents[0].opts.Misfire)
	}
	extra, _ := json.Marshal(models.MissedExtra{Until: last.UTC()})
	claims := make([]models.Claim, len(ents))
	for i, ent := range ents {
		claims[i] = models.Claim{
			TaskID: ent.task.ID, TaskKey: ent.task.Key, ScheduledAt: first, Attempt: 0, Source: models.SourceMisfire,
			TraceID: uuid.NewString(), Host: d.host, Owner: d.owner(), StartedAt: d.clock.Now(), Status: models.RunMissed, Error: msg,
			Extra: string(extra),
		}
	}
	slices.SortFunc(claims, func(a, b models.Claim) int { return cmp.Compare(a.TaskID, b.TaskID) })
	if err := onConflictRepeat(func() error { _, err := models.ClaimRuns(context.Background(), d.db, claims); return err }); err != nil {
		d.log.Error("record missed fires", "tasks", len(ents), "error", err)
		return
	}
	d.log.Warn("missed fires", "tasks", len(ents), "detail", msg)
	for _, ent := range ents {
		d.obs.Missed(ent.task.Key, first, last, len(times)+dropped)
	}
}
