package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"time"

	"github.com/google/uuid"

	"taskrunner/models"
)

// dispatch claims the fire at for every member, applying each one's
// overlap policy against the runs going in the whole cluster, and
// executes the runs this replica won. It returns a channel per executed
// run, closed once the run is recorded.
//
// g is the group firing (nil for catch-ups and late fires): it remembers
// how long recording its runs started took.
func (e *Engine) dispatch(ctx context.Context, g *group, members []*entry, at, next time.Time, source string) []<-chan struct{} {
	if g != nil {
		defer e.settle(g, at)
	}
	if len(members) == 0 || e.stopped.Load() {
		return nil
	}
	var check []int64
	for _, m := range members {
		if m.opts.Overlap != OverlapAllow || m.opts.MaxParallel > 0 {
			check = append(check, m.task.ID)
		}
	}
	var running map[int64][]models.RunningRun
	if len(check) > 0 {
		err := e.again(func() (err error) {
			running, err = models.ListRunningByTask(ctx, e.db, check)
			return err
		})
		if err != nil {
			e.fireFailed(members, at, err)
			return nil
		}
	}
	now := e.clock.Now()
	claims := make([]models.Claim, len(members))
	replaces := map[int][]models.RunningRun{}
	for i, m := range members {
		c := models.Claim{
			TaskID: m.task.ID, TaskKey: m.task.Key, ScheduledAt: at, Attempt: 1, Source: source,
			TraceID: uuid.NewString(), Host: e.host, Owner: e.owner, StartedAt: now,
		}
		if rs := running[m.task.ID]; len(rs) > 0 {
			switch m.opts.Overlap {
			case OverlapForbid:
				c.Status, c.Error = models.RunSkipped, fmt.Sprintf("run %d is still running (overlap forbid)", rs[0].ID)
			case OverlapReplace:
				replaces[i] = rs
			case OverlapAllow:
				if len(rs) >= m.opts.MaxParallel {
					c.Status, c.Error = models.RunSkipped, fmt.Sprintf("%d runs are still running (overlap allow, max_parallel %d)", len(rs), m.opts.MaxParallel)
				}
			}
		}
		claims[i] = c
	}
	var ids []int64
	claimStart := e.clock.Now()
	err := e.again(func() (err error) {
		ids, err = models.ClaimRuns(ctx, e.db, claims)
		return err
	})
	claimTook := e.clock.Since(claimStart)
	if err != nil {
		e.fireFailed(members, at, err)
		return nil
	}
	var fired []int64
	for i, id := range ids {
		if id != 0 {
			fired = append(fired, claims[i].TaskID)
			if claims[i].Status == models.RunSkipped {
				e.log.Info("fire skipped", "task_key", claims[i].TaskKey, "scheduled_at", at, "reason", claims[i].Error)
			}
		}
	}
	if len(fired) == 0 {
		return nil
	}
	// A schedule's rows say "doing" before the runs start (their outcome
	// sets them back). One that fires every few seconds would rewrite its
	// rows at every fire: they are told of its fires every fastPeriod
	// only, keep status ready, and are written once the runs have
	// started, leaving the database to the claims (catch-up reads the
	// last fire from execute_task, so nothing depends on them).
	fast := g != nil && !next.IsZero() && next.Sub(at) < fastPeriod
	markFired := func() {
		if err := e.again(func() error { return models.MarkTasksFired(ctx, e.db, fired, at, next, !fast) }); err != nil {
			e.log.Warn("fire claimed but task state not written", "error", err)
		}
	}
	var markLater func()
	switch {
	case !fast:
		markFired()
	case at.Sub(g.marked) >= fastPeriod:
		g.marked = at
		markLater = markFired
	}
	doneStatus := models.TaskReady
	if next.IsZero() {
		doneStatus = models.TaskDone
	}
	// Claimed ahead: the runs are prepared now and released together at
	// their time.
	gate := make(chan struct{})
	var done []<-chan struct{}
	var started []int64
	var replaced [][2]int64 // old run, new run
	for i, id := range ids {
		if id == 0 || claims[i].Status == models.RunSkipped {
			continue
		}
		started = append(started, id)
		for _, old := range replaces[i] {
			replaced = append(replaced, [2]int64{old.ID, id})
		}
		m := members[i]
		done = append(done, e.exec.Execute(ctx, Job{
			ExecID: id, Owner: e.owner, TaskID: m.task.ID, TaskKey: m.task.Key, Func: m.task.Func, Args: m.args,
			TraceID: claims[i].TraceID, ScheduledAt: at, Attempt: 1, Timeout: time.Duration(m.opts.Timeout),
			DoneStatus: doneStatus, Start: gate,
		}))
	}
	// Recorded as started just before they start: if this process dies
	// before, the runs are requeued; after, they are lost (at most once).
	// Recording late keeps that second window to a few milliseconds.
	lead := markLead
	if g != nil {
		lead = min(max(2*g.marking, markLead), max(e.cfg.ClaimAhead, markLead))
	}
	if wait := at.Add(-lead).Sub(e.clock.Now()); wait > 0 {
		<-e.clock.After(wait)
	}
	t0 := e.clock.Now()
	var startID int64
	if len(started) > 0 {
		err = e.again(func() (err error) {
			// ok (false while the owner has no live replica row) is not acted on yet.
			startID, _, err = models.StartRuns(ctx, e.db, e.owner, started, at)
			return err
		})
		if err != nil {
			e.log.Warn("runs not recorded as started; starting them anyway", "scheduled_at", at, "runs", len(started), "error", err)
		}
	}
	if g != nil {
		g.marking = e.clock.Since(t0)
	}
	// A fire of the regular schedule ready after its time says why.
	level, lateBy := slog.LevelDebug, e.clock.Now().Sub(at)
	if g != nil && lateBy > lateWarn {
		level = slog.LevelWarn
	}
	e.log.Log(ctx, level, "fire claimed", "schedule", groupKey(g), "scheduled_at", at, "claims", len(claims), "runs", len(started),
		"claim_took", claimTook, "start_record_took", e.clock.Since(t0), "late_by", lateBy)
	e.waitUntil(at, len(done) >= spinRuns)
	if r, ok := e.exec.(interface{ Release(<-chan struct{}) }); ok {
		r.Release(gate)
	}
	close(gate)
	if markLater != nil {
		go func() {
			e.runner.waitStarts()
			markLater()
		}()
	}
	if startID != 0 {
		// The run_start row is needed until every run it covers is
		// recorded.
		go func() {
			for _, d := range done {
				<-d
			}
			if err := e.again(func() error { return models.EndRunStart(context.Background(), e.db, startID) }); err != nil {
				e.log.Warn("run_start row left behind; a later sync deletes it", "error", err)
			}
		}()
	}
	for _, r := range replaced {
		e.cancelRun(ctx, r[0], fmt.Sprintf("replaced by run %d (overlap replace)", r[1]))
	}
	return done
}

