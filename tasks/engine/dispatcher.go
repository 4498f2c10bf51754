package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"taskrunner/models"
)

// dispatcher turns fires into runs. When the timer says a group is due,
// it claims the fire for every member in one statement per 500 against
// the unique key of execute_task (so a fire runs once however many
// replicas ask), applying each task's overlap policy against the runs
// going in the whole cluster, hands the runs it won to the executor
// held at a gate, records them as started (fenced by this replica's
// liveness) and releases them at the fire time. It also accounts for the
// fire times nobody claimed: at start, after an outage, after a stall.
type dispatcher struct {
	cfg   Config
	db    *models.DB
	log   *slog.Logger
	clock clockwork.Clock
	obs   Observer
	tab   *table
	exec  Executor
	host  string
	// owner is this replica's id in the registry; alive tells whether a
	// run's owner is alive (false only for one known to be dead).
	owner func() string
	alive func(owner string) bool
	// workersOf returns the live workers of a queue (broadcast, shards).
	workersOf func(queue string) []string
	// queueEpoch returns a queue's epoch as last seen, if one was: a run
	// for that queue is then claimed queued, and only sent at its time
	// (no hand-off write). Nil without a queue.
	queueEpoch func(queue string) (string, bool)
	// hold waits while released runs are still starting.
	hold func()

	stopped atomic.Bool
	bg      sync.WaitGroup // catch-ups and run_start clean-ups

	gapMu sync.Mutex
	// gaps holds, per task, the earliest fire time that could not be
	// claimed (the database was unreachable): from there to the group's
	// latest settled fire, every fire time is accounted for once the
	// database answers. gapFails counts the failed fires, so that a gap
	// a fire failed into while it was being settled stays.
	gaps     map[int64]time.Time
	gapFails uint64
	// settling serialises settleGaps (its ticks may overlap); catching
	// holds, per task, the lock its catch-ups take one after another, so
	// two of them (the gaps' and the first sync's) never dispatch the
	// same fire times side by side.
	settling sync.Mutex
	catchMu  sync.Mutex
	catching map[int64]*sync.Mutex
	loop     loop
}

// Start starts the loop that settles the gaps outages leave.
func (d *dispatcher) Start() {
	d.loop.every(d.clock, d.cfg.Heartbeat, nil, func() { d.settleGaps(context.Background()) })
}

// Stop dispatches nothing more.
func (d *dispatcher) Stop() {
	d.stopped.Store(true)
	d.loop.halt()
}

// Wait waits for catch-ups and run_start clean-ups.
func (d *dispatcher) Wait() { d.bg.Wait() }

// fireTolerance lets a timer that fires a little early still count for
// its fire time.
const fireTolerance = 50 * time.Millisecond

// fire runs when the timer fires a group: it works out the fire time (or
// times, if the process stalled) and dispatches every member.
func (d *dispatcher) fire(key string) {
	now := d.clock.Now()
	d.tab.mu.Lock()
	g := d.tab.groups[key]
	if g == nil {
		d.tab.mu.Unlock()
		return
	}
	times, dropped := g.due(now.Add(d.cfg.ClaimAhead+fireTolerance), 10000)
	members := g.inOrder()
	d.tab.mu.Unlock()
	if len(times) == 0 {
		return
	}
	at := times[len(times)-1]
	g.dispatching.Lock()
	defer g.dispatching.Unlock()
	if len(times) > 1 || dropped > 0 {
		// Right after a group is made, a fire time inside the first
		// claim-ahead window comes with the next one: only a stall of
		// over a second is worth a warning.
		level := slog.LevelDebug
		if dropped > 0 || now.Sub(times[0]) > time.Second {
			level = slog.LevelWarn
		}
		d.log.Log(context.Background(), level, "fire came late", "schedule", key, "scheduled_at", at, "late_fire_times", len(times)-1+dropped)
		d.late(members, times[:len(times)-1], dropped, now)
	}
	res := d.dispatch(context.Background(), g, members, at, g.sched.Next(at), models.SourceSchedule)
	d.obs.FireClaimed(key, at, len(members), len(res.ids))
}

// fireResult is what a dispatch did.
type fireResult struct {
	ids      []int64           // runs started
	done     []<-chan struct{} // closed as each is recorded
	skipped  string            // with one member: why its fire was recorded skipped
	deferred bool              // a backfill: not claimed, for the overlap; claim it again later
	err      error             // the claim failed
}

