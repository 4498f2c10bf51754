package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/models"
	"taskrunner/tasks"
)

// Job is a claimed run, ready to execute: its execute_task row exists
// and says running.
type Job struct {
	ExecID      int64
	TaskID      int64
	TaskKey     string
	Func        string
	Args        tasks.Args
	TraceID     string
	ScheduledAt time.Time
	Attempt     int
	FirstID     int64  // execute_task id of attempt 1; 0 for attempt 1 itself
	Owner       string // the replica that claimed it: only its outcome is recorded
	Timeout     time.Duration
	// DoneStatus is the task status once this run ends: ready, or done
	// for the last fire of a date task.
	DoneStatus string
	// Start, when not nil, holds the run until it is closed: the engine
	// prepares a fire's runs ahead of its time and releases them at once.
	Start <-chan struct{}
}

// Executor runs claimed jobs. The engine's default runs them in this
// process; one that hands them to a queue can take its place. Execute
// returns at once, with a channel closed when the job's outcome is
// recorded.
type Executor interface {
	Execute(ctx context.Context, job Job) <-chan struct{}
}

// Runner executes jobs in-process and records their outcome. It bounds
// how many run at once, and it is what a queue worker runs as well.
type Runner struct {
	db          *models.DB
	reg         *tasks.Registry
	log         *slog.Logger
	clock       clockwork.Clock
	outputLimit int
	// timeoutGrace is how long a function that ignores its cancelled
	// context is waited for before its run is recorded as timed out.
	timeoutGrace time.Duration

	// recorded, when set (by tests), receives each job once its outcome is written.
	recorded chan<- recordedRun
	// finished, when set, is told of each recorded outcome (the engine
	// decides retries there); noRetry is the function's NoRetry.
	finished func(job Job, status string, noRetry bool)

	sem    chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	active map[int64]*runState

	// Outcomes go to writers that complete them in batches: one
	// statement for up to 500 runs instead of one commit each.
	outcomes  chan outcome
	quit      chan struct{}
	closeOnce sync.Once
	// starting counts released runs whose function has not started yet:
	// the writers hold their batches until it is 0 (at most holdWrites),
	// so the database's threads do not take the cores runs due at the
	// same instant need to start. gated counts, per Start channel not yet
	// released, the jobs waiting on it (guarded by mu).
	starting atomic.Int64
	gated    map[<-chan struct{}]int64
}

// outcome is a finished run waiting to be written.
type outcome struct {
	job     *Job
	f       models.Finish
	noRetry bool
	written chan struct{}
}

const (
	writers    = 4
	batchSize  = 500
	batchDelay = 20 * time.Millisecond // how long a writer gathers a batch
	holdWrites = 100 * time.Millisecond
)

// runState is one job in this process, from Execute to its recorded
// outcome: one allocation where closures would cost several per run.
type runState struct {
	r      *Runner
	job    Job
	ctx    context.Context // cancelled by replace (cancelLocal) and shutdown
	cancel context.CancelCauseFunc
	done   chan struct{}
	held   bool // holds a slot of sem

	// Set before running is.
	run           *tasks.Run
	runCtx        context.Context // ctx, with the job's timeout
	cancelTimeout context.CancelFunc
	start         time.Time

	beat time.Time // when its lease was last renewed (guarded by the runner's mu)

	running  atomic.Bool // the function has been called
	reported atomic.Bool // the outcome is taken: by the run, or the watchdog
}

// NewRunner returns a runner that runs at most maxConcurrent jobs at once.
func NewRunner(db *models.DB, reg *tasks.Registry, log *slog.Logger, clock clockwork.Clock, maxConcurrent, outputLimit int) *Runner {
	r := &Runner{
		db: db, reg: reg, log: log, clock: clock, outputLimit: outputLimit, timeoutGrace: time.Second,
		sem:      make(chan struct{}, maxConcurrent),
		active:   map[int64]*runState{},
		gated:    map[<-chan struct{}]int64{},
		outcomes: make(chan outcome, batchSize),
		quit:     make(chan struct{}),
	}
	for range writers {
		go r.writeLoop()
	}
	return r
}

// Close stops the writers; outcomes recorded later are written one by one.
func (r *Runner) Close() { r.closeOnce.Do(func() { close(r.quit) }) }

// errShutdown is the cause of a run cancelled by shutdown.
var errShutdown = errors.New("daemon shutting down")

