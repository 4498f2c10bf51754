package engine

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/libs/trigger"
	"taskrunner/models"
	"taskrunner/tasks"
)

// syncer keeps the table (rows → schedule groups) in step with the task
// table: SyncOnce reads the rows whose update_at moved since the last
// sync (and all rows now and then), compares each with a hash of its
// definition, and adds, changes or removes only what differs, writing
// each changed row's state back. Its loop ticks SyncOnce; a failed sync
// is logged and tried again at the next tick, and stops nothing else.
type syncer struct {
	cfg   Config
	db    *models.DB
	reg   *tasks.Registry
	log   *slog.Logger
	clock clockwork.Clock
	obs   Observer
	tab   *table
	timer *timer
	// caughtUp is told, after the first sync, every row as it was read:
	// the dispatcher accounts for the fire times nobody claimed while all
	// replicas were down.
	caughtUp func(rows []models.Task, now time.Time)
	// queueOf names the queue the runs of a row go to, from its function
	// and its extra.queue; "" runs them in the replica. Nil: no queue.
	queueOf func(fn, named string) string

	mu       sync.Mutex     // one sync at a time
	again    map[int64]bool // rows to read again at the next sync: applied, not written
	report   SyncReport
	synced   bool
	since    time.Time // the database's clock when the last sync began
	lastFull time.Time

	loop loop
}

// deltaOverlap is how far before the previous sync (by the database's
// clock, which sets update_at) a delta sync reads: update_at has
// one-second resolution and an edit may commit a while after its
// statement ran. Rows read again with an unchanged definition cost a hash
// comparison; an edit whose transaction stayed open longer is picked up
// by the next full sync.
const deltaOverlap = time.Minute

// SyncReport says what a sync did.
type SyncReport struct {
	Full    bool // every row was read
	Read    int  // rows read
	Changed int  // rows whose definition changed (added, edited, disabled)
	Removed int  // rows deleted from the table
	Groups  int  // distinct schedules, one gocron job each
	Tasks   int  // rows known
	// States counts the rows known by the state applied to them.
	States TaskCounts
}

// Start syncs until the first sync succeeds (retrying with backoff), then
// starts the loop. It returns early only when ctx ends.
func (s *syncer) Start(ctx context.Context) error {
	wait := time.Second
	for {
		err := s.SyncOnce(ctx)
		if err == nil {
			break
		}
		s.log.Error("first sync failed, retrying", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.clock.After(wait):
		}
		wait = min(wait*2, s.cfg.SyncInterval)
	}
	failing := false
	s.loop.every(s.clock, s.cfg.SyncInterval, nil, func() {
		if err := s.SyncOnce(ctx); err != nil {
			if !failing {
				s.log.Error("sync failed; the loaded schedule keeps running", "error", err)
			}
			failing = true
		} else if failing {
			s.log.Info("sync recovered")
			failing = false
		}
	})
	return nil
}

// Stop ends the loop.
func (s *syncer) Stop() { s.loop.halt() }

// LastSync returns the report of the last successful sync.
func (s *syncer) LastSync() SyncReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.report
}

// SyncOnce reconciles the schedule with the task table once.
func (s *syncer) SyncOnce(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t0 := time.Now()
	again := s.again // rows to read whatever their update_at; more may come
	s.again = nil
	rep, err := s.syncOnce(ctx, again)
	if err != nil {
		for id := range again {
			s.tab.mu.Lock()
			s.lookAgain(id)
			s.tab.mu.Unlock()
		}
	}
	s.obs.SyncDone(rep, time.Since(t0), err)
	return err
}