// dispatch claims the fire at for every member and executes the runs
// this replica won.
//
// g is the group firing (nil for catch-ups, late fires and manual runs):
// it remembers how long recording its runs started took.
func (d *dispatcher) dispatch(ctx context.Context, g *group, members []*entry, at, next time.Time, source string) fireResult {
	if g != nil {
		defer d.settle(g, at)
	}
	if len(members) == 0 || d.stopped.Load() {
		return fireResult{}
	}
	running, err := d.runningOf(ctx, members)
	if err != nil {
		d.fireFailed(members, at, err)
		return fireResult{err: err}
	}
	owner := d.owner()
	claims, plan, replaces := d.claimsFor(members, running, at, source, owner)
	if source == models.SourceBackfill && len(claims) == 1 && claims[0].Status == models.RunSkipped {
		// A backfilled fire time is not recorded skipped for an overlap
		// with the task's live runs: Backfill waits and claims it again.
		return fireResult{skipped: claims[0].Error, deferred: true}
	}
	var ids []int64
	claimStart := d.clock.Now()
	err = onConflictRepeat(func() (err error) {
		ids, err = models.ClaimRuns(ctx, d.db, claims)
		return err
	})
	claimTook := d.clock.Since(claimStart)
	if err != nil {
		d.fireFailed(members, at, err)
		return fireResult{err: err}
	}
	var res fireResult
	var fired []int64
	for i, id := range ids {
		if id == 0 {
			continue
		}
		fired = append(fired, claims[i].TaskID)
		if claims[i].Status == models.RunSkipped {
			d.log.Info("fire skipped", "task_key", claims[i].TaskKey, "scheduled_at", at, "reason", claims[i].Error)
			d.obs.Skipped(claims[i].TaskKey, at, claims[i].Error)
			res.skipped = claims[i].Error
		}
	}
	if len(fired) == 0 {
		return res
	}
	var markLater func()
	if source != models.SourceManual && source != models.SourceBackfill { // not the schedule's own fire
		markLater = d.markFired(ctx, g, fired, at, next)
	}
	jobs, replaced := jobsFor(members, claims, plan, ids, replaces, next)
	// Claimed ahead: the runs are handed over now and released together
	// at their time.
	gate := NewGate()
	res.done = d.exec.Execute(ctx, jobs, gate)
	started := make([]int64, len(jobs))
	for i, j := range jobs {
		started[i] = j.RunID
	}
	startID, ok := d.recordStarted(ctx, g, owner, started, at)
	if !ok {
		// Not recorded as started (this replica was declared dead, or the
		// database did not answer): the claims are the rescuer's to run
		// elsewhere. Nothing starts here.
		gate.Abort()
		return fireResult{err: errNotStarted}
	}
	// A fire of the regular schedule ready after its time says why.
	level, lateBy := slog.LevelDebug, d.clock.Now().Sub(at)
	if g != nil && lateBy > lateWarn {
		level = slog.LevelWarn
	}
	d.log.Log(ctx, level, "fire claimed", "schedule", groupKey(g), "scheduled_at", at, "claims", len(claims), "runs", len(started),
		"claim_took", claimTook, "late_by", lateBy)
	d.waitUntil(at, len(jobs) >= spinRuns)
	gate.Release()
	res.ids = started
	d.afterRelease(markLater, startID, res.done)
	for _, r := range replaced {
		d.closeRun(ctx, r[0], models.RunCancelled, fmt.Sprintf("replaced by run %d (overlap replace)", r[1]))
	}
	return res
}