// Execute starts job in a goroutine and returns at once.
func (r *Runner) Execute(ctx context.Context, job Job) <-chan struct{} {
	st := &runState{r: r, job: job, done: make(chan struct{}), beat: r.clock.Now()} // the claim set its lease
	st.ctx, st.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	r.mu.Lock()
	r.active[job.ExecID] = st
	if job.Start != nil {
		r.gated[job.Start]++
	}
	r.mu.Unlock()
	r.wg.Add(1)
	go st.execute()
	return st.done
}

// execute waits for the job's start and a slot, then runs the function
// in this goroutine and records the outcome.
func (st *runState) execute() {
	r, job := st.r, st.job
	p := r.prepare(job)
	released := false // counted in r.starting
	if job.Start != nil {
		select {
		case <-job.Start:
			released = true
		case <-st.ctx.Done():
			r.mu.Lock()
			if _, waiting := r.gated[job.Start]; waiting {
				if r.gated[job.Start]--; r.gated[job.Start] == 0 {
					delete(r.gated, job.Start)
				}
			} else {
				released = true
			}
			r.mu.Unlock()
		}
	}
	select {
	case r.sem <- struct{}{}:
		st.held = true
	case <-st.ctx.Done():
	}
	if released {
		r.starting.Add(-1)
	}
	if !st.held {
		if st.reported.CompareAndSwap(false, true) {
			st.end(models.Finish{Status: models.RunInterrupted, Error: "cancelled before it started: " + context.Cause(st.ctx).Error()}, false)
		}
		return
	}
	st.call(p)
}

// end records the outcome and lets the job go; it is called once.
func (st *runState) end(f models.Finish, noRetry bool) {
	r := st.r
	if st.held {
		<-r.sem
	}
	r.record(&st.job, f, noRetry)
	r.mu.Lock()
	delete(r.active, st.job.ExecID)
	r.mu.Unlock()
	st.cancel(nil)
	close(st.done)
	r.wg.Done()
}

// waitStarts waits, at most holdWrites, until the released runs have
// started: database writes that can wait do, so the database's threads
// leave the cores to them.
func (r *Runner) waitStarts() {
	for wait := time.Duration(0); r.starting.Load() > 0 && wait < holdWrites; wait += time.Millisecond {
		time.Sleep(time.Millisecond)
	}
}

// Release is told just before start is closed: outcomes are written
// once the jobs waiting on it have started.
func (r *Runner) Release(start <-chan struct{}) {
	r.mu.Lock()
	r.starting.Add(r.gated[start])
	delete(r.gated, start)
	r.mu.Unlock()
}

// cancelLocal cancels a run of this process, if it has it.
func (r *Runner) cancelLocal(id int64, cause error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, ok := r.active[id]; ok {
		st.cancel(cause)
		st.watch()
	}
}

// Heartbeat renews the lease of this process's running runs last renewed
// longer than renewAfter ago (a run's claim is its first renewal: at
// 10,000 runs a second, most runs end long before they need one), and
// cancels those another replica closed meanwhile (replaced, or taken for
// lost while this process could not reach the database).
func (r *Runner) Heartbeat(ctx context.Context, renewAfter time.Duration) error {
	now := r.clock.Now()
	r.mu.Lock()
	ids := make([]int64, 0, len(r.active))
	var renew []int64
	for id, st := range r.active {
		ids = append(ids, id)
		if now.Sub(st.beat) >= renewAfter {
			renew = append(renew, id)
		}
	}
	r.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	if len(renew) > 0 {
		if err := models.Heartbeat(ctx, r.db, renew, now); err != nil {
			return err
		}
		r.mu.Lock()
		for _, id := range renew {
			if st := r.active[id]; st != nil {
				st.beat = now
			}
		}
		r.mu.Unlock()
	}
	closed, err := models.ListClosed(ctx, r.db, ids)
	if err != nil {
		return err
	}
	for id, status := range closed {
		r.cancelLocal(id, fmt.Errorf("run closed elsewhere as %s", status))
	}
	return nil
}

// prepared is a run made ready before its start.
type prepared struct {
	run *tasks.Run
	fn  tasks.Func
}

func (r *Runner) prepare(job Job) prepared {
	run := tasks.NewRun(r.outputLimit)
	run.TaskID, run.TaskKey, run.Args = job.TaskID, job.TaskKey, job.Args
	run.ExecID, run.TraceID, run.ScheduledAt, run.Attempt = job.ExecID, job.TraceID, job.ScheduledAt, job.Attempt
	run.Logger = slog.New(runHandler{Handler: r.log.Handler(), taskKey: job.TaskKey, traceID: job.TraceID, execID: job.ExecID})
	fn, _ := r.reg.Lookup(job.Func)
	return prepared{run: run, fn: fn}
}