// waitUntil returns at t. A timer wakes a goroutine a millisecond or two
// late, and up to 20 ms late on a busy machine. With spin, the timer is
// set spinEarly before t and the rest is spent yielding the processor
// until t: worth a few milliseconds of a core for a release of many runs.
func (e *Engine) waitUntil(t time.Time, spin bool) {
	if spin {
		if wait := t.Sub(e.clock.Now()) - spinEarly; wait > 0 {
			<-e.clock.After(wait)
		}
		// A fake clock (tests) does not move by itself: yield for as long
		// as spinEarly of real time, then wait for the clock.
		for deadline := time.Now().Add(spinEarly); e.clock.Now().Before(t) && time.Now().Before(deadline); {
			runtime.Gosched()
		}
	}
	if wait := t.Sub(e.clock.Now()); wait > 0 {
		<-e.clock.After(wait)
	}
}

const (
	// spinEarly is how long before a fire time its release stops sleeping.
	spinEarly = 3 * time.Millisecond
	// spinRuns is the least number of runs a release spins for.
	spinRuns = 100
)

// settle notes that a group's fire at is claimed, or failed to be: from
// now on a catch-up may look at it.
func (e *Engine) settle(g *group, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if at.After(g.settled) {
		g.settled = at
	}
}

// again runs f, and again up to 4 more times while it fails with a
// conflict between concurrent writers (replicas claiming the same rows).
func (e *Engine) again(f func() error) error {
	var err error
	for try := range 5 {
		if err = f(); err == nil || !models.IsConflict(err) {
			return err
		}
		time.Sleep(time.Duration(try+1) * 5 * time.Millisecond)
	}
	return err
}

