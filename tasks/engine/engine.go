// Package engine runs the task table: it keeps an in-process gocron
// scheduler in step with the rows and runs what it fires, on as many
// replicas as share the database, each fire once.
//
// It is a set of services, each with one job and its own loop, started
// and stopped by Engine in a stated order:
//
//   - registry: this replica's row in the replica table, beaten every
//     heartbeat; knows which owners are dead.
//   - completer: writes outcomes in batches, with the next attempt a
//     failure calls for, fenced by run id, attempt and owner.
//   - runner (the in-process Executor): runs jobs, keeps their leases.
//   - retrier: starts pending attempts and requeued runs when due.
//   - rescuer: declares silent replicas dead and takes over their runs;
//     the lease is the backstop.
//   - dispatcher: claims fires, releases their runs at their time, and
//     accounts for every fire time nobody claimed.
//   - timer: the gocron adapter, one gocron job per schedule group.
//   - syncer: the task table to schedule groups; SyncOnce reconciles once.
//   - sweeper (with a queue, WithQueue): sends again the queued runs a
//     queue lost, and empties dead workers' queues.
//
// With a queue, runs of the tasks that name one (and of the functions
// queued by default) are handed to it at their time, and a Worker (in
// this process or another) takes and runs them.
//
// Start brings them up in that order and Shutdown takes them down in
// the reverse one, so nothing is fired that cannot be run and nothing is
// run that cannot be recorded. A service failing a tick (a sync that
// cannot read the table) stops no other.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/models"
	"taskrunner/tasks"
)

// Option configures an Engine.
type Option func(*Engine)

// WithClock drives schedules, heartbeats and timestamps from c (a fake
// one in tests).
func WithClock(c clockwork.Clock) Option { return func(e *Engine) { e.clock = c } }

// WithObserver tells o what the engine does (metrics, alerts, tests);
// given several times, it tells each.
func WithObserver(o Observer) Option {
	return func(e *Engine) {
		if os, ok := e.obs.(observers); ok {
			e.obs = append(os, o)
		} else if _, nop := e.obs.(NopObserver); nop {
			e.obs = observers{o}
		} else {
			e.obs = observers{e.obs, o}
		}
	}
}

// WithVersion names the build in the replica table.
func WithVersion(v string) Option { return func(e *Engine) { e.version = v } }

// WithExecutor replaces the in-process runner: build is given the
// Recorder through which the executor records outcomes.
func WithExecutor(build func(Recorder) Executor) Option {
	return func(e *Engine) { e.buildExec = build }
}

// WithQueue sends runs to named queues over tr, for workers to run: the
// runs of a row whose extra names a queue, and of a function for which
// byDefault reports true (the generic kinds) on DefaultQueue. Other runs
// stay in the replica.
func WithQueue(tr Transport, byDefault func(fn string) bool) Option {
	return func(e *Engine) { e.transport, e.queueByDefault = tr, byDefault }
}

// Engine is the scheduler daemon's core. Create it with New.
type Engine struct {
	cfg       Config
	db        *models.DB
	reg       *tasks.Registry
	log       *slog.Logger
	clock     clockwork.Clock
	obs       Observer
	version   string
	host      string
	buildExec func(Recorder) Executor
	// transport carries queued runs to workers; nil: every run is local.
	transport      Transport
	queueByDefault func(fn string) bool

	tab        *table
	registry   *registry
	completer  *completer
	runner     *Runner // nil when another executor replaces it
	exec       Executor
	retrier    *retrier
	rescuer    *rescuer
	sweeper    *sweeper // nil without a transport
	dispatcher *dispatcher
	timer      *timer
	syncer     *syncer
	started    bool
}