// claimsFor builds a fire's claims, one per member — or one per shard of
// a sharded member, one per live worker of a broadcast one — applying
// each member's overlap policy to its running runs: a forbidden overlap
// is claimed as skipped, with the reason; runs to replace are returned by
// claim index (a member's first). plan says, per claim, its member and
// the queue its job goes to.
func (d *dispatcher) claimsFor(members []*entry, running map[int64][]models.RunningRun, at time.Time, source, owner string) ([]models.Claim, []claimPlan, map[int][]models.RunningRun) {
	now := d.clock.Now()
	claims := make([]models.Claim, 0, len(members))
	plan := make([]claimPlan, 0, len(members))
	replaces := map[int][]models.RunningRun{}
	for i, m := range members {
		c := models.Claim{
			TaskID: m.task.ID, TaskKey: m.task.Key, ScheduledAt: at, Attempt: 1, Source: source,
			TraceID: uuid.NewString(), Host: d.host, Owner: owner, StartedAt: now,
		}
		if rs := running[m.task.ID]; len(rs) > 0 {
			switch m.opts.Overlap {
			case OverlapForbid:
				c.Status, c.Error = models.RunSkipped, fmt.Sprintf("run %d is still running (overlap forbid)", rs[0].ID)
			case OverlapReplace:
				replaces[len(claims)] = rs
			case OverlapAllow:
				if m.opts.MaxParallel > 0 && len(rs) >= m.opts.MaxParallel {
					c.Status, c.Error = models.RunSkipped, fmt.Sprintf("%d runs are still running (overlap allow, max_parallel %d)", len(rs), m.opts.MaxParallel)
				}
			}
		}
		queues := d.fanOut(m)
		if queues == nil && c.Status == "" {
			c.Status, c.Error = models.RunSkipped, fmt.Sprintf("no live worker reads queue %s (route broadcast)", m.queue)
		}
		if c.Status == models.RunSkipped || len(queues) == 1 {
			claims, plan = append(claims, d.queuedClaim(c, m.queue)), append(plan, claimPlan{member: i, queue: m.queue})
			continue
		}
		for k, q := range queues {
			ck := c
			if k > 0 {
				ck.TraceID = uuid.NewString()
			}
			ck.Shard, ck.Shards = k, len(queues)
			claims, plan = append(claims, d.queuedClaim(ck, q)), append(plan, claimPlan{member: i, queue: q})
		}
	}
	return claims, plan, replaces
}

// queuedClaim makes a claim of a run for queue one that hands it over
// itself (status queued, under the queue's last known epoch), when the
// epoch is known; otherwise the run is handed over at its time.
func (d *dispatcher) queuedClaim(c models.Claim, queue string) models.Claim {
	if c.Status != "" || queue == "" || d.queueEpoch == nil {
		return c
	}
	if epoch, ok := d.queueEpoch(queue); ok {
		c.Status, c.Queue, c.QueueEpoch = models.RunQueued, queue, epoch
	}
	return c
}

// claimPlan is a claim's member and the queue its job goes to.
type claimPlan struct {
	member int
	queue  string
}

// fanOut returns the queue of each run of a member's fire: one, its own,
// for a plain task; one per shard for a sharded one, spread in turn over
// the personal queues of the live workers of its queue (its own queue
// when none is known); one per live worker for a broadcast (nil when
// none).
func (d *dispatcher) fanOut(m *entry) []string {
	var workers []string
	if m.queue != "" && d.workersOf != nil {
		workers = d.workersOf(m.queue)
	}
	switch {
	case m.opts.Route == RouteBroadcast:
		if len(workers) == 0 {
			return nil
		}
		out := make([]string, len(workers))
		for k, w := range workers {
			out[k] = personalQueue(w)
		}
		return out
	case m.opts.Shards > 1:
		out := make([]string, m.opts.Shards)
		for k := range out {
			out[k] = m.queue
			if len(workers) > 0 {
				out[k] = personalQueue(workers[k%len(workers)])
			}
		}
		return out
	}
	return []string{m.queue}
}

// jobsFor makes a job of each claim this replica won and did not skip,
// and pairs each run to replace with the run replacing it.
func jobsFor(members []*entry, claims []models.Claim, plan []claimPlan, ids []int64, replaces map[int][]models.RunningRun, next time.Time) (jobs []Job, replaced [][2]int64) {
	doneStatus := models.TaskReady
	if next.IsZero() {
		doneStatus = models.TaskDone
	}
	for i, id := range ids {
		if id == 0 || claims[i].Status == models.RunSkipped {
			continue
		}
		for _, old := range replaces[i] {
			replaced = append(replaced, [2]int64{old.ID, id})
		}
		m, c := members[plan[i].member], claims[i]
		jobs = append(jobs, Job{
			RunID: id, TraceID: c.TraceID, TaskID: m.task.ID, TaskKey: m.task.Key, Func: m.task.Func, Args: m.args, Extra: m.extra(),
			ScheduledAt: c.ScheduledAt, Source: c.Source, Attempt: 1, Timeout: time.Duration(m.opts.Timeout), Owner: c.Owner, DoneStatus: doneStatus,
			Queue: plan[i].queue, Shard: c.Shard, Shards: c.Shards,
			Queued: c.Status == models.RunQueued, QueueEpoch: c.QueueEpoch,
		})
	}
	return jobs, replaced
}

