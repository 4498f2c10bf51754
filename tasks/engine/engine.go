// Package engine keeps an in-process gocron scheduler in step with the
// task table and runs what it fires.
//
// SyncOnce reconciles once: it reads the rows whose update_at moved since
// the last sync (and all rows now and then), compares each with a hash of
// its definition, and adds, changes or removes only what differs. Rows
// sharing a schedule share one gocron job (a group). When a group fires,
// the engine claims the fire for all its rows in one statement against the
// unique key of execute_task, so a fire runs once however many replicas
// ask, and hands each won run to an Executor. Run ticks SyncOnce until its
// context ends, then shuts down.
package engine

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"taskrunner/libs/trigger"
	"taskrunner/models"
	"taskrunner/tasks"
)

// deltaOverlap is how far before the previous sync (by the database's
// clock, which sets update_at) a delta sync reads: update_at has
// one-second resolution and an edit may commit a while after its
// statement ran. Rows read again with an unchanged definition cost a hash
// comparison; an edit whose transaction stayed open longer is picked up
// by the next full sync.
const deltaOverlap = time.Minute

// Option configures an Engine.
type Option func(*Engine)

// WithClock drives schedules and timestamps from c (a fake one in tests).
func WithClock(c clockwork.Clock) Option { return func(e *Engine) { e.clock = c } }

// WithExecutor replaces the in-process runner (for example by a queue).
func WithExecutor(x Executor) Option { return func(e *Engine) { e.exec = x } }

// Engine is the scheduler daemon's core. Create it with New.
type Engine struct {
	cfg    Config
	db     *models.DB
	reg    *tasks.Registry
	log    *slog.Logger
	clock  clockwork.Clock
	sched  gocron.Scheduler
	runner *Runner
	exec   Executor
	host   string
	owner  string

	syncMu   sync.Mutex // one sync at a time
	report   SyncReport
	synced   bool
	since    time.Time // the database's clock when the last sync began
	lastFull time.Time

	retryMu sync.Mutex  // one startDueRetries at a time
	stopped atomic.Bool // set by Shutdown: nothing new is dispatched
	// dispatched, when set (by tests), hears each fire once it is dispatched.
	dispatched chan<- time.Time

	mu             sync.Mutex // guards the fields below; never held across a database call
	entries        map[int64]*entry
	groups         map[string]*group
	keys           map[string]int64 // task_key -> id of the scheduled row using it
	pendingCatchup map[int64]bool   // tasks whose fire could not be claimed
}

// entry is one row as the engine applied it.
type entry struct {
	task  models.Task
	hash  string
	sched trigger.Schedule
	loc   *time.Location
	args  tasks.Args
	opts  taskOptions
	group *group
	err   string // why the row is not scheduled
	done  bool   // a date task with no fire time left
}

// New builds an engine on db. Nothing runs until Run (or SyncOnce and a
// started scheduler in tests).
func New(cfg Config, db *models.DB, reg *tasks.Registry, log *slog.Logger, opts ...Option) (*Engine, error) {
	if key, err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("engine: config %s: %w", key, err)
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	e := &Engine{
		cfg: cfg, db: db, reg: reg, log: log.With("component", "engine"),
		clock:   clockwork.NewRealClock(),
		owner:   uuid.NewString(),
		entries: map[int64]*entry{},
		groups:  map[string]*group{},
		keys:    map[string]int64{},

		pendingCatchup: map[int64]bool{},
	}
	for _, o := range opts {
		o(e)
	}
	host, _ := os.Hostname()
	e.host = fmt.Sprintf("%s/%d", host, os.Getpid())
	e.runner = NewRunner(db, reg, log, e.clock, e.cfg.MaxConcurrentRuns, e.cfg.OutputLimit)
	e.runner.finished = e.finished
	if e.exec == nil {
		e.exec = e.runner
	}
	s, err := gocron.NewScheduler(
		gocron.WithClock(e.clock),
		gocron.WithLocation(time.UTC),
		gocron.WithLogger(quietLogger{log.With("component", "gocron")}),
		gocron.WithStopTimeout(e.cfg.ShutdownTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	e.sched = s
	return e, nil
}

// Start starts the gocron scheduler; Run calls it.
func (e *Engine) Start() { e.sched.Start() }

// Run starts the scheduler, syncs every SyncInterval until ctx ends, then
// stops firing and waits for running runs (see Shutdown).
func (e *Engine) Run(ctx context.Context) error {
	e.Start()
	wait := time.Second
	for {
		err := e.SyncOnce(ctx)
		if err == nil {
			break
		}
		e.log.Error("first sync failed, retrying", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return e.Shutdown()
		case <-e.clock.After(wait):
		}
		wait = min(wait*2, e.cfg.SyncInterval)
	}
	ticker := e.clock.NewTicker(e.cfg.SyncInterval)
	defer ticker.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return e.Shutdown()
		case <-ticker.Chan():
			if err := e.SyncOnce(ctx); err != nil {
				if !failing {
					e.log.Error("sync failed; the loaded schedule keeps running", "error", err)
				}
				failing = true
			} else if failing {
				e.log.Info("sync recovered")
				failing = false
			}
		}
	}
}