// New builds an engine on db. Nothing runs until Start (or Run).
func New(cfg Config, db *models.DB, reg *tasks.Registry, log *slog.Logger, opts ...Option) (*Engine, error) {
	if key, err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("engine: config %s: %w", key, err)
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	e := &Engine{cfg: cfg, db: db, reg: reg, log: log.With("component", "engine"), clock: clockwork.NewRealClock(),
		obs: NopObserver{}, version: "dev", host: hostID(), tab: newTable()}
	for _, o := range opts {
		o(e)
	}
	e.registry = &registry{cfg: cfg, db: db, log: e.log, clock: e.clock, host: e.host, version: e.version}
	e.completer = &completer{db: db, log: e.log, clock: e.clock, obs: e.obs, tab: e.tab, host: e.host}
	if e.buildExec != nil {
		e.exec = e.buildExec(e.completer)
	} else {
		e.runner = NewRunner(db, reg, e.log, e.clock, e.completer, e.obs, cfg.MaxConcurrentRuns, cfg.OutputLimit, cfg.Lease)
		e.exec = e.runner
		e.completer.hold = e.runner.waitStarts
	}
	if e.transport != nil {
		e.exec = &router{local: e.exec, queue: &queueExec{db: db, tr: e.transport, clock: e.clock, log: e.log, owner: e.registry.ID}}
	}
	e.retrier = &retrier{cfg: cfg, db: db, log: e.log, clock: e.clock, tab: e.tab, exec: e.exec, host: e.host, owner: e.registry.ID}
	e.completer.due = e.retrier.due
	e.rescuer = &rescuer{cfg: cfg, db: db, log: e.log, clock: e.clock, obs: e.obs, tab: e.tab, host: e.host,
		due: e.retrier.due, continuous: e.registry.continuous}
	e.dispatcher = &dispatcher{cfg: cfg, db: db, log: e.log, clock: e.clock, obs: e.obs, tab: e.tab, exec: e.exec, host: e.host,
		owner: e.registry.ID, alive: e.registry.alive, workersOf: e.registry.workersOf, hold: e.completer.hold}
	if r, ok := e.exec.(*router); ok {
		e.dispatcher.queueEpoch = r.queue.epoch
	}
	if e.transport != nil {
		e.sweeper = &sweeper{cfg: cfg, db: db, log: e.log, clock: e.clock, tab: e.tab, tr: e.transport, dead: func(id string) bool { return !e.registry.alive(id) },
			deadWorkers: e.registry.deadWorkerIDs, deadReplicas: e.registry.deadReplicaIDs,
			poke: make(chan struct{}, 1)}
		e.rescuer.recovered = e.sweeper.look
	}
	e.registry.fenced = func(old string) {
		if e.runner != nil {
			if n := e.runner.CancelOwner(old, errDeclaredDead); n > 0 {
				e.log.Warn("runs cancelled: this replica lost them when it was declared dead", "count", n)
			}
		}
	}
	var err error
	if e.timer, err = newTimer(e.clock, cfg.ClaimAhead, cfg.ShutdownTimeout, e.log, e.dispatcher.fire); err != nil {
		return nil, err
	}
	e.syncer = &syncer{cfg: cfg, db: db, reg: reg, log: e.log, clock: e.clock, obs: e.obs, tab: e.tab, timer: e.timer,
		caughtUp: e.dispatcher.catchUp}
	if e.transport != nil {
		e.syncer.queueOf = func(fn, named string) string {
			switch {
			case named != "":
				return named
			case e.queueByDefault != nil && e.queueByDefault(fn):
				return DefaultQueue
			}
			return ""
		}
	}
	return e, nil
}

// Start registers this replica and starts every service but the sync
// loop; the schedule is empty until the first SyncOnce (Run does both).
func (e *Engine) Start(ctx context.Context) error {
	if err := e.registry.Start(ctx); err != nil {
		return fmt.Errorf("engine: register replica: %w", err)
	}
	e.completer.Start()
	if e.runner != nil {
		e.runner.Start()
	}
	e.retrier.Start()
	e.rescuer.Start()
	if e.sweeper != nil {
		e.sweeper.Start()
	}
	e.dispatcher.Start()
	e.timer.Start()
	e.started = true
	e.log.Info("replica registered", "replica", e.registry.ID(), "host", e.host, "heartbeat", e.cfg.Heartbeat, "dead_after", e.cfg.DeadAfter)
	return nil
}

