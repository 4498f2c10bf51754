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

// Runner is the in-process Executor: it runs jobs in this process's
// goroutines, at most maxConcurrent at once, keeps their leases, and
// records their outcomes through a Recorder.
type Runner struct {
	reg         *tasks.Registry
	log         *slog.Logger
	clock       clockwork.Clock
	rec         Recorder
	obs         Observer
	outputLimit int
	// timeoutGrace is how long a function that ignores its cancelled
	// context is waited for before its run is recorded without it.
	timeoutGrace time.Duration
	leases       *leaseKeeper

	sem    chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	active map[int64]*runState
	// starting counts released runs whose function has not started yet:
	// outcome writers hold their batches until it is 0 (at most
	// holdWrites), so the database's threads do not take the cores runs
	// due at the same instant need to start. gated counts, per gate not
	// yet released, the jobs waiting on it (guarded by mu).
	starting atomic.Int64
	gated    map[*Gate]int64
	draining atomic.Bool
	// returned, when set, is told of each run whose function returned (or
	// was abandoned, or never started), before its outcome is recorded: a
	// worker takes its next job then, not once the outcome is written.
	returned func(runID int64)
	// queueSlots, when set, returns the semaphore bounding the runs of a
	// queue (a worker's concurrency per queue); nil falls back to sem.
	queueSlots func(queue string) chan struct{}
}

const holdWrites = 100 * time.Millisecond

// NewRunner returns a runner that runs at most maxConcurrent jobs at
// once and renews their leases every lease/6.
func NewRunner(db *models.DB, reg *tasks.Registry, log *slog.Logger, clock clockwork.Clock, rec Recorder, obs Observer,
	maxConcurrent, outputLimit int, lease time.Duration) *Runner {
	r := &Runner{
		reg: reg, log: log, clock: clock, rec: rec, obs: obs, outputLimit: outputLimit, timeoutGrace: time.Second,
		sem:    make(chan struct{}, maxConcurrent),
		active: map[int64]*runState{},
		gated:  map[*Gate]int64{},
	}
	r.leases = newLeaseKeeper(db, clock, log, lease, func(id int64, cause error) { r.Cancel(id, cause) })
	return r
}

// Start starts renewing leases.
func (r *Runner) Start() { r.leases.Start() }

// errShutdown is the cause of a run cancelled by shutdown.
var errShutdown = errors.New("daemon shutting down")

// runState is one job in this process, from Execute to its recorded
// outcome: one allocation where closures would cost several per run.
type runState struct {
	r      *Runner
	job    Job
	gate   *Gate
	ctx    context.Context // cancelled by Cancel, replace and shutdown
	cancel context.CancelCauseFunc
	done   chan struct{}
	held   bool // holds a slot of sem
	sem    chan struct{}

	// Set before running is.
	run           *tasks.Run
	runCtx        context.Context // ctx, with the job's timeout
	cancelTimeout context.CancelFunc
	start         time.Time

	running   atomic.Bool // the function has been called
	reported  atomic.Bool // the outcome is taken: by the run, or the watchdog
	abandoned atomic.Bool // the watchdog took the outcome
}

// Execute starts each job in a goroutine, held by gate, and returns at once.
func (r *Runner) Execute(ctx context.Context, jobs []Job, gate *Gate) []<-chan struct{} {
	done := make([]<-chan struct{}, len(jobs))
	if gate != nil {
		r.mu.Lock()
		r.gated[gate] += int64(len(jobs))
		r.mu.Unlock()
		gate.OnRelease(func() { r.released(gate) })
	}
	for i, job := range jobs {
		st := &runState{r: r, job: job, gate: gate, done: make(chan struct{})}
		st.ctx, st.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
		if r.draining.Load() {
			st.cancel(errShutdown)
		}
		r.mu.Lock()
		r.active[job.RunID] = st
		r.mu.Unlock()
		r.leases.track(job)
		r.wg.Add(1)
		go st.execute()
		done[i] = st.done
	}
	return done
}

// released counts a gate's jobs as starting, just before it opens.
func (r *Runner) released(g *Gate) {
	r.mu.Lock()
	r.starting.Add(r.gated[g])
	delete(r.gated, g)
	r.mu.Unlock()
}

// waitStarts waits, at most holdWrites, until the released runs have
// started: database writes that can wait do, so the database's threads
// leave the cores to them.
func (r *Runner) waitStarts() {
	for wait := time.Duration(0); r.starting.Load() > 0 && wait < holdWrites; wait += time.Millisecond {
		time.Sleep(time.Millisecond)
	}
}