func (s *syncer) syncOnce(ctx context.Context, again map[int64]bool) (SyncReport, error) {
	now := s.clock.Now()
	first := !s.synced
	full := first || now.Sub(s.lastFull) >= s.cfg.FullSyncInterval

	stats, err := models.GetTaskStats(ctx, s.db)
	if err != nil {
		return SyncReport{}, fmt.Errorf("sync: %w", err)
	}
	var rows []models.Task
	if full {
		rows, err = models.ListTasks(ctx, s.db)
	} else {
		rows, err = models.ListTasksUpdatedSince(ctx, s.db, s.since.Add(-deltaOverlap))
	}
	if err != nil {
		return SyncReport{}, fmt.Errorf("sync: read tasks: %w", err)
	}

	var ch changes
	rep := SyncReport{Full: full, Read: len(rows)}
	seen := make(map[int64]bool, len(rows))
	s.tab.mu.Lock()
	for _, t := range rows {
		seen[t.ID] = true
		if s.apply(t, now, &ch) {
			rep.Changed++
		}
	}
	var gone []int64
	if full {
		for id := range s.tab.entries {
			if !seen[id] {
				gone = append(gone, id)
			}
		}
	}
	known := len(s.tab.entries)
	s.tab.mu.Unlock()

	// A count that differs from ours means rows were deleted (or added with
	// an old update_at): only then read the ids.
	if !full && int(stats.Count) != known {
		deleted, err := s.reconcileIDs(ctx, seen, now, &ch, &rep)
		if err != nil {
			return rep, err
		}
		gone = append(gone, deleted...)
	}
	if len(again) > 0 && !full {
		ids := make([]int64, 0, len(again))
		for id := range again {
			if !seen[id] {
				ids = append(ids, id)
			}
		}
		if err := s.applyByID(ctx, ids, now, &ch, &rep); err != nil {
			return rep, err
		}
	}
	rep.Removed = s.remove(gone, &ch)
	if err := s.commit(ctx, &ch); err != nil {
		return rep, err
	}
	s.audit(ctx, ch.audits)
	s.since = stats.Now
	s.synced = true
	if full {
		s.lastFull = now
	}
	s.tab.mu.Lock()
	rep.Groups, rep.Tasks, rep.States = len(s.tab.groups), len(s.tab.entries), s.tab.counts
	s.tab.mu.Unlock()
	s.report = rep
	if first && s.caughtUp != nil {
		s.caughtUp(rows, now)
	}
	return rep, nil
}

// reconcileIDs reads every id: it returns the known rows no longer in
// the table, and applies the rows in it this sync did not read.
func (s *syncer) reconcileIDs(ctx context.Context, seen map[int64]bool, now time.Time, ch *changes, rep *SyncReport) ([]int64, error) {
	ids, err := models.ListTaskIDs(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("sync: read task ids: %w", err)
	}
	inDB := make(map[int64]bool, len(ids))
	for _, id := range ids {
		inDB[id] = true
	}
	var gone, unknown []int64
	s.tab.mu.Lock()
	for id := range s.tab.entries {
		if !inDB[id] {
			gone = append(gone, id)
		}
	}
	for _, id := range ids {
		if s.tab.entries[id] == nil && !seen[id] {
			unknown = append(unknown, id)
		}
	}
	s.tab.mu.Unlock()
	return gone, s.applyByID(ctx, unknown, now, ch, rep)
}

// applyByID reads the given rows and applies them.
func (s *syncer) applyByID(ctx context.Context, ids []int64, now time.Time, ch *changes, rep *SyncReport) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := models.ListTasksByID(ctx, s.db, ids)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	s.tab.mu.Lock()
	defer s.tab.mu.Unlock()
	for _, t := range rows {
		if s.apply(t, now, ch) {
			rep.Changed++
		}
	}
	return nil
}

// Reload applies the given rows now, as a sync would: edited ones change,
// deleted ones stop. The operator surfaces call it after a write, so an
// edit applies at once rather than at the next sync.
func (s *syncer) Reload(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := models.ListTasksByID(ctx, s.db, ids)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	now := s.clock.Now()
	found := map[int64]bool{}
	var ch changes
	s.tab.mu.Lock()
	for _, t := range rows {
		found[t.ID] = true
		s.apply(t, now, &ch)
	}
	s.tab.mu.Unlock()
	var gone []int64
	for _, id := range ids {
		if !found[id] {
			gone = append(gone, id)
		}
	}
	s.remove(gone, &ch)
	if err := s.commit(ctx, &ch); err != nil {
		return err
	}
	s.audit(ctx, ch.audits)
	return nil
}