// fastPeriod: schedules firing more often than this do not write their
// task rows at every fire.
const fastPeriod = 10 * time.Second

// lateWarn: a fire whose runs are ready later than this after its time
// is logged as a warning, with what took the time.
const lateWarn = 50 * time.Millisecond

func groupKey(g *group) string {
	if g == nil {
		return ""
	}
	return g.key
}

// markLead is the least time before their time a fire's runs are marked
// started; a group whose marking took longer marks twice that ahead.
const markLead = 10 * time.Millisecond

// fireFailed notes a fire that could not be claimed (the database is
// unreachable): the next successful sync treats it by the misfire policy.
func (e *Engine) fireFailed(members []*entry, at time.Time, err error) {
	e.log.Error("fire not claimed: database unavailable; handled by the misfire policy once it is back",
		"scheduled_at", at, "tasks", len(members), "error", err)
	e.mu.Lock()
	for _, m := range members {
		e.pendingCatchup[m.task.ID] = true
	}
	e.mu.Unlock()
}

// cancelRun closes a running run as cancelled; its owner cancels the
// function's context at once if it is this replica, or at its next
// heartbeat otherwise.
func (e *Engine) cancelRun(ctx context.Context, id int64, why string) {
	ok, err := models.CloseRun(ctx, e.db, id, models.RunRunning, models.RunCancelled, why, e.clock.Now(), time.Time{})
	if err != nil {
		e.log.Warn("cancel run", "exec_id", id, "error", err)
		return
	}
	if ok {
		e.runner.cancelLocal(id, fmt.Errorf("%s", why))
	}
}

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
func (e *Engine) late(members []*entry, times []time.Time, dropped int, now time.Time) {
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
		if len(skipped) > 0 || dropped > 0 {
			e.recordMissed(ms, skipped, dropped)
		}
		// Tasks that do not allow overlap run them one after another, as
		// catch-ups do: a run still being recorded must not make the next
		// fire look like an overlap.
		e.dispatchInOrder(ms, catchup, late, ms[0].sched.Next, !k.allow)
	}
}

// dispatchInOrder dispatches catch-up then late fire times, oldest first,
// for members; with wait, each fire's runs end before the next starts.
// next gives the next fire time to write to the rows after each one.
func (e *Engine) dispatchInOrder(members []*entry, catchup, late []time.Time, next func(time.Time) time.Time, wait bool) {
	for i, at := range slices.Concat(catchup, late) {
		source := models.SourceSchedule
		if i < len(catchup) {
			source = models.SourceCatchup
		}
		done := e.dispatch(context.Background(), nil, members, at, next(at), source)
		if wait {
			for _, d := range done {
				<-d
			}
		}
	}
}

// catchUp treats the fire times rows missed while nobody claimed them
// (all replicas down, or the database unreachable): from the later of
// last_fire_at and update_at (an edit starts a new schedule) up to the
// latest fire the group has claimed (or failed to), by planFires: later
// ones are on their way to their own claim. Rows that never fired have nothing to
// catch up. It runs in the background.
func (e *Engine) catchUp(rows []models.Task, now time.Time) {
	ids := make([]int64, len(rows))
	for i, t := range rows {
		ids[i] = t.ID
	}
	last, err := models.LastFires(context.Background(), e.db, ids)
	if err != nil {
		e.log.Error("catch up: read last fires", "error", err)
		return
	}
	for _, t := range rows {
		// The latest fire claimed: the row's last_fire_at may lag behind
		// for a schedule that fires every few seconds.
		if at, ok := last[t.ID]; ok && (!t.LastFireAt.Valid || at.After(t.LastFireAt.Time)) {
			t.LastFireAt.Time, t.LastFireAt.Valid = at, true
		}
		if !t.LastFireAt.Valid {
			continue
		}
		e.mu.Lock()
		ent := e.entries[t.ID]
		if ent == nil || ent.group == nil {
			e.mu.Unlock()
			continue
		}
		g := ent.group
		end, next := g.settled, g.sched.Next(g.cursor)
		e.mu.Unlock()

		from := t.LastFireAt.Time
		if t.UpdateAt.After(from) {
			from = t.UpdateAt
		}
		const maxCount = 100000
		var times []time.Time
		dropped := 0
		for at := ent.sched.Next(from); !at.IsZero() && !at.After(end); at = ent.sched.Next(at) {
			if len(times) == maxCount {
				times = times[1:]
				dropped++
			}
			times = append(times, at)
		}
		if len(times) == 0 {
			continue
		}
		late, catchup, skipped := planFires(ent.opts, times, now)
		if len(skipped) > 0 || dropped > 0 {
			e.recordMissed([]*entry{ent}, skipped, dropped)
		}
		if len(late)+len(catchup) == 0 {
			continue
		}
		e.log.Info("catching up missed fires", "task_key", t.Key, "catchup", len(catchup), "late", len(late), "misfire", ent.opts.Misfire)
		// One after another, oldest first: each waits for the one before.
		go e.dispatchInOrder([]*entry{ent}, catchup, late, func(time.Time) time.Time { return next }, true)
	}
}