// Shutdown stops firing, waits up to ShutdownTimeout for running runs and
// records the ones it cuts off as interrupted.
func (e *Engine) Shutdown() error {
	e.stopped.Store(true)
	if err := e.sched.StopJobs(); err != nil {
		e.log.Warn("stop scheduler", "error", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.ShutdownTimeout)
	defer cancel()
	if n := e.runner.Wait(ctx); n > 0 {
		e.log.Warn("shutdown deadline passed; runs interrupted", "count", n)
	}
	if err := e.sched.Shutdown(); err != nil {
		e.log.Warn("shutdown scheduler", "error", err)
	}
	e.runner.Close()
	e.log.Info("stopped")
	return nil
}

// SyncReport says what the last sync did.
type SyncReport struct {
	Full    bool // every row was read
	Read    int  // rows read
	Changed int  // rows whose definition changed (added, edited, disabled)
	Removed int  // rows deleted from the table
	Groups  int  // distinct schedules, one gocron job each
	Tasks   int  // rows known
}

// LastSync returns the report of the last successful sync.
func (e *Engine) LastSync() SyncReport {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	return e.report
}

// SyncOnce reconciles the scheduler with the task table once.
func (e *Engine) SyncOnce(ctx context.Context) error {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	now := e.clock.Now()
	first := !e.synced
	full := first || now.Sub(e.lastFull) >= e.cfg.FullSyncInterval

	stats, err := models.GetTaskStats(ctx, e.db)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	var rows []models.Task
	if full {
		rows, err = models.ListTasks(ctx, e.db)
	} else {
		rows, err = models.ListTasksUpdatedSince(ctx, e.db, e.since.Add(-deltaOverlap))
	}
	if err != nil {
		return fmt.Errorf("sync: read tasks: %w", err)
	}

	e.mu.Lock()
	var ch changes
	rep := SyncReport{Full: full, Read: len(rows)}
	seen := make(map[int64]bool, len(rows))
	for _, t := range rows {
		seen[t.ID] = true
		if e.apply(t, now, &ch) {
			rep.Changed++
		}
	}
	var gone []int64
	if full {
		for id := range e.entries {
			if !seen[id] {
				gone = append(gone, id)
			}
		}
	}
	known := len(e.entries)
	e.mu.Unlock()

	// A count that differs from ours means rows were deleted (or added with
	// an old update_at): only then read the ids.
	if !full && int(stats.Count) != known {
		ids, err := models.ListTaskIDs(ctx, e.db)
		if err != nil {
			return fmt.Errorf("sync: read task ids: %w", err)
		}
		inDB := make(map[int64]bool, len(ids))
		for _, id := range ids {
			inDB[id] = true
		}
		var unknown []int64
		e.mu.Lock()
		for id := range e.entries {
			if !inDB[id] {
				gone = append(gone, id)
			}
		}
		for _, id := range ids {
			if e.entries[id] == nil && !seen[id] {
				unknown = append(unknown, id)
			}
		}
		e.mu.Unlock()
		for _, id := range unknown {
			t, err := models.GetTask(ctx, e.db, id)
			if err != nil {
				continue // deleted meanwhile
			}
			e.mu.Lock()
			if e.apply(t, now, &ch) {
				rep.Changed++
			}
			e.mu.Unlock()
		}
	}
	e.mu.Lock()
	for _, id := range gone {
		if old := e.entries[id]; old != nil {
			e.log.Info("task removed: row deleted", "task_key", old.task.Key, "task_id", id)
			e.detach(old, &ch)
			delete(e.entries, id)
			rep.Removed++
		}
	}
	e.mu.Unlock()

	if err := e.commit(ctx, &ch); err != nil {
		return err
	}
	e.since = stats.Now
	e.synced = true
	if full {
		e.lastFull = now
	}
	e.mu.Lock()
	rep.Groups, rep.Tasks = len(e.groups), len(e.entries)
	pending := make([]int64, 0, len(e.pendingCatchup))
	for id := range e.pendingCatchup {
		pending = append(pending, id)
	}
	clear(e.pendingCatchup)
	e.mu.Unlock()
	e.report = rep

	// Fires nobody claimed: at start, all rows; later, those whose
	// claim failed while the database was unreachable.
	if first {
		e.catchUp(rows, now)
	} else if len(pending) > 0 {
		again, err := models.ListTasksByID(ctx, e.db, pending)
		if err != nil {
			e.mu.Lock()
			for _, id := range pending {
				e.pendingCatchup[id] = true
			}
			e.mu.Unlock()
			return fmt.Errorf("sync: %w", err)
		}
		e.catchUp(again, now)
	}
	return e.maintainRuns(ctx, now)
}

// maintainRuns renews this replica's leases, takes over lost runs and
// starts due retries.
func (e *Engine) maintainRuns(ctx context.Context, now time.Time) error {
	// Renewed at least every 1.5 sync intervals: well inside the lease
	// (at least two).
	if err := e.runner.Heartbeat(ctx, e.cfg.SyncInterval/2); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if err := e.reapLost(ctx, now); err != nil {
		return fmt.Errorf("lost runs: %w", err)
	}
	if err := models.ForgetRunStarts(ctx, e.db); err != nil {
		return err
	}
	if err := e.startDueRetries(ctx); err != nil {
		return fmt.Errorf("retries: %w", err)
	}
	return nil
}

// changes collects what a sync must do outside the lock.
type changes struct {
	// parsed caches the schedules parsed in this sync: rows sharing a
	// spec share one parse and one Schedule.
	parsed map[parseKey]parsed
	added  []*group
	maybe  map[string]*group // groups a detach emptied
	writes map[models.TaskState][]int64
}

func (c *changes) write(st models.TaskState, id int64) {
	if c.writes == nil {
		c.writes = map[models.TaskState][]int64{}
	}
	c.writes[st] = append(c.writes[st], id)
}

// commit applies the gocron changes and writes the rows' new state.
func (e *Engine) commit(ctx context.Context, ch *changes) error {
	e.mu.Lock()
	var removed []*group
	for key, g := range ch.maybe {
		if len(g.members) == 0 && e.groups[key] == g {
			delete(e.groups, key)
			removed = append(removed, g)
		}
	}
	e.mu.Unlock()
	for _, g := range removed {
		if err := e.sched.RemoveJob(g.id); err != nil {
			e.log.Warn("remove schedule", "schedule", g.key, "error", err)
		}
	}
	for _, g := range ch.added {
		key := g.key
		_, err := e.sched.NewJob(
			gocron.CronJob(key, true),
			gocron.NewTask(func() { e.fire(key) }),
			gocron.WithCronImplementation(cronAdapter{g.sched, e.cfg.ClaimAhead}),
			gocron.WithIdentifier(g.id),
			gocron.WithName(key),
			// Fire at once: a fire time inside the first claim-ahead
			// window (which gocron's first timer would be set past) is
			// claimed now, not a period late. Otherwise a no-op.
			gocron.WithStartAt(gocron.WithStartImmediately()),
		)
		if err != nil {
			return fmt.Errorf("sync: schedule %s: %w", key, err)
		}
		// gocron skips a first run time in the same wall-clock second as
		// the moment the job is made (its DST fall-back check compares
		// times to the second): that claim point is timed here instead.
		now := e.clock.Now()
		if first := (cronAdapter{g.sched, e.cfg.ClaimAhead}).Next(now); !first.IsZero() && first.Truncate(time.Second).Equal(now.Truncate(time.Second)) {
			e.clock.AfterFunc(first.Sub(now), func() { e.fire(key) })
		}
	}
	if len(ch.writes) == 0 {
		return nil
	}
	if err := e.writeBack(ctx, ch.writes); err != nil {
		// Applied in memory but not written: apply these rows again at
		// the next sync, so their row ends up saying the truth.
		e.mu.Lock()
		for _, ids := range ch.writes {
			for _, id := range ids {
				if ent := e.entries[id]; ent != nil {
					ent.hash = ""
				}
			}
		}
		e.mu.Unlock()
		return err
	}
	return nil
}

// writeBack writes the rows' new state in one transaction: one commit for
// all the rows a sync changed.
func (e *Engine) writeBack(ctx context.Context, writes map[models.TaskState][]int64) error {
	tx, err := e.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for st, ids := range writes {
		if err := models.SetTaskState(ctx, tx, ids, st); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

type parseKey struct {
	kind, spec, zone string
	ref              time.Time
}

type parsed struct {
	sched trigger.Schedule
	err   error
}

// parse is ParseSchedule through the sync's cache.
func (c *changes) parse(kind, spec string, loc *time.Location, ref time.Time) (trigger.Schedule, error) {
	k := parseKey{kind: kind, spec: spec, zone: loc.String()}
	if kind == trigger.KindText {
		k.ref = ref // relative phrases depend on it
	}
	if p, ok := c.parsed[k]; ok {
		return p.sched, p.err
	}
	s, err := ParseSchedule(kind, spec, loc, ref)
	if c.parsed == nil {
		c.parsed = map[parseKey]parsed{}
	}
	c.parsed[k] = parsed{s, err}
	return s, err
}

// defHash identifies a definition: a row whose hash did not change is
// left alone. update_at counts for text specs only, whose relative
// phrases ("in 10 minutes") are measured from it.
func defHash(t models.Task) string {
	h := sha256.New()
	ref := ""
	if t.Trigger == trigger.KindText {
		ref = t.UpdateAt.UTC().String()
	}
	fmt.Fprintf(h, "%q %q %q %q %q %d %q %q", t.Key, t.Func, t.Trigger, t.Spec, t.Args, t.IsValid, t.Extra, ref)
	return hex.EncodeToString(h.Sum(nil))
}

// apply brings one row's entry up to date and reports whether its
// definition changed. Called with e.mu held.
func (e *Engine) apply(t models.Task, now time.Time, ch *changes) bool {
	h := defHash(t)
	old := e.entries[t.ID]
	if old != nil && old.hash == h {
		return false
	}
	if old != nil {
		e.detach(old, ch)
	}
	ne := e.build(t, h, ch)
	if ne.err == "" && !ne.done && t.IsValid == 1 {
		key := ne.sched.Kind() + " " + ne.sched.Spec() + " @" + ne.loc.String()
		g := e.groups[key]
		if g == nil {
			g = newGroup(key, ne.sched, now)
			e.groups[key] = g
			ch.added = append(ch.added, g)
		}
		g.add(ne)
		ne.group = g
		e.keys[t.Key] = t.ID
	}
	e.entries[t.ID] = ne

	switch {
	case ne.err != "":
		if old == nil || old.err != ne.err {
			e.log.Warn("task not scheduled", "task_key", t.Key, "task_id", t.ID, "reason", ne.err)
		}
	case t.IsValid != 1:
		if old != nil && old.task.IsValid == 1 {
			e.log.Info("task stopped: is_valid = 0", "task_key", t.Key, "task_id", t.ID)
		}
	case old == nil || old.err != "" || old.task.IsValid != 1:
		e.log.Info("task scheduled", "task_key", t.Key, "task_id", t.ID, "trigger", ne.sched.Kind(), "spec", ne.sched.Spec())
	default:
		e.log.Info("task changed", "task_key", t.Key, "task_id", t.ID, "trigger", ne.sched.Kind(), "spec", ne.sched.Spec())
	}

	st := e.state(ne, now)
	if st.Status != t.Status || st.AppliedSpec != t.AppliedSpec || st.SchedError != t.SchedError ||
		!sameTime(st.NextFireAt, t.NextFireAt) {
		ch.write(st, t.ID)
	}
	return true
}

// build parses a row. A row that cannot be scheduled gets err, naming the
// column at fault.
func (e *Engine) build(t models.Task, hash string, ch *changes) *entry {
	ne := &entry{task: t, hash: hash}
	if t.IsValid != 1 {
		return ne
	}
	opts, loc, err := parseOptions(t.Extra, e.cfg.Location, e.cfg.Defaults)
	if err != nil {
		ne.err = "column extra: " + err.Error()
		return ne
	}
	ne.opts, ne.loc = opts, loc
	if ne.sched, err = ch.parse(t.Trigger, t.Spec, loc, t.UpdateAt); err != nil {
		ne.err = err.Error()
		return ne
	}
	if ne.args, err = tasks.ParseArgs(t.Args); err != nil {
		ne.err = "column args: " + err.Error()
		return ne
	}
	if _, err = e.reg.Check(t.Func, ne.args); err != nil {
		if errors.Is(err, tasks.ErrUnknownFunc) {
			ne.err = "column execute_func: " + err.Error()
		} else {
			ne.err = fmt.Sprintf("column args: %v (as %s takes them)", err, t.Func)
		}
		return ne
	}
	if other, ok := e.keys[t.Key]; ok && other != t.ID {
		if o := e.entries[other]; o != nil && o.group != nil {
			ne.err = fmt.Sprintf("column task_key: %q is already used by task row %d", t.Key, other)
			ne.hash = "" // look again at the next sync: the other row may go
			return ne
		}
	}
	if ne.sched.Next(e.clock.Now()).IsZero() {
		ne.done = true
	}
	return ne
}

// ParseSchedule parses a row's trigger and spec as the engine does; the
// error names the column at fault, as a row's sched_error does. ref is
// what relative phrases are measured from (the row's update_at).
func ParseSchedule(kind, spec string, loc *time.Location, ref time.Time) (trigger.Schedule, error) {
	s, err := trigger.Parse(kind, spec, trigger.Options{Location: loc, Ref: ref})
	if err != nil {
		col := "spec"
		if errors.Is(err, trigger.ErrUnknownTrigger) {
			col = "trigger"
		}
		return nil, fmt.Errorf("column %s: %w", col, err)
	}
	return s, nil
}

// detach takes an entry out of its group. Called with e.mu held.
func (e *Engine) detach(old *entry, ch *changes) {
	if g := old.group; g != nil {
		g.remove(old.task.ID)
		if len(g.members) == 0 {
			if ch.maybe == nil {
				ch.maybe = map[string]*group{}
			}
			ch.maybe[g.key] = g
		}
		old.group = nil
	}
	if e.keys[old.task.Key] == old.task.ID {
		delete(e.keys, old.task.Key)
	}
}

// state is what a row should say about an entry.
func (e *Engine) state(ne *entry, now time.Time) models.TaskState {
	t := ne.task
	switch {
	case t.IsValid != 1:
		return models.TaskState{Status: models.TaskDisabled}
	case ne.err != "":
		return models.TaskState{Status: models.TaskError, SchedError: ne.err}
	}
	applied := ne.sched.Kind() + " " + ne.sched.Spec()
	if ne.done {
		st := models.TaskState{Status: models.TaskDone, AppliedSpec: applied}
		last := lastFire(ne.sched)
		if !t.LastFireAt.Valid || t.LastFireAt.Time.Before(last) {
			st.SchedError = fmt.Sprintf("every fire time is in the past (the last was %s UTC) and it did not run then",
				last.Format("2006-01-02 15:04:05"))
		}
		return st
	}
	status := models.TaskReady
	if t.Status == models.TaskDoing {
		status = models.TaskDoing // the run in progress sets it back when it ends
	}
	return models.TaskState{Status: status, AppliedSpec: applied, NextFireAt: ne.group.sched.Next(ne.group.cursor)}
}

// fireTolerance lets a timer that fires a little early still count for
// its fire time.
const fireTolerance = 50 * time.Millisecond

// fire runs when gocron fires a group: it works out the fire time (or
// times, if the process stalled) and dispatches every member.
func (e *Engine) fire(key string) {
	now := e.clock.Now()
	e.mu.Lock()
	g := e.groups[key]
	if g == nil {
		e.mu.Unlock()
		return
	}
	times, dropped := g.due(now.Add(e.cfg.ClaimAhead+fireTolerance), 10000)
	members := g.inOrder()
	e.mu.Unlock()
	if len(times) == 0 {
		return
	}
	at := times[len(times)-1]
	g.dispatching.Lock()
	if len(times) > 1 || dropped > 0 {
		// Right after a group is made, a fire time inside the first
		// claim-ahead window comes with the next one: only a stall of
		// over a second is worth a warning.
		level := slog.LevelDebug
		if dropped > 0 || now.Sub(times[0]) > time.Second {
			level = slog.LevelWarn
		}
		e.log.Log(context.Background(), level, "fire came late", "schedule", key, "scheduled_at", at, "late_fire_times", len(times)-1+dropped)
		e.late(members, times[:len(times)-1], dropped, now)
	}
	e.dispatch(context.Background(), g, members, at, g.sched.Next(at), models.SourceSchedule)
	g.dispatching.Unlock()
	if e.dispatched != nil {
		e.dispatched <- at
	}
}

func sameTime(t time.Time, old sql.NullTime) bool {
	if t.IsZero() || !old.Valid {
		return t.IsZero() == !old.Valid
	}
	return t.Truncate(time.Millisecond).Equal(old.Time.Truncate(time.Millisecond))
}

// lastFire returns the last fire time of a schedule that has an end (a
// date list).
func lastFire(s trigger.Schedule) time.Time {
	var last time.Time
	for range 100000 {
		n := s.Next(last)
		if n.IsZero() {
			break
		}
		last = n
	}
	return last
}

// quietLogger passes gocron's messages on, less its per-event debug lines.
type quietLogger struct{ *slog.Logger }

func (quietLogger) Debug(string, ...any) {}