// noteChange notes a change of a row's definition for the audit log:
// old nil is a new row, t nil a deleted one. Called with the table's mu
// held.
func (s *syncer) noteChange(old *entry, t *models.Task, now time.Time, ch *changes) {
	a := models.Audit{At: now.UTC(), Actor: "sql", Source: models.AuditSourceSQL}
	switch {
	case old == nil:
		a.Action, a.TaskID, a.TaskKey = models.AuditCreate, t.ID, t.Key
	case t == nil:
		a.Action, a.TaskID, a.TaskKey = models.AuditDelete, old.task.ID, old.task.Key
	default:
		a.TaskID, a.TaskKey = t.ID, t.Key
		switch {
		case old.task.IsValid == 1 && t.IsValid != 1:
			a.Action = models.AuditDisable
		case old.task.IsValid != 1 && t.IsValid == 1:
			a.Action = models.AuditEnable
		default:
			a.Action = models.AuditUpdate
		}
	}
	if old != nil {
		a.Before = models.NullString(models.TaskDefinition(old.task))
	}
	if t != nil {
		a.After = models.NullString(models.TaskDefinition(*t))
	}
	if a.Before == a.After {
		return // applied again, not changed
	}
	ch.audits = append(ch.audits, a)
}

// audit records the definition changes a sync found that no surface
// audited: raw edits of the table. A failure is logged; the sync goes on.
func (s *syncer) audit(ctx context.Context, audits []models.Audit) {
	if len(audits) == 0 {
		return
	}
	n, err := models.InsertAuditsOnce(ctx, s.db, audits)
	if err != nil {
		s.log.Warn("raw edits not audited", "changes", len(audits), "error", err)
		return
	}
	if n > 0 {
		s.log.Info("raw edits of the task table audited", "changes", n)
	}
}

// remove forgets deleted rows and returns how many it knew.
func (s *syncer) remove(ids []int64, ch *changes) int {
	s.tab.mu.Lock()
	defer s.tab.mu.Unlock()
	n := 0
	for _, id := range ids {
		if old := s.tab.entries[id]; old != nil {
			if s.synced {
				s.noteChange(old, nil, s.clock.Now(), ch)
			}
			s.log.Info("task removed: row deleted", "task_key", old.task.Key, "task_id", id)
			s.detach(old, ch)
			s.tab.drop(id)
			n++
		}
	}
	return n
}

// changes collects what a sync must do outside the table's lock.
type changes struct {
	// parsed caches the schedules parsed in this sync: rows sharing a
	// spec share one parse and one Schedule.
	parsed map[parseKey]parsed
	added  []*group
	maybe  map[string]*group // groups a detach emptied
	writes map[models.TaskState][]int64
	// audits are the definition changes this sync found, for the audit
	// log: those made through the API or the CLI are there already; the
	// rest were raw edits of the table.
	audits []models.Audit
}

func (c *changes) write(st models.TaskState, id int64) {
	if c.writes == nil {
		c.writes = map[models.TaskState][]int64{}
	}
	c.writes[st] = append(c.writes[st], id)
}