// recordMissed writes, for each entry, one row (status missed, attempt 0)
// for a span of fire times that will not run, plus dropped older ones
// not listed. It is keyed by the first missed time, so replicas that
// compute the same span write it once.
func (e *Engine) recordMissed(ents []*entry, times []time.Time, dropped int) {
	if len(times) == 0 {
		return
	}
	n := fmt.Sprint(len(times) + dropped)
	if dropped > 0 {
		n = "at least " + n
	}
	msg := fmt.Sprintf("%s fire times up to %s were not run (misfire policy %s)", n,
		times[len(times)-1].Format("2006-01-02 15:04:05"), ents[0].opts.Misfire)
	if dropped == 0 {
		msg = fmt.Sprintf("%s fire times from %s to %s were not run (misfire policy %s)", n,
			times[0].Format("2006-01-02 15:04:05"), times[len(times)-1].Format("2006-01-02 15:04:05"), ents[0].opts.Misfire)
	}
	claims := make([]models.Claim, len(ents))
	for i, ent := range ents {
		claims[i] = models.Claim{
			TaskID: ent.task.ID, TaskKey: ent.task.Key, ScheduledAt: times[0], Attempt: 0, Source: models.SourceMisfire,
			TraceID: uuid.NewString(), Host: e.host, Owner: e.owner, StartedAt: e.clock.Now(), Status: models.RunMissed, Error: msg,
		}
	}
	if err := e.again(func() error { _, err := models.ClaimRuns(context.Background(), e.db, claims); return err }); err != nil {
		e.log.Error("record missed fires", "tasks", len(ents), "error", err)
		return
	}
	e.log.Warn("missed fires", "tasks", len(ents), "detail", msg)
}

// reapLost marks running rows whose owner stopped renewing their lease as
// lost, and retries them by their task's policy. Any replica may do it;
// for each row exactly one succeeds.
func (e *Engine) reapLost(ctx context.Context, now time.Time) error {
	stale, err := models.ListStaleRuns(ctx, e.db, now.Add(-e.cfg.Lease), 1000)
	if err != nil {
		return err
	}
	// Of the rows never marked started, those in a run_start row of their
	// owner were let go before it died.
	started := map[string]map[int64]time.Time{}
	for _, r := range stale {
		if r.StartedAt.Valid || started[r.Owner] != nil {
			continue
		}
		var ids []int64
		for _, o := range stale {
			if o.Owner == r.Owner && !o.StartedAt.Valid {
				ids = append(ids, o.ID)
			}
		}
		if started[r.Owner], err = models.StartedRuns(ctx, e.db, r.Owner, ids); err != nil {
			return err
		}
	}
	for _, r := range stale {
		if _, let := started[r.Owner][r.ID]; !r.StartedAt.Valid && !let {
			// Claimed but never started: nothing ran, so any replica may run it.
			ok, err := models.Requeue(ctx, e.db, r.ID, r.Owner+" ("+r.Host+")", now)
			if err != nil {
				return err
			}
			if ok {
				e.log.Warn("run requeued: its owner died before starting it", "task_key", r.TaskKey, "exec_id", r.ID, "owner", r.Owner)
			}
			continue
		}
		msg := fmt.Sprintf("lost: its owner %s (%s) stopped renewing the lease; last heartbeat %s UTC",
			r.Owner, r.Host, r.HeartbeatAt.Time.Format("2006-01-02 15:04:05"))
		ok, err := models.CloseRun(ctx, e.db, r.ID, models.RunRunning, models.RunLost, msg, now, started[r.Owner][r.ID])
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		e.log.Warn("run lost", "task_key", r.TaskKey, "trace_id", r.TraceID, "exec_id", r.ID, "owner", r.Owner)
		if err := models.FinishTaskRun(ctx, e.db, r.TaskID, models.TaskReady, models.RunLost, msg); err != nil {
			return err
		}
		first := r.ID
		if r.FirstID.Valid {
			first = r.FirstID.Int64
		}
		e.retry(ctx, r.TaskID, r.ScheduledAt.Time, r.Attempt, first)
	}
	return nil
}