// execute waits for the job's gate and a slot, then runs the function in
// this goroutine and records the outcome.
func (st *runState) execute() {
	r, job := st.r, st.job
	p := r.prepare(job)
	released := false // counted in r.starting
	if st.gate != nil {
		select {
		case <-st.gate.Wait():
			released = true
		case <-st.ctx.Done():
			r.mu.Lock()
			if _, waiting := r.gated[st.gate]; waiting {
				if r.gated[st.gate]--; r.gated[st.gate] == 0 {
					delete(r.gated, st.gate)
				}
			} else {
				released = true
			}
			r.mu.Unlock()
		}
		if st.gate.Aborted() {
			// Not to start: the run is no longer this replica's to run.
			if released {
				r.starting.Add(-1)
			}
			st.release()
			return
		}
	}
	select {
	case st.slots() <- struct{}{}:
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

// slots is the semaphore the run waits on: its queue's, on a worker that
// bounds each queue apart, else the runner's.
func (st *runState) slots() chan struct{} {
	st.sem = st.r.sem
	if st.r.queueSlots != nil {
		if s := st.r.queueSlots(st.job.Queue); s != nil {
			st.sem = s
		}
	}
	return st.sem
}

// end records the outcome and lets the job go; it is called once.
func (st *runState) end(f models.Finish, noRetry bool) {
	if st.held {
		<-st.sem
	}
	if st.r.returned != nil {
		st.r.returned(st.job.RunID)
	}
	st.r.rec.Record(st.job, f, noRetry)
	st.release()
}

// release forgets the job.
func (st *runState) release() {
	r := st.r
	r.leases.untrack(st.job.RunID)
	r.mu.Lock()
	delete(r.active, st.job.RunID)
	r.mu.Unlock()
	st.cancel(nil)
	close(st.done)
	r.wg.Done()
}

// Cancel cancels a run of this process, if it has it: its function's
// context ends, and a function still running a grace period later is
// abandoned.
func (r *Runner) Cancel(id int64, cause error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.active[id]
	if ok {
		st.cancel(cause)
		st.watch(false)
	}
	return ok
}

// CancelOwner cancels every run held for owner: an owner declared dead
// no longer owns them, so their outcomes would not be recorded anyway.
func (r *Runner) CancelOwner(owner string, cause error) int {
	r.mu.Lock()
	var ids []int64
	for id, st := range r.active {
		if st.job.Owner == owner {
			ids = append(ids, id)
		}
	}
	r.mu.Unlock()
	for _, id := range ids {
		r.Cancel(id, cause)
	}
	return len(ids)
}

// prepared is a run made ready before its start.
type prepared struct {
	run *tasks.Run
	fn  tasks.Func
}

func (r *Runner) prepare(job Job) prepared {
	run := tasks.NewRun(r.outputLimit)
	run.TaskID, run.TaskKey, run.Args, run.Extra = job.TaskID, job.TaskKey, job.Args, job.Extra
	run.ExecID, run.TraceID, run.ScheduledAt, run.Attempt = job.RunID, job.TraceID, job.ScheduledAt, job.Attempt
	run.ShardIndex, run.ShardTotal = job.Shard, job.Shards
	run.Logger = slog.New(runHandler{Handler: r.log.Handler(), taskKey: job.TaskKey, traceID: job.TraceID, execID: job.RunID})
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
				st.watch(false)
			}
		})
	}
	st.start = r.clock.Now()
	if log := p.run.Logger; log.Enabled(st.ctx, slog.LevelDebug) {
		log.Debug("run started", "scheduled_at", job.ScheduledAt, "attempt", job.Attempt)
	}
	r.obs.RunStarted(job, st.start)
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
// after its context was cancelled: of the engine's clock, or, at
// shutdown (real), of real time.
func (st *runState) watch(real bool) {
	abandon := func() {
		if st.running.Load() { // else its goroutine notices the cancel itself
			st.abandoned.Store(true)
			st.finish(st.runCtx.Err())
		}
	}
	if real {
		time.AfterFunc(st.r.timeoutGrace, abandon)
		return
	}
	go func() {
		<-st.r.clock.After(st.r.timeoutGrace)
		abandon()
	}()
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
		if st.abandoned.Load() {
			msg += "; the function did not return"
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

// Drain takes no more jobs, waits for running ones until ctx ends, then
// cancels the rest: a function that honours its context records itself
// as interrupted; one that does not is abandoned after the grace period
// and recorded as interrupted with its start time and duration. It
// returns how many runs it cut off.
func (r *Runner) Drain(ctx context.Context) int {
	r.draining.Store(true)
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	defer r.leases.Stop()
	select {
	case <-done:
		return 0
	case <-ctx.Done():
	}
	r.mu.Lock()
	cut := make([]*runState, 0, len(r.active))
	for _, st := range r.active {
		cut = append(cut, st)
	}
	r.mu.Unlock()
	for _, st := range cut {
		st.cancel(errShutdown)
		st.watch(true)
	}
	select {
	case <-done:
	case <-time.After(2*r.timeoutGrace + time.Second):
		r.log.Warn("runs not recorded after shutdown", "count", len(r.active))
	}
	return len(cut)
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