// commit applies the timer changes and writes the rows' new state.
func (s *syncer) commit(ctx context.Context, ch *changes) error {
	s.tab.mu.Lock()
	var removed []*group
	for key, g := range ch.maybe {
		if len(g.members) == 0 && s.tab.groups[key] == g {
			delete(s.tab.groups, key)
			removed = append(removed, g)
		}
	}
	s.tab.mu.Unlock()
	for _, g := range removed {
		s.timer.remove(g)
	}
	for _, g := range ch.added {
		if err := s.timer.add(g); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	if len(ch.writes) == 0 {
		return nil
	}
	err := s.writeBack(ctx, ch.writes)
	if err == nil {
		return nil
	}
	if models.IsPermanent(err) {
		// One row's state cannot be stored: write them one by one, and
		// mark those that fail, so the others proceed.
		return s.writeEach(ctx, ch.writes)
	}
	// Applied in memory but not written: apply these rows again at the
	// next sync, so their row ends up saying the truth.
	s.forget(ch.writes)
	return err
}

// forget makes the next sync read and apply rows again (a delta sync
// would not read them: their update_at did not move).
func (s *syncer) forget(writes map[models.TaskState][]int64) {
	s.tab.mu.Lock()
	defer s.tab.mu.Unlock()
	for _, ids := range writes {
		for _, id := range ids {
			s.lookAgain(id)
		}
	}
}

// lookAgain makes the next sync read and apply a row again, whether its
// update_at moved or not. Called with the table's mu held, in a sync.
func (s *syncer) lookAgain(id int64) {
	if ent := s.tab.entries[id]; ent != nil {
		ent.hash = ""
	}
	if s.again == nil {
		s.again = map[int64]bool{}
	}
	s.again[id] = true
}

// writeBack writes the rows' new state in one transaction: one commit for
// all the rows a sync changed.
func (s *syncer) writeBack(ctx context.Context, writes map[models.TaskState][]int64) error {
	tx, err := s.db.Begin(ctx)
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

// writeEach writes each row's state alone. A row whose state cannot be
// stored is taken out of the schedule and marked error with the reason;
// a transient failure leaves the rest for the next sync.
func (s *syncer) writeEach(ctx context.Context, writes map[models.TaskState][]int64) error {
	var failed error
	for st, ids := range writes {
		for _, id := range ids {
			err := models.SetTaskState(ctx, s.db, []int64{id}, st)
			switch {
			case err == nil:
				continue
			case !models.IsPermanent(err):
				failed = err
				s.forget(map[models.TaskState][]int64{st: {id}})
				continue
			}
			reason := "column status: the engine's state of the row cannot be stored: " + err.Error()
			s.log.Warn("task not scheduled", "task_id", id, "reason", reason)
			var ch changes
			s.tab.mu.Lock()
			if ent := s.tab.entries[id]; ent != nil {
				s.detach(ent, &ch)
				ent2 := *ent
				ent2.err, ent2.group = reason, nil
				s.tab.put(&ent2)
			}
			s.tab.mu.Unlock()
			if err := s.commit(ctx, &changes{maybe: ch.maybe}); err != nil {
				failed = err
			}
			if err := models.SetTaskState(ctx, s.db, []int64{id}, models.TaskState{Status: models.TaskError, SchedError: reason}); err != nil {
				failed = err
			}
		}
	}
	return failed
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
// definition changed. Called with the table's mu held.
func (s *syncer) apply(t models.Task, now time.Time, ch *changes) bool {
	h := defHash(t)
	old := s.tab.entries[t.ID]
	if old != nil && old.hash == h {
		return false
	}
	if old != nil {
		s.detach(old, ch)
	}
	if s.synced {
		s.noteChange(old, &t, now, ch)
	}
	ne := s.build(t, h, ch, now)
	if ne.err == "" && !ne.done && t.IsValid == 1 {
		key := ne.sched.Kind() + " " + ne.sched.Spec() + " @" + ne.loc.String()
		g := s.tab.groups[key]
		if g == nil {
			g = newGroup(key, ne.sched, now)
			s.tab.groups[key] = g
			ch.added = append(ch.added, g)
		}
		g.add(ne)
		ne.group = g
		s.tab.keys[t.Key] = t.ID
	}
	s.tab.put(ne)

	switch {
	case ne.err != "":
		if old == nil || old.err != ne.err {
			s.log.Warn("task not scheduled", "task_key", t.Key, "task_id", t.ID, "reason", ne.err)
		}
	case t.IsValid != 1:
		if old != nil && old.task.IsValid == 1 {
			s.log.Info("task stopped: is_valid = 0", "task_key", t.Key, "task_id", t.ID)
		}
	case old == nil || old.err != "" || old.task.IsValid != 1:
		s.log.Info("task scheduled", "task_key", t.Key, "task_id", t.ID, "trigger", ne.sched.Kind(), "spec", ne.sched.Spec())
	default:
		s.log.Info("task changed", "task_key", t.Key, "task_id", t.ID, "trigger", ne.sched.Kind(), "spec", ne.sched.Spec())
	}

	st := ne.state()
	if st.Status != t.Status || st.AppliedSpec != t.AppliedSpec || st.SchedError != t.SchedError ||
		!sameTime(st.NextFireAt, t.NextFireAt) {
		ch.write(st, t.ID)
	}
	return true
}

// maxStorable is the latest time a DATETIME column holds.
var maxStorable = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// build parses a row. A row that cannot be scheduled gets err, naming the
// column at fault.
func (s *syncer) build(t models.Task, hash string, ch *changes, now time.Time) *entry {
	ne := &entry{task: t, hash: hash}
	if t.IsValid != 1 {
		return ne
	}
	opts, loc, err := parseOptions(t.Extra, s.cfg.Location, s.cfg.Defaults)
	if err != nil {
		ne.err = "column extra: " + err.Error()
		return ne
	}
	ne.opts, ne.loc = opts, loc
	if s.queueOf != nil {
		ne.queue = s.queueOf(t.Func, opts.Queue)
	}
	if opts.Route == RouteBroadcast && ne.queue == "" {
		ne.err = "column extra: key \"route\": broadcast runs on the workers of a queue; this daemon has no queue, or the row names none (\"queue\")"
		return ne
	}
	if ne.sched, err = ch.parse(t.Trigger, t.Spec, loc, t.UpdateAt); err != nil {
		ne.err = err.Error()
		return ne
	}
	if loop := s.thenLoop(t.Key, opts.Then); loop != "" {
		ne.err = "column extra: key \"then\": the child tasks make a loop: " + loop
		return ne
	}
	if ne.args, err = tasks.ParseArgs(t.Args); err != nil {
		ne.err = "column args: " + err.Error()
		return ne
	}
	if _, err = s.reg.Check(t.Func, ne.args); err != nil {
		if errors.Is(err, tasks.ErrUnknownFunc) {
			ne.err = "column execute_func: " + err.Error()
		} else {
			ne.err = fmt.Sprintf("column args: %v (as %s takes them)", err, t.Func)
		}
		return ne
	}
	// Of two valid rows with one key, the lower id runs: every replica
	// decides the same, whatever order the rows became valid in.
	if other, ok := s.tab.keys[t.Key]; ok && other != t.ID {
		if o := s.tab.entries[other]; o != nil && o.group != nil {
			if other < t.ID {
				ne.err = fmt.Sprintf("column task_key: %q is already used by task row %d", t.Key, other)
				ne.hash = ""
				s.lookAgain(t.ID) // the other row may go
				return ne
			}
			s.refuseKey(o, t.ID, ch)
		}
	}
	next := ne.sched.Next(now)
	if next.IsZero() {
		ne.done = true
	} else if next.After(maxStorable) {
		ne.err = fmt.Sprintf("column spec: the next fire time, %s UTC, is past 9999-12-31 23:59:59 UTC, the latest the database stores",
			next.UTC().Format("2006-01-02 15:04:05"))
	}
	return ne
}

// thenLoop returns the loop, if any, that a row's child tasks make back to
// it through the children of the scheduled rows: "a → b → a". Called
// with the table's mu held.
func (s *syncer) thenLoop(key string, then thenRules) string {
	var walk func(path []string, rules thenRules) string
	seen := map[string]bool{}
	walk = func(path []string, rules thenRules) string {
		for _, r := range rules {
			next := append(path[:len(path):len(path)], r.Key)
			if r.Key == key {
				return strings.Join(next, " → ")
			}
			if seen[r.Key] {
				continue
			}
			seen[r.Key] = true
			if id, ok := s.tab.keys[r.Key]; ok {
				if ent := s.tab.entries[id]; ent != nil && ent.group != nil {
					if loop := walk(next, ent.opts.Then); loop != "" {
						return loop
					}
				}
			}
		}
		return ""
	}
	return walk([]string{key}, then)
}

// refuseKey takes a scheduled row out of the schedule because a row with
// a lower id took its key. Called with the table's mu held.
func (s *syncer) refuseKey(o *entry, by int64, ch *changes) {
	s.detach(o, ch)
	refused := *o
	refused.err = fmt.Sprintf("column task_key: %q is already used by task row %d", o.task.Key, by)
	refused.hash = ""
	s.tab.entries[o.task.ID] = &refused
	s.lookAgain(o.task.ID) // the other row may go
	s.log.Warn("task not scheduled", "task_key", o.task.Key, "task_id", o.task.ID, "reason", refused.err)
	ch.write(refused.state(), o.task.ID)
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

// detach takes an entry out of its group. Called with the table's mu held.
func (s *syncer) detach(old *entry, ch *changes) {
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
	if s.tab.keys[old.task.Key] == old.task.ID {
		delete(s.tab.keys, old.task.Key)
	}
}

// state is what a row should say about its entry. Called with the
// table's mu held.
func (ne *entry) state() models.TaskState {
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
