// Package alert turns what the engine tells its Observer into alerts
// (notice.Message), by rules: global ones from [alert] in notice.toml, and
// per task in extra.alert.
//
// The Observer methods only queue an event and return: one worker reads
// the task row (cached until a sync changes the table), applies the rules,
// reads the recent outcomes when a rule counts a streak, and hands the
// message to the notifier, which never blocks either. Events beyond the
// queue are counted and logged, not kept.
package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"taskrunner/libs/notice"
	"taskrunner/models"
	"taskrunner/tasks/engine"
)

// Notifier is where alerts go; *notice.Notifier is one. Notify must not
// block.
type Notifier interface {
	Notify(m notice.Message)
}

// Alerts is an engine.Observer that sends alerts. Start it before the
// engine and stop it after.
type Alerts struct {
	engine.NopObserver

	db   *models.DB
	cfg  Config
	loc  *time.Location // tasks without extra.timezone
	n    Notifier
	log  *slog.Logger
	q    chan event
	gen  atomic.Int64 // bumped by a sync that changed rows: the cache is stale
	drop atomic.Int64 // events not queued since the last report

	// failing holds the ids of tasks whose latest outcome this replica saw
	// (or read in the row) was a failure: only their successes, and
	// retries, are queued to check for a recovery.
	failing sync.Map

	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	started atomic.Bool

	// worker-only state
	cache    map[int64]*taskInfo
	byKey    map[string]*taskInfo
	cacheGen int64
}

// New builds Alerts over a validated cfg. loc is the zone of tasks whose
// extra sets none ([app] timezone).
func New(db *models.DB, cfg Config, loc *time.Location, n Notifier, log *slog.Logger) (*Alerts, error) {
	if key, err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("alert config %s: %w", key, err)
	}
	if loc == nil {
		loc = time.UTC
	}
	cfg.ConsoleURL = strings.TrimRight(cfg.ConsoleURL, "/")
	return &Alerts{db: db, cfg: cfg, loc: loc, n: n, log: log.With("service", "alert"),
		q: make(chan event, cfg.QueueSize), stop: make(chan struct{}), done: make(chan struct{}),
		cache: map[int64]*taskInfo{}, byKey: map[string]*taskInfo{}}, nil
}

// Start starts the worker.
func (a *Alerts) Start() {
	if a.started.Swap(true) {
		return
	}
	go a.run()
}