// Run starts the engine (waiting for the database while it is
// unreachable), syncs until ctx ends, then shuts down.
func (e *Engine) Run(ctx context.Context) error {
	wait := time.Second
	for {
		err := e.Start(ctx)
		if err == nil {
			break
		}
		e.log.Error("start failed, retrying", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-e.clock.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
	if err := e.syncer.Start(ctx); err != nil && ctx.Err() == nil {
		e.log.Error("sync", "error", err)
	}
	<-ctx.Done()
	return e.Shutdown()
}

// Shutdown stops firing, waits up to ShutdownTimeout for running runs,
// records the ones it cuts off as interrupted (not retried), writes what
// is left to write, and marks this replica stopped.
func (e *Engine) Shutdown() error {
	if !e.started {
		return nil
	}
	e.started = false
	e.syncer.Stop()
	e.timer.Stop()
	e.dispatcher.Stop()
	if e.sweeper != nil {
		e.sweeper.Stop()
	}
	e.retrier.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.ShutdownTimeout)
	defer cancel()
	if n := e.exec.Drain(ctx); n > 0 {
		e.log.Warn("shutdown deadline passed; runs interrupted", "count", n)
	}
	// Catch-ups and run_start clean-ups end once their runs are recorded;
	// a record the database keeps refusing is given up after a grace, and
	// a run an executor could not end is left behind.
	bg := make(chan struct{})
	go func() { e.dispatcher.Wait(); close(bg) }()
	select {
	case <-bg:
	case <-time.After(5 * time.Second):
		e.completer.Abandon()
		select {
		case <-bg:
		case <-time.After(5 * time.Second):
			e.log.Warn("shutdown: runs left unrecorded")
		}
	}
	e.completer.Stop()
	// What no clean-up deleted yet (a run_start row whose runs were all
	// recorded just now) goes before the database is closed.
	if err := models.ForgetRunStarts(context.Background(), e.db); err != nil {
		e.log.Warn("shutdown: run_start rows left behind; the rescuers delete them", "error", err)
	}
	e.rescuer.Stop()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer stopCancel()
	e.registry.Stop(stopCtx)
	e.timer.Shutdown()
	e.log.Info("stopped")
	return nil
}

// SyncOnce reconciles the schedule with the task table once.
func (e *Engine) SyncOnce(ctx context.Context) error { return e.syncer.SyncOnce(ctx) }

// LastSync returns the report of the last successful sync.
func (e *Engine) LastSync() SyncReport { return e.syncer.LastSync() }

// Backlog returns how many run outcomes wait to be written to the
// history: queued for the outcome writers or in a batch being written.
// It grows while the database is slow or unreachable.
func (e *Engine) Backlog() int { return e.completer.Backlog() }

// ID returns this replica's id in the replica table.
func (e *Engine) ID() string { return e.registry.ID() }

// Reload applies the given task rows now rather than at the next sync:
// an edited row changes, a deleted one stops.
func (e *Engine) Reload(ctx context.Context, ids ...int64) error { return e.syncer.Reload(ctx, ids...) }

// ManualRun is a run started by RunNow.
type ManualRun struct {
	ID   int64           // execute_task id
	Done <-chan struct{} // closed once its outcome is recorded
}

// RunNow runs a scheduled task now, outside its schedule: a run of its
// own (source manual) with the row's args followed by args, under the
// task's overlap policy. It fails with ErrNotScheduled for a key that no
// scheduled row holds, and ErrOverlap when the policy skips the run (the
// skipped run is recorded).
func (e *Engine) RunNow(ctx context.Context, key string, args tasks.Args) (ManualRun, error) {
	ent, next, ok := e.tab.byKey(key)
	if !ok {
		return ManualRun{}, fmt.Errorf("%w: %q", ErrNotScheduled, key)
	}
	all, err := ent.args.Append(args)
	if err != nil {
		return ManualRun{}, err
	}
	manual := *ent
	manual.args = all
	at := e.clock.Now().UTC().Truncate(time.Microsecond)
	res := e.dispatcher.dispatch(ctx, nil, []*entry{&manual}, at, next, models.SourceManual)
	switch {
	case res.err != nil:
		return ManualRun{}, res.err
	case res.skipped != "":
		return ManualRun{}, fmt.Errorf("%w: %s", ErrOverlap, res.skipped)
	case len(res.ids) == 0:
		return ManualRun{}, fmt.Errorf("%w: task %q at %s", ErrRunExists, key, at.Format(time.RFC3339Nano))
	}
	return ManualRun{ID: res.ids[0], Done: res.done[0]}, nil
}

// Cancel cancels a running or pending run, wherever it runs: its row says
// cancelled at once, and its owner cancels the function's context (at
// once if it runs here, else at the owner's next lease renewal).
func (e *Engine) Cancel(ctx context.Context, runID int64) error {
	const why = "cancelled by an operator"
	if e.dispatcher.closeRun(ctx, runID, models.RunKilled, why) {
		return nil
	}
	ok, err := models.CloseRun(ctx, e.db, runID, models.RunPending, models.RunKilled, why, e.clock.Now(), time.Time{})
	if err != nil || ok {
		return err
	}
	run, err := models.GetRun(ctx, e.db, runID)
	if err != nil {
		return fmt.Errorf("%w: %d", ErrRunNotFound, runID)
	}
	return fmt.Errorf("%w: run %d is %s", ErrNotRunning, runID, run.Status)
}
