package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"taskrunner/models"
)

// dispatch claims the fire at for every member, applying each one's
// overlap policy against the runs going in the whole cluster, and
// executes the runs this replica won. It returns a channel per executed
// run, closed once the run is recorded.
func (e *Engine) dispatch(ctx context.Context, members []*entry, at, next time.Time, source string) []<-chan struct{} {
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
		var err error
		if running, err = models.ListRunningByTask(ctx, e.db, check); err != nil {
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
	ids, err := models.ClaimRuns(ctx, e.db, claims)
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
	if err := models.MarkTasksFired(ctx, e.db, fired, at, next); err != nil {
		e.log.Warn("fire claimed but task state not written", "error", err)
	}
	doneStatus := models.TaskReady
	if next.IsZero() {
		doneStatus = models.TaskDone
	}
	// Claimed ahead: the runs are prepared now and released together at
	// their time.
	gate := make(chan struct{})
	var done []<-chan struct{}
	var replaced [][2]int64 // old run, new run
	for i, id := range ids {
		if id == 0 || claims[i].Status == models.RunSkipped {
			continue
		}
		for _, old := range replaces[i] {
			replaced = append(replaced, [2]int64{old.ID, id})
		}
		m := members[i]
		done = append(done, e.exec.Execute(ctx, Job{
			ExecID: id, TaskID: m.task.ID, TaskKey: m.task.Key, Func: m.task.Func, Args: m.args,
			TraceID: claims[i].TraceID, ScheduledAt: at, Attempt: 1, Timeout: time.Duration(m.opts.Timeout),
			DoneStatus: doneStatus, Start: gate,
		}))
	}
	if wait := at.Sub(e.clock.Now()); wait > 0 {
		<-e.clock.After(wait)
	}
	close(gate)
	for _, r := range replaced {
		e.cancelRun(ctx, r[0], fmt.Sprintf("replaced by run %d (overlap replace)", r[1]))
	}
	return done
}

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
	ok, err := models.CloseRun(ctx, e.db, id, models.RunRunning, models.RunCancelled, why, e.clock.Now())
	if err != nil {
		e.log.Warn("cancel run", "exec_id", id, "error", err)
		return
	}
	if ok {
		e.runner.cancelLocal(id, fmt.Errorf("%s", why))
	}
}

// catchUp treats the fire times rows missed while nobody claimed them
// (all replicas down, or the database unreachable): from the later of
// last_fire_at and update_at (an edit starts a new schedule) up to the
// group's cursor. A time within misfire_grace of now runs as a normal
// (late) fire; older ones follow the misfire policy. Rows that never
// fired have nothing to catch up. It runs in the background.
func (e *Engine) catchUp(rows []models.Task, now time.Time) {
	for _, t := range rows {
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
		end, next := g.cursor, g.sched.Next(g.cursor)
		e.mu.Unlock()

		from := t.LastFireAt.Time
		if t.UpdateAt.After(from) {
			from = t.UpdateAt
		}
		const maxCount = 100000
		var late, old []time.Time
		capped := false
		for at := ent.sched.Next(from); !at.IsZero() && !at.After(end); at = ent.sched.Next(at) {
			if len(late)+len(old) >= maxCount {
				capped = true
				break
			}
			if at.After(now.Add(-time.Duration(ent.opts.MisfireGrace))) {
				late = append(late, at)
			} else {
				old = append(old, at)
			}
		}
		if len(late)+len(old) == 0 {
			continue
		}
		var run, skipped []time.Time
		switch ent.opts.Misfire {
		case MisfireSkip:
			skipped = old
		case MisfireOnce:
			if len(old) > 0 {
				run, skipped = old[len(old)-1:], old[:len(old)-1]
			}
		case MisfireAll:
			cut := max(0, len(old)-ent.opts.MisfireMax)
			run, skipped = old[cut:], old[:cut]
		}
		if len(skipped) > 0 {
			e.recordMissed(ent, skipped, capped)
		}
		run = append(run, late...)
		if len(run) == 0 {
			continue
		}
		e.log.Info("catching up missed fires", "task_key", t.Key, "runs", len(run), "misfire", ent.opts.Misfire, "first", run[0])
		go func() {
			// One after another, oldest first: each waits for the one before.
			for _, at := range run {
				source := models.SourceCatchup
				if at.After(now.Add(-time.Duration(ent.opts.MisfireGrace))) {
					source = models.SourceSchedule // late, but within grace: a normal run
				}
				for _, d := range e.dispatch(context.Background(), []*entry{ent}, at, next, source) {
					<-d
				}
			}
		}()
	}
}

// recordMissed writes one row (status missed, attempt 0) for a span of
// fire times that will not run. It is keyed by the first missed time, so
// replicas that compute the same span write it once.
func (e *Engine) recordMissed(ent *entry, times []time.Time, capped bool) {
	n := fmt.Sprint(len(times))
	if capped {
		n = "at least " + n
	}
	msg := fmt.Sprintf("%s fire times from %s to %s were not run (misfire policy %s)", n,
		times[0].Format("2006-01-02 15:04:05"), times[len(times)-1].Format("2006-01-02 15:04:05"), ent.opts.Misfire)
	_, err := models.ClaimRuns(context.Background(), e.db, []models.Claim{{
		TaskID: ent.task.ID, TaskKey: ent.task.Key, ScheduledAt: times[0], Attempt: 0, Source: models.SourceMisfire,
		TraceID: uuid.NewString(), Host: e.host, Owner: e.owner, StartedAt: e.clock.Now(), Status: models.RunMissed, Error: msg,
	}})
	if err != nil {
		e.log.Error("record missed fires", "task_key", ent.task.Key, "error", err)
		return
	}
	e.log.Warn("missed fires", "task_key", ent.task.Key, "detail", msg)
}

// reapLost marks running rows whose owner stopped renewing their lease as
// lost, and retries them by their task's policy. Any replica may do it;
// for each row exactly one succeeds.
func (e *Engine) reapLost(ctx context.Context, now time.Time) error {
	stale, err := models.ListStaleRuns(ctx, e.db, now.Add(-e.cfg.Lease), 1000)
	if err != nil {
		return err
	}
	for _, r := range stale {
		msg := fmt.Sprintf("lost: its owner %s (%s) stopped renewing the lease; last heartbeat %s UTC",
			r.Owner, r.Host, r.HeartbeatAt.Time.Format("2006-01-02 15:04:05"))
		ok, err := models.CloseRun(ctx, e.db, r.ID, models.RunRunning, models.RunLost, msg, now)
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
			if _, err := models.CloseRun(ctx, e.db, r.ID, models.RunPending, models.RunSkipped, "retry not run: the task is no longer scheduled", now); err != nil {
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
		if err := models.MarkTasksFired(ctx, e.db, []int64{r.TaskID}, r.ScheduledAt.Time, next); err != nil {
			e.log.Warn("retry claimed but task state not written", "error", err)
		}
		doneStatus := models.TaskReady
		if next.IsZero() {
			doneStatus = models.TaskDone
		}
		e.exec.Execute(ctx, Job{
			ExecID: r.ID, TaskID: r.TaskID, TaskKey: ent.task.Key, Func: ent.task.Func, Args: ent.args,
			TraceID: r.TraceID, ScheduledAt: r.ScheduledAt.Time, Attempt: r.Attempt, FirstID: r.FirstID.Int64,
			Timeout: time.Duration(ent.opts.Timeout), DoneStatus: doneStatus,
		})
	}
	return nil
}