// call calls the job's function in this goroutine and records its
// outcome. A function still running a grace period after its context is
// cancelled (timeout, shutdown, replaced) is abandoned by the watchdog:
// its outcome is recorded without it, and what it returns later is
// ignored.
func (st *runState) call(p prepared) {
	r, job := st.r, st.job
	st.run = p.run
	if p.fn == nil {
		st.reported.Store(true)
		st.end(models.Finish{Status: models.RunFailed, Error: fmt.Sprintf("%v %q", tasks.ErrUnknownFunc, job.Func)}, true)
		return
	}
	st.runCtx, st.cancelTimeout = st.ctx, func() {}
	stopWatch := func() bool { return false }
	if job.Timeout > 0 {
		st.runCtx, st.cancelTimeout = clockwork.WithTimeout(st.ctx, r.clock, job.Timeout)
		// Cancels by replace and shutdown start the watchdog themselves.
		stopWatch = context.AfterFunc(st.runCtx, func() {
			if st.ctx.Err() == nil {
				st.watch()
			}
		})
	}
	st.start = r.clock.Now()
	if log := p.run.Logger; log.Enabled(st.ctx, slog.LevelDebug) {
		log.Debug("run started", "scheduled_at", job.ScheduledAt, "attempt", job.Attempt)
	}
	st.running.Store(true)
	err := callRecovered(st.runCtx, p.fn, p.run)
	stopWatch()
	if r.starting.Load() > 0 {
		// Runs due at this instant are still starting: they go first,
		// this one's bookkeeping after.
		runtime.Gosched()
	}
	st.finish(err)
}

// watch abandons the function if it has not returned a grace period
// after its context was cancelled.
func (st *runState) watch() {
	go func() {
		<-st.r.clock.After(st.r.timeoutGrace)
		st.abandon()
	}()
}

func (st *runState) abandon() {
	if st.running.Load() { // else its goroutine notices the cancel itself
		st.finish(st.runCtx.Err())
	}
}

// finish records the outcome of the call, unless it is already taken.
func (st *runState) finish(err error) {
	if !st.reported.CompareAndSwap(false, true) {
		return
	}
	st.cancelTimeout()
	f, noRetry := st.outcome(err)
	st.end(f, noRetry)
}

// outcome is what a run that returned err (or was abandoned with its
// context's error) is recorded as.
func (st *runState) outcome(err error) (models.Finish, bool) {
	ctx, runCtx, job, run, start := st.ctx, st.runCtx, st.job, st.run, st.start
	elapsed := st.r.clock.Since(start)
	status, msg := models.RunSuccess, ""
	switch {
	case err == nil: // finished, even if a deadline passed meanwhile
	case errors.Is(context.Cause(ctx), errShutdown):
		status, msg = models.RunInterrupted, errShutdown.Error()
	case ctx.Err() != nil: // closed elsewhere: its row already says why
		status, msg = models.RunCancelled, context.Cause(ctx).Error()
	case runCtx.Err() != nil && job.Timeout > 0:
		status, msg = models.RunTimeout, fmt.Sprintf("timeout after %s", job.Timeout)
	case errors.Is(err, tasks.ErrSkipped):
		status, msg = models.RunSkipped, err.Error()
	default:
		status, msg = models.RunFailed, err.Error()
	}
	if status == models.RunInterrupted || status == models.RunTimeout {
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			msg += ": " + err.Error()
		}
	}
	if log := run.Logger; log.Enabled(ctx, slog.LevelInfo) {
		log.Info("run finished", "status", status, "duration", elapsed, "error", msg)
	}
	return models.Finish{Status: status, Error: msg, Output: run.OutputText(), StartedAt: start, Duration: elapsed},
		errors.Is(err, tasks.ErrNoRetry)
}

// callRecovered calls fn and turns a panic into an error with its stack.
func callRecovered(ctx context.Context, fn tasks.Func, run *tasks.Run) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(ctx, run)
}

// record hands the outcome to the writers and waits until it is written.
// While the database is unreachable the write is retried: a run that
// ends during an outage is recorded once the database is back.
func (r *Runner) record(job *Job, f models.Finish, noRetry bool) {
	f.FinishedAt = r.clock.Now()
	o := outcome{job: job, f: f, noRetry: noRetry, written: make(chan struct{})}
	select {
	case r.outcomes <- o:
		<-o.written
	case <-r.quit:
		r.flush([]outcome{o})
	}
}