// afterRelease writes, once the runs have started, a fast schedule's note
// on its task rows, and, once they are all recorded, deletes their
// run_start row.
func (d *dispatcher) afterRelease(markLater func(), startID int64, done []<-chan struct{}) {
	if markLater != nil {
		d.bg.Add(1)
		go func() {
			defer d.bg.Done()
			if d.hold != nil {
				d.hold()
			}
			markLater()
		}()
	}
	if startID == 0 {
		return
	}
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		for _, c := range done {
			<-c
		}
		if err := onConflictRepeat(func() error { return models.EndRunStart(context.Background(), d.db, startID) }); err != nil {
			d.log.Warn("run_start row left behind; the rescuer deletes it", "error", err)
		}
	}()
}

// runningOf returns the running runs of the members whose overlap policy
// looks at them, less those of owners known to be dead: their runs are
// the rescuer's, and must not hold a task back.
func (d *dispatcher) runningOf(ctx context.Context, members []*entry) (map[int64][]models.RunningRun, error) {
	var check []int64
	for _, m := range members {
		if m.opts.Overlap != OverlapAllow || m.opts.MaxParallel > 0 {
			check = append(check, m.task.ID)
		}
	}
	if len(check) == 0 {
		return nil, nil
	}
	var running map[int64][]models.RunningRun
	err := onConflictRepeat(func() (err error) {
		running, err = models.ListRunningByTask(ctx, d.db, check)
		return err
	})
	if err != nil {
		return nil, err
	}
	for id, rs := range running {
		live := rs[:0]
		for _, r := range rs {
			if d.alive(r.Owner) {
				live = append(live, r)
			}
		}
		if len(live) == 0 {
			delete(running, id)
		} else {
			running[id] = live
		}
	}
	return running, nil
}

// markFired writes a claimed fire to its task rows: now, or (for a
// schedule firing more often than fastPeriod) every fastPeriod, once the
// runs have started; then it returns the write to make later.
func (d *dispatcher) markFired(ctx context.Context, g *group, fired []int64, at, next time.Time) (later func()) {
	// A schedule's rows say "doing" before the runs start (their outcome
	// sets them back). One that fires every few seconds would rewrite its
	// rows at every fire: they are told of its fires every fastPeriod
	// only, keep status ready, and are written once the runs have
	// started, leaving the database to the claims (catch-up reads
	// execute_task, so nothing depends on them).
	fast := g != nil && !next.IsZero() && next.Sub(at) < fastPeriod
	mark := func() {
		if err := onConflictRepeat(func() error { return models.MarkTasksFired(ctx, d.db, fired, at, next, !fast) }); err != nil {
			d.log.Warn("fire claimed but task state not written", "error", err)
		}
	}
	switch {
	case !fast:
		mark()
	case at.Sub(g.marked) >= fastPeriod:
		g.marked = at
		return mark
	}
	return nil
}

// recordStarted records, just before they start, that this replica lets
// the runs go: if it dies before, they are requeued; after, they are lost
// (at most once). Recording late keeps that second window to a few
// milliseconds. It reports false when the record was not written (the
// replica was declared dead, the record being fenced by its liveness, or
// the database did not answer): then the runs must not start.
func (d *dispatcher) recordStarted(ctx context.Context, g *group, owner string, ids []int64, at time.Time) (int64, bool) {
	lead := markLead
	if g != nil {
		lead = min(max(2*g.marking, markLead), max(d.cfg.ClaimAhead, markLead))
	}
	if wait := at.Add(-lead).Sub(d.clock.Now()); wait > 0 {
		<-d.clock.After(wait)
	}
	t0 := d.clock.Now()
	defer func() {
		if g != nil {
			g.marking = d.clock.Since(t0)
		}
	}()
	var startID int64
	var ok bool
	err := onConflictRepeat(func() (err error) {
		startID, ok, err = models.StartRuns(ctx, d.db, owner, ids, at)
		return err
	})
	if err != nil {
		// Not recorded, so not started: were they started, and this
		// replica declared dead meanwhile (its beats fail too), the others
		// would run them again. They stay claimed, and run elsewhere once
		// their lease runs out or this replica is declared dead.
		d.log.Error("runs not started: they could not be recorded as started; they run once requeued", "scheduled_at", at, "runs", len(ids), "error", err)
		return 0, false
	}
	if !ok {
		d.log.Error("runs not started: this replica was declared dead", "scheduled_at", at, "runs", len(ids), "owner", owner)
	}
	return startID, ok
}