// Stop handles the events already queued, until ctx ends, and stops the
// worker. Stop the engine first, the notifier after.
func (a *Alerts) Stop(ctx context.Context) error {
	a.once.Do(func() { close(a.stop) })
	if !a.started.Load() {
		return nil
	}
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// event is one thing the engine said, waiting for the worker.
type event struct {
	kind     string // an On… event, or "success"
	taskID   int64  // 0: look the task up by key
	taskKey  string
	runID    int64
	traceID  string
	at       time.Time // the fire time
	attempt  int
	err      string
	from, to time.Time // missed
	count    int       // missed
}

func (a *Alerts) enqueue(e event) {
	select {
	case a.q <- e:
	default:
		a.drop.Add(1)
	}
}

// RunFinished implements engine.Observer.
func (a *Alerts) RunFinished(job engine.Job, f models.Finish) {
	e := event{taskID: job.TaskID, taskKey: job.TaskKey, runID: job.RunID, traceID: job.TraceID,
		at: job.ScheduledAt, attempt: job.Attempt, err: f.Error}
	switch f.Status {
	case models.RunFailed:
		e.kind = OnFailed
		a.failing.Store(job.TaskID, struct{}{}) // before its next success can be observed
	case models.RunTimeout:
		e.kind = OnTimeout
		a.failing.Store(job.TaskID, struct{}{})
	case models.RunSuccess:
		if _, ok := a.failing.Load(job.TaskID); !ok && job.Attempt <= 1 {
			return // the common case: nothing to recover from
		}
		e.kind = "success"
	default:
		return // skipped by the function, cancelled, interrupted: not alerts
	}
	a.enqueue(e)
}

// RunLost implements engine.Observer.
func (a *Alerts) RunLost(taskKey string, runID int64, owner string) {
	a.enqueue(event{kind: OnLost, taskKey: taskKey, runID: runID})
}

// Missed implements engine.Observer.
func (a *Alerts) Missed(taskKey string, from, to time.Time, count int) {
	a.enqueue(event{kind: OnMissed, taskKey: taskKey, at: from, from: from, to: to, count: count})
}

// Skipped implements engine.Observer.
func (a *Alerts) Skipped(taskKey string, at time.Time, reason string) {
	a.enqueue(event{kind: OnSkipped, taskKey: taskKey, at: at, err: reason})
}

// Reread drops the cached task rows and rules: they are read again when
// next needed. A process with no syncer of its own (a standalone worker)
// calls it every sync interval.
func (a *Alerts) Reread() { a.gen.Add(1) }

// SyncDone implements engine.Observer: rows changed, so the cached rows
// and rules are read again when next needed.
func (a *Alerts) SyncDone(rep engine.SyncReport, _ time.Duration, err error) {
	if err == nil && (rep.Changed > 0 || rep.Removed > 0 || rep.Full) {
		a.gen.Add(1)
	}
}

func (a *Alerts) run() {
	defer close(a.done)
	report := time.NewTicker(time.Minute)
	defer report.Stop()
	for {
		select {
		case e := <-a.q:
			a.handle(e)
		case <-report.C:
			a.reportDropped()
		case <-a.stop:
			for {
				select {
				case e := <-a.q:
					a.handle(e)
				default:
					a.reportDropped()
					return
				}
			}
		}
	}
}

func (a *Alerts) reportDropped() {
	if n := a.drop.Swap(0); n > 0 {
		a.log.Warn("alert events dropped: the queue was full", "events", n, "queue_size", a.cfg.QueueSize)
	}
}

// handle applies the rules to one event; it may read the database, but
// only within a bound, so a slow database delays alerts, not runs.
func (a *Alerts) handle(e event) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ti, err := a.task(ctx, e.taskID, e.taskKey)
	if err != nil {
		a.log.Warn("alert: cannot read the task", "task_key", e.taskKey, "error", err)
		ti = &taskInfo{key: e.taskKey, loc: a.loc, rules: a.cfg.Rules}
	}
	if e.kind == OnLost && e.runID != 0 {
		if r, err := models.GetRun(ctx, a.db, e.runID); err == nil {
			e.traceID, e.attempt, e.err = r.TraceID, r.Attempt, string(r.Error)
			if r.ScheduledAt.Valid {
				e.at = r.ScheduledAt.Time
			}
		}
	}
	status, send := a.decide(ctx, ti, e)
	if !send {
		return
	}
	m := notice.Message{TaskKey: ti.key, TaskDesc: ti.desc, RunID: e.runID, TraceID: e.traceID, Status: status, Error: e.err}
	if !e.at.IsZero() {
		m.ScheduledAt = e.at.In(ti.loc).Format("2006-01-02 15:04:05 MST")
	}
	if e.kind == OnMissed {
		m.Error = fmt.Sprintf("%d fire times missed, from %s to %s", e.count,
			e.from.In(ti.loc).Format("2006-01-02 15:04:05 MST"), e.to.In(ti.loc).Format("2006-01-02 15:04:05 MST"))
	}
	if e.kind == OnSkipped && e.err != "" {
		m.Error = "skipped: " + e.err
	}
	if a.cfg.ConsoleURL != "" && e.runID != 0 {
		m.Link = fmt.Sprintf("%s/#/runs/%d", a.cfg.ConsoleURL, e.runID)
	}
	a.n.Notify(m)
}