func (r *Runner) writeLoop() {
	for {
		batch := make([]outcome, 0, batchSize)
		select {
		case o := <-r.outcomes:
			batch = append(batch, o)
		case <-r.quit:
			return
		}
		timer := time.NewTimer(batchDelay)
	gather:
		for len(batch) < batchSize {
			select {
			case o := <-r.outcomes:
				batch = append(batch, o)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		r.waitStarts()
		r.flush(batch)
	}
}

// flush writes a batch of outcomes to execute_task and task.
func (r *Runner) flush(batch []outcome) {
	ctx := context.Background()
	rows := make([]models.Outcome, len(batch))
	byOutcome := map[models.TaskOutcome][]int64{}
	for i, o := range batch {
		rows[i] = models.Outcome{ID: o.job.ExecID, TaskID: o.job.TaskID, TraceID: o.job.TraceID, Owner: o.job.Owner, Attempt: o.job.Attempt, Finish: o.f}
		k := models.TaskOutcome{Status: o.job.DoneStatus, RunStatus: o.f.Status, RunError: o.f.Error}
		byOutcome[k] = append(byOutcome[k], o.job.TaskID)
	}
	t0 := time.Now()
	retry(ctx, r.log, "record runs", func() error { return models.FinishRuns(ctx, r.db, rows) })
	t1 := time.Now()
	retry(ctx, r.log, "record task status", func() error { return models.FinishTaskRuns(ctx, r.db, byOutcome) })
	r.log.Debug("outcomes written", "runs", len(batch), "execute_task_took", t1.Sub(t0), "task_took", time.Since(t1))
	for _, o := range batch {
		if r.finished != nil {
			r.finished(*o.job, o.f.Status, o.noRetry)
		}
		if r.recorded != nil {
			r.recorded <- recordedRun{Job: *o.job, Status: o.f.Status, Error: o.f.Error}
		}
		close(o.written)
	}
}

// recordedRun is what tests are told when a run is written.
type recordedRun struct {
	Job    Job
	Status string
	Error  string
}

// Wait waits for running jobs until ctx ends, then cancels the rest and
// records them as interrupted. It returns how many were cut off.
func (r *Runner) Wait(ctx context.Context) int {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return 0
	case <-ctx.Done():
	}
	r.mu.Lock()
	cut := make([]*runState, 0, len(r.active))
	for _, st := range r.active {
		st.cancel(errShutdown)
		st.watch()
		cut = append(cut, st)
	}
	r.mu.Unlock()
	// A function that honours its context records itself within the
	// grace period; the rest are recorded here, and whatever they report
	// later finds its row closed.
	select {
	case <-done:
		return len(cut)
	case <-time.After(r.timeoutGrace):
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range cut {
		if _, still := r.active[a.job.ExecID]; still {
			f := models.Finish{Status: models.RunInterrupted, Error: errShutdown.Error() + "; the function did not return", FinishedAt: r.clock.Now()}
			if _, err := models.FinishRun(context.Background(), r.db, models.Outcome{ID: a.job.ExecID, Owner: a.job.Owner, Attempt: a.job.Attempt, Finish: f}); err != nil {
				r.log.Error("record interrupted run", "task_key", a.job.TaskKey, "trace_id", a.job.TraceID, "error", err)
			}
		}
	}
	return len(cut)
}

// retry calls f until it succeeds, backing off to 10s between tries. It
// gives up only when ctx ends.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			if attempt > 1 {
				log.Info(what+": succeeded after retries", "attempts", attempt)
			}
			return
		}
		if attempt == 1 || attempt%10 == 0 {
			log.Error(what+": failed, retrying", "error", err, "attempt", attempt)
		}
		select {
		case <-ctx.Done():
			log.Error(what+": gave up", "error", err)
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
}

// runHandler puts a run's identity on every line its function logs. It
// adds the attributes when a line is written: Logger.With formats them
// up front, which for 10,000 runs due at one instant costs more than the
// runs themselves.
type runHandler struct {
	slog.Handler
	taskKey, traceID string
	execID           int64
}

func (h runHandler) attrs() []slog.Attr {
	return []slog.Attr{slog.String("task_key", h.taskKey), slog.String("trace_id", h.traceID), slog.Int64("exec_id", h.execID)}
}

func (h runHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, rec.Message, rec.PC)
	out.AddAttrs(h.attrs()...)
	rec.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	return h.Handler.Handle(ctx, out)
}

func (h runHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.Handler.WithAttrs(append(h.attrs(), as...))
}

func (h runHandler) WithGroup(name string) slog.Handler {
	return h.Handler.WithAttrs(h.attrs()).WithGroup(name)
}