// waitUntil returns at t. A timer wakes a goroutine a millisecond or two
// late, and up to 20 ms late on a busy machine. With spin, the timer is
// set spinEarly before t and the rest is spent yielding the processor
// until t: worth a few milliseconds of a core for a release of many runs.
func (d *dispatcher) waitUntil(t time.Time, spin bool) {
	if spin {
		if wait := t.Sub(d.clock.Now()) - spinEarly; wait > 0 {
			<-d.clock.After(wait)
		}
		// A fake clock (tests) does not move by itself: yield for as long
		// as spinEarly of real time, then wait for the clock.
		for deadline := time.Now().Add(spinEarly); d.clock.Now().Before(t) && time.Now().Before(deadline); {
			runtime.Gosched()
		}
	}
	if wait := t.Sub(d.clock.Now()); wait > 0 {
		<-d.clock.After(wait)
	}
}

const (
	// spinEarly is how long before a fire time its release stops sleeping.
	spinEarly = 3 * time.Millisecond
	// spinRuns is the least number of runs a release spins for.
	spinRuns = 100
	// fastPeriod: schedules firing more often than this do not write
	// their task rows at every fire.
	fastPeriod = 10 * time.Second
	// lateWarn: a fire whose runs are ready later than this after its
	// time is logged as a warning, with what took the time.
	lateWarn = 50 * time.Millisecond
	// markLead is the least time before their time a fire's runs are
	// recorded started; a group whose record took longer records twice
	// that ahead.
	markLead = 10 * time.Millisecond
)

// settle notes that a group's fire at is claimed, or failed to be: from
// now on accounting may look at it.
func (d *dispatcher) settle(g *group, at time.Time) {
	d.tab.mu.Lock()
	defer d.tab.mu.Unlock()
	if at.After(g.settled) {
		g.settled = at
	}
}

// onConflictRepeat runs f, and again up to 4 more times while it fails
// with a conflict between concurrent writers (replicas claiming the same
// rows).
func onConflictRepeat(f func() error) error {
	var err error
	for try := range 5 {
		if err = f(); err == nil || !models.IsConflict(err) {
			return err
		}
		time.Sleep(time.Duration(try+1) * 5 * time.Millisecond)
	}
	return err
}

func groupKey(g *group) string {
	if g == nil {
		return ""
	}
	return g.key
}

// fireFailed notes a fire that could not be claimed (the database is
// unreachable): from it on, the members' fire times are accounted for
// once the database answers.
func (d *dispatcher) fireFailed(members []*entry, at time.Time, err error) {
	d.log.Error("fire not claimed: database unavailable; handled by the misfire policy once it is back",
		"scheduled_at", at, "tasks", len(members), "error", err)
	d.gapMu.Lock()
	defer d.gapMu.Unlock()
	if d.gaps == nil {
		d.gaps = map[int64]time.Time{}
	}
	d.gapFails++
	for _, m := range members {
		if from, ok := d.gaps[m.task.ID]; !ok || at.Before(from) {
			d.gaps[m.task.ID] = at
		}
	}
}

// closeRun closes a running run as cancelled; its executor cancels the
// function's context at once if it is here, or at its next lease
// renewal otherwise.
func (d *dispatcher) closeRun(ctx context.Context, id int64, to, why string) bool {
	for _, from := range []string{models.RunRunning, models.RunQueued} {
		ok, err := models.CloseRun(ctx, d.db, id, from, to, why, d.clock.Now(), time.Time{})
		if err != nil {
			d.log.Warn("cancel run", "exec_id", id, "error", err)
			return false
		}
		if ok {
			if from == models.RunRunning {
				d.exec.Cancel(id, errors.New(why))
			}
			return true
		}
	}
	return false
}