// finished is told of every run this replica recorded: a failure or
// timeout is retried by the task's policy unless the function said not to.
func (e *Engine) finished(job Job, status string, noRetry bool) {
	if noRetry || (status != models.RunFailed && status != models.RunTimeout) {
		return
	}
	first := job.ExecID
	if job.FirstID != 0 {
		first = job.FirstID
	}
	e.retry(context.Background(), job.TaskID, job.ScheduledAt, job.Attempt, first)
}

// retry writes a pending row for the next attempt of a fire, if the
// task's max_retries allows one. The row survives a crash: any replica
// starts it once retry_at has come.
func (e *Engine) retry(ctx context.Context, taskID int64, at time.Time, attempt int, firstID int64) {
	e.mu.Lock()
	ent := e.entries[taskID]
	e.mu.Unlock()
	if ent == nil || ent.group == nil || attempt > ent.opts.MaxRetries {
		return
	}
	delay := ent.opts.retryDelay(attempt + 1)
	_, err := models.ClaimRuns(ctx, e.db, []models.Claim{{
		TaskID: taskID, TaskKey: ent.task.Key, ScheduledAt: at, Attempt: attempt + 1, FirstID: firstID, Source: models.SourceRetry,
		TraceID: uuid.NewString(), Host: e.host, Owner: e.owner, Status: models.RunPending, RetryAt: e.clock.Now().Add(delay),
	}})
	if err != nil {
		e.log.Error("schedule retry", "task_key", ent.task.Key, "attempt", attempt+1, "error", err)
		return
	}
	e.log.Info("retry scheduled", "task_key", ent.task.Key, "attempt", attempt+1, "in", delay)
	e.clock.AfterFunc(delay, func() {
		if err := e.startDueRetries(context.Background()); err != nil {
			e.log.Warn("start retries", "error", err)
		}
	})
}

// startDueRetries starts the pending retries whose time has come. Each
// sync calls it too, so retries written by a replica that died still run.
func (e *Engine) startDueRetries(ctx context.Context) error {
	e.retryMu.Lock()
	defer e.retryMu.Unlock()
	now := e.clock.Now()
	due, err := models.ListDueRetries(ctx, e.db, now, 1000)
	if err != nil {
		return err
	}
	for _, r := range due {
		e.mu.Lock()
		ent := e.entries[r.TaskID]
		var next time.Time
		if ent != nil && ent.group != nil {
			next = ent.group.sched.Next(ent.group.cursor)
		}
		e.mu.Unlock()
		if ent == nil || ent.group == nil {
			if _, err := models.CloseRun(ctx, e.db, r.ID, models.RunPending, models.RunSkipped, "retry not run: the task is no longer scheduled", now, time.Time{}); err != nil {
				return err
			}
			continue
		}
		ok, err := models.ClaimPending(ctx, e.db, r.ID, e.owner, e.host, now)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := models.MarkTasksFired(ctx, e.db, []int64{r.TaskID}, r.ScheduledAt.Time, next, true); err != nil {
			e.log.Warn("retry claimed but task state not written", "error", err)
		}
		doneStatus := models.TaskReady
		if next.IsZero() {
			doneStatus = models.TaskDone
		}
		e.exec.Execute(ctx, Job{
			ExecID: r.ID, Owner: e.owner, TaskID: r.TaskID, TaskKey: ent.task.Key, Func: ent.task.Func, Args: ent.args,
			TraceID: r.TraceID, ScheduledAt: r.ScheduledAt.Time, Attempt: r.Attempt, FirstID: r.FirstID.Int64,
			Timeout: time.Duration(ent.opts.Timeout), DoneStatus: doneStatus,
		})
	}
	return nil
}