// decide applies ti's rules to e: whether it alerts, and the status shown.
func (a *Alerts) decide(ctx context.Context, ti *taskInfo, e event) (string, bool) {
	r := ti.rules
	switch e.kind {
	case OnFailed, OnTimeout, OnLost:
		if ti.id != 0 {
			a.failing.Store(ti.id, struct{}{})
		}
		if !r.has(e.kind) {
			return "", false
		}
		if r.After <= 1 {
			return e.kind, true
		}
		// Alert once per streak: when this failure makes exactly After.
		n, err := a.streak(ctx, ti.id, e, r.After+1)
		if err != nil {
			a.log.Warn("alert: cannot count the failures in a row; alerting", "task_key", ti.key, "error", err)
			return e.kind, true
		}
		if n != r.After {
			return "", false
		}
		return fmt.Sprintf("%s, %d failures in a row", e.kind, n), true
	case "success":
		a.failing.Delete(ti.id)
		if !r.has(OnRecovered) {
			return "", false
		}
		// Read up to maxStreak outcomes, to say how long it was failing.
		n, err := a.streak(ctx, ti.id, e, maxStreak+1)
		if err != nil {
			a.log.Warn("alert: cannot read the failures before a success", "task_key", ti.key, "error", err)
			return "", false
		}
		switch {
		case n < r.streak():
			return "", false
		case n >= maxStreak:
			return fmt.Sprintf("%s after %d or more failures", OnRecovered, maxStreak), true
		}
		return fmt.Sprintf("%s after %d %s", OnRecovered, n, plural(n, "failure")), true
	case OnMissed, OnSkipped:
		return e.kind, r.has(e.kind)
	}
	return "", false
}

// maxStreak is the longest streak a recovery alert counts.
const maxStreak = 100

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// streak counts the failures in a row ending with the run of e (for a
// failure) or just before it (for a success), reading at most limit
// outcomes.
func (a *Alerts) streak(ctx context.Context, taskID int64, e event, limit int) (int, error) {
	if taskID == 0 {
		return 0, fmt.Errorf("task unknown")
	}
	sts, err := models.RecentOutcomes(ctx, a.db, taskID, e.at, max(e.attempt, 1), limit)
	if err != nil {
		return 0, err
	}
	if e.kind == "success" && len(sts) > 0 && sts[0] == models.RunSuccess {
		sts = sts[1:]
	}
	n := 0
	for _, s := range sts {
		if s == models.RunSuccess {
			break
		}
		n++
	}
	return n, nil
}

// taskInfo is what an alert needs of a task row.
type taskInfo struct {
	id        int64
	key, desc string
	loc       *time.Location
	rules     Rules
}

// task returns the row's info, from the cache while no sync has changed
// the table since it was read.
func (a *Alerts) task(ctx context.Context, id int64, key string) (*taskInfo, error) {
	if g := a.gen.Load(); g != a.cacheGen {
		clear(a.cache)
		clear(a.byKey)
		a.cacheGen = g
	}
	if ti, ok := a.cache[id]; ok && id != 0 {
		return ti, nil
	}
	if ti, ok := a.byKey[key]; ok && id == 0 {
		return ti, nil
	}
	var (
		t   models.Task
		err error
	)
	if id != 0 {
		t, err = models.GetTask(ctx, a.db, id)
	} else {
		t, err = models.GetTaskByKey(ctx, a.db, key)
	}
	if err != nil {
		return nil, err
	}
	ti := a.parse(t)
	a.cache[t.ID] = ti
	if id == 0 {
		a.byKey[key] = ti
	}
	switch t.LastStatus {
	case models.RunFailed, models.RunTimeout, models.RunLost:
		a.failing.Store(t.ID, struct{}{})
	}
	return ti, nil
}

// parse reads the zone and rules of a row; a bad extra.alert keeps the
// global rules, and says so in the log.
func (a *Alerts) parse(t models.Task) *taskInfo {
	ti := &taskInfo{id: t.ID, key: t.Key, desc: t.Desc, loc: a.loc, rules: a.cfg.Rules}
	if strings.TrimSpace(t.Extra) == "" {
		return ti
	}
	var x taskExtra
	if err := json.Unmarshal([]byte(t.Extra), &x); err != nil {
		return ti // the engine refuses the row and says why
	}
	if x.Timezone != "" {
		if loc, err := time.LoadLocation(x.Timezone); err == nil {
			ti.loc = loc
		}
	}
	r, err := parseRules(x.Alert, a.cfg.Rules)
	if err != nil {
		a.log.Warn("alert: bad extra.alert, using the global rules", "task_key", t.Key, "error", err)
	}
	ti.rules = r
	return ti
}
