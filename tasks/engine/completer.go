package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"taskrunner/models"
)

// completer writes outcomes in batches: one statement completes up to
// 500 runs, instead of a commit each. Before writing a batch it decides,
// for each failed or timed-out run, whether the task's policy wants
// another attempt, and writes that attempt's pending row in the same
// transaction as the outcome, so a crash cannot leave one without the
// other. Outcomes are fenced: a run whose row no longer says running
// under the outcome's owner and attempt keeps what it says.
type completer struct {
	db    *models.DB
	log   *slog.Logger
	clock clockwork.Clock
	obs   Observer
	tab   followUps
	host  string
	// hold, when set, waits (briefly) while released runs are still
	// starting: writes that can wait do, leaving the cores to the starts.
	hold func()
	// due is told of each next attempt written, with its time.
	due func(at time.Time)

	outcomes chan outcome
	// backlog counts the outcomes handed to Record and not yet written:
	// queued, gathered into a batch, or being written.
	backlog  atomic.Int64
	quit     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	// ctx bounds the retrying of writes that fail transiently: it ends at
	// the shutdown deadline.
	ctx    context.Context
	cancel context.CancelFunc
}

// outcome is a finished run waiting to be written.
type outcome struct {
	job     Job
	f       models.Finish
	noRetry bool
	written chan struct{}
}

const (
	writers    = 4
	batchSize  = 500
	batchDelay = 20 * time.Millisecond // how long a writer gathers a batch
)

func (c *completer) Start() {
	c.outcomes = make(chan outcome, batchSize)
	c.quit = make(chan struct{})
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for range writers {
		c.wg.Add(1)
		go c.writeLoop()
	}
}

// Stop lets the writers finish their batches; outcomes recorded later
// are written one at a time by their caller.
func (c *completer) Stop() {
	c.stopOnce.Do(func() { close(c.quit) })
	c.wg.Wait()
}

// Abandon ends the retrying of writes that keep failing (the shutdown
// deadline passed): what is not written is logged.
func (c *completer) Abandon() { c.cancel() }

// Record hands the outcome to the writers and returns once it is written.
func (c *completer) Record(job Job, f models.Finish, noRetry bool) {
	if f.FinishedAt.IsZero() {
		f.FinishedAt = c.clock.Now()
	}
	o := outcome{job: job, f: f, noRetry: noRetry, written: make(chan struct{})}
	c.backlog.Add(1)
	defer c.backlog.Add(-1)
	select {
	case c.outcomes <- o:
		<-o.written
	case <-c.quit:
		c.flush([]outcome{o})
	}
}

// Backlog returns how many outcomes wait to be written.
func (c *completer) Backlog() int { return int(c.backlog.Load()) }

func (c *completer) writeLoop() {
	defer c.wg.Done()
	for {
		batch := make([]outcome, 0, batchSize)
		select {
		case o := <-c.outcomes:
			batch = append(batch, o)
		case <-c.quit:
			return
		}
		timer := time.NewTimer(batchDelay)
	gather:
		for len(batch) < batchSize {
			select {
			case o := <-c.outcomes:
				batch = append(batch, o)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		if c.hold != nil {
			c.hold()
		}
		c.flush(batch)
	}
}

// nextAttempt is the pending row of a run's next attempt, when its task
// wants one after this outcome.
func (c *completer) nextAttempt(job Job, status string, noRetry bool) (models.Claim, bool) {
	if noRetry || (status != models.RunFailed && status != models.RunTimeout) {
		return models.Claim{}, false
	}
	return nextAttemptClaim(c.tab, c.clock.Now(), c.host, job.TaskID, job.TaskKey, job.ScheduledAt, job.Attempt, job.first(), job.Shard, job.Shards)
}

// followUps is what an outcome's follow-ups are decided from: the options
// of a task (its retries, its child tasks) and the scheduled task holding
// a key. A replica's table is one; a worker's taskCache another.
type followUps interface {
	options(id int64) (taskOptions, bool)
	byKey(key string) (*entry, time.Time, bool)
}

// nextAttemptClaim builds the pending row of attempt+1 of a fire, if the
// task is still scheduled and its max_retries allows one.
//
// A shard's next attempt is the same shard, for any worker of the queue;
// a broadcast run (meant for one worker) gets none.
func nextAttemptClaim(tab followUps, now time.Time, host string, taskID int64, taskKey string, at time.Time, attempt int, firstID int64, shard, shards int) (models.Claim, bool) {
	opts, ok := tab.options(taskID)
	if !ok || attempt > opts.MaxRetries || opts.Route == RouteBroadcast {
		return models.Claim{}, false
	}
	return models.Claim{
		TaskID: taskID, TaskKey: taskKey, ScheduledAt: at, Attempt: attempt + 1, FirstID: firstID, Source: models.SourceRetry,
		TraceID: uuid.NewString(), Host: host, Status: models.RunPending, RetryAt: now.Add(opts.retryDelay(attempt + 1)),
		Shard: shard, Shards: shards,
	}, true
}

// childClaims are the pending rows of the child tasks (extra.then) a run
// that ended as status starts: due now, scheduled at now (each parent
// run starts each child once), their extra naming the parent run.
func childClaims(tab followUps, now time.Time, host string, taskID, runID int64, status string) []models.Claim {
	opts, ok := tab.options(taskID)
	if !ok || len(opts.Then) == 0 {
		return nil
	}
	var out []models.Claim
	at := now.UTC().Truncate(time.Microsecond)
	for _, rule := range opts.Then {
		if !rule.starts(status) {
			continue
		}
		child, _, ok := tab.byKey(rule.Key)
		if !ok {
			continue // not scheduled (disabled, in error, deleted): not started
		}
		out = append(out, models.Claim{
			TaskID: child.task.ID, TaskKey: child.task.Key, ScheduledAt: at, Attempt: 1, Source: models.SourceChild,
			TraceID: uuid.NewString(), Host: host, Status: models.RunPending, RetryAt: now,
			Extra: fmt.Sprintf(`{"parent_run":%d}`, runID),
		})
	}
	return out
}

// flush writes a batch of outcomes to execute_task and task.
func (c *completer) flush(batch []outcome) {
	rows := make([]models.Outcome, len(batch))
	byOutcome := map[models.TaskOutcome][]int64{}
	var next []models.Claim
	var nextFor []models.Outcome // the outcome each next attempt follows
	var fanIns []Job             // runs of sharded or broadcast fires that ended
	for i, o := range batch {
		rows[i] = models.Outcome{ID: o.job.RunID, TaskID: o.job.TaskID, TraceID: o.job.TraceID, Owner: o.job.Owner, Attempt: o.job.Attempt, Finish: o.f}
		done := o.job.DoneStatus
		if claim, ok := c.nextAttempt(o.job, o.f.Status, o.noRetry); ok {
			next, nextFor = append(next, claim), append(nextFor, rows[i])
			done = models.TaskReady
		} else if o.job.Shards > 0 {
			fanIns = append(fanIns, o.job) // the children wait for every run of the fire
		} else {
			for _, child := range childClaims(c.tab, c.clock.Now(), c.host, o.job.TaskID, o.job.RunID, o.f.Status) {
				next, nextFor = append(next, child), append(nextFor, rows[i])
			}
		}
		k := models.TaskOutcome{Status: done, RunStatus: o.f.Status, RunError: models.FitText(o.f.Error, 1000)}
		byOutcome[k] = append(byOutcome[k], o.job.TaskID)
	}
	var written []models.Claim
	if len(next) == 0 {
		c.finishRuns(rows)
	} else {
		written = c.finishWithNext(rows, next, nextFor)
	}
	c.persist("record task status", func(ctx context.Context) error { return models.FinishTaskRuns(ctx, c.db, byOutcome) })
	type fire struct {
		task int64
		at   time.Time
	}
	fannedIn := map[fire]bool{}
	for _, j := range fanIns {
		if f := (fire{j.TaskID, j.ScheduledAt}); !fannedIn[f] { // shards of one fire ended together: one look
			fannedIn[f] = true
			written = append(written, c.fanIn(j)...)
		}
	}
	for _, cl := range written {
		if cl.Source == models.SourceChild {
			c.log.Info("child task started", "task_key", cl.TaskKey, "parent", cl.Extra)
		} else {
			c.log.Info("retry scheduled", "task_key", cl.TaskKey, "attempt", cl.Attempt, "at", cl.RetryAt)
			c.obs.Retried(cl.TaskKey, cl.Attempt, cl.RetryAt)
		}
		if c.due != nil {
			c.due(cl.RetryAt)
		}
	}
	for _, o := range batch {
		c.obs.RunFinished(o.job, o.f)
		close(o.written)
	}
}

// fanIn starts the child tasks of a sharded or broadcast fire once its
// last run ended (after this one's outcome was written): success when
// every shard's last attempt succeeded, else failed. Whoever writes a
// fire's last outcomes sees them all ended; the children's rows are
// keyed on the fire time plus the stored precision (models.FireAfter,
// off the whole seconds of schedules), so of several writers one creates
// each.
func (c *completer) fanIn(j Job) []models.Claim {
	var claims []models.Claim
	c.persist("start the children of a sharded fire", func(ctx context.Context) error {
		claims = nil
		runs, err := models.FireRuns(ctx, c.db, j.TaskID, j.ScheduledAt)
		if err != nil {
			return err
		}
		status, ended := fireOutcome(runs)
		if !ended {
			return nil
		}
		for _, cl := range childClaims(c.tab, c.clock.Now(), c.host, j.TaskID, j.first(), status) {
			cl.ScheduledAt = models.FireAfter(c.db.Dialect(), j.ScheduledAt)
			claims = append(claims, cl)
		}
		if len(claims) == 0 {
			return nil
		}
		ids, err := models.ClaimRuns(ctx, c.db, claims)
		if err != nil {
			return err
		}
		won := claims[:0]
		for i, id := range ids {
			if id != 0 {
				won = append(won, claims[i])
			}
		}
		claims = won
		return nil
	})
	return claims
}

// fireOutcome reads the runs of one fire: whether they all ended, and as
// what for the child tasks: success when the last attempt of every shard
// succeeded, else failed.
func fireOutcome(runs []models.RunState) (status string, ended bool) {
	last := map[int]models.RunState{} // by shard
	for _, r := range runs {
		switch r.Status {
		case models.RunPending, models.RunQueued, models.RunRunning:
			return "", false
		}
		if r.Attempt == 0 {
			continue // a missed-fires record
		}
		if l, ok := last[r.Shard]; !ok || r.Attempt > l.Attempt {
			last[r.Shard] = r
		}
	}
	status = models.RunSuccess
	for _, r := range last {
		if r.Status != models.RunSuccess {
			status = models.RunFailed
		}
	}
	return status, len(last) > 0
}

// finishRuns writes outcomes; a batch that fails for good (a value the
// database refuses) is written run by run, so one bad outcome costs only
// its own row.
func (c *completer) finishRuns(rows []models.Outcome) {
	err := c.persist("record runs", func(ctx context.Context) error { return models.FinishRuns(ctx, c.db, rows) })
	if err == nil {
		return
	}
	if len(rows) == 1 {
		c.finishAlone(rows[0], err)
		return
	}
	for _, r := range rows {
		err := c.persist("record run", func(ctx context.Context) error { return models.FinishRuns(ctx, c.db, []models.Outcome{r}) })
		if err != nil {
			c.finishAlone(r, err)
		}
	}
}

// finishAlone writes an outcome the database refused, without its output
// and with a note, and reports whether that worked.
func (c *completer) finishAlone(r models.Outcome, cause error) bool {
	if cause == nil {
		return true
	}
	r.Output = ""
	r.Error = fmt.Sprintf("outcome not recorded as given (%v); error text: %s", cause, models.FitText(r.Error, 1000))
	err := c.persist("record run", func(ctx context.Context) error { return models.FinishRuns(ctx, c.db, []models.Outcome{r}) })
	if err != nil {
		c.log.Error("run outcome not recorded", "exec_id", r.ID, "status", r.Status, "error", err)
		return false
	}
	c.log.Warn("run outcome recorded without its output", "exec_id", r.ID, "status", r.Status, "cause", cause)
	return true
}

// finishWithNext writes outcomes and the next attempts they call for in
// one transaction. A next attempt is written only for an outcome the
// fence let in. It returns the attempts written.
func (c *completer) finishWithNext(rows []models.Outcome, next []models.Claim, nextFor []models.Outcome) []models.Claim {
	var written []models.Claim
	err := c.persist("record runs and retries", func(ctx context.Context) error {
		written = nil
		tx, err := c.db.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		if err := models.FinishRuns(ctx, tx, rows); err != nil {
			return err
		}
		ids := make([]int64, len(nextFor))
		for i, o := range nextFor {
			ids[i] = o.ID
		}
		took, err := models.RunsWithOutcome(ctx, tx, ids)
		if err != nil {
			return err
		}
		var claims []models.Claim
		for i, o := range nextFor {
			if st := took[o.ID]; st.Status == o.Status && st.Owner == o.Owner && st.Attempt == o.Attempt {
				claims = append(claims, next[i])
			}
		}
		if len(claims) > 0 {
			if _, err := models.ClaimRuns(ctx, tx, claims); err != nil {
				return err
			}
		}
		written = claims
		return tx.Commit()
	})
	if err != nil {
		// Refused for good: the outcomes alone, run by run.
		c.finishRuns(rows)
		return nil
	}
	return written
}

// persist runs a write until it succeeds or fails for good (a value the
// database refuses, which it returns), backing off up to 10 s while the
// database is unreachable; it gives up when the shutdown deadline passes.
func (c *completer) persist(what string, write func(ctx context.Context) error) error {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := write(c.ctx)
		if err == nil {
			if attempt > 1 {
				c.log.Info(what+": succeeded after retries", "attempts", attempt)
			}
			return nil
		}
		if models.IsPermanent(err) {
			return err
		}
		if attempt == 1 || attempt%10 == 0 {
			c.log.Error(what+": failed, retrying", "error", err, "attempt", attempt)
		}
		select {
		case <-c.ctx.Done():
			c.log.Error(what+": gave up at shutdown", "error", err)
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
}
