package engine

import (
	"encoding/json"
	"sync"
	"time"

	"taskrunner/libs/trigger"
	"taskrunner/models"
	"taskrunner/tasks"
)

// entry is one row as the engine applied it. An entry is never changed
// once built, but for its group link (guarded by the table's mu): an edit
// of the row builds a new one.
type entry struct {
	task  models.Task
	hash  string
	sched trigger.Schedule
	loc   *time.Location
	args  tasks.Args
	opts  taskOptions
	group *group
	queue string // the queue its runs go to; "" = run in the replica
	err   string // why the row is not scheduled
	done  bool   // a date task with no fire time left
}

// extra returns the row's extra for the job, nil when empty.
func (e *entry) extra() json.RawMessage {
	if e.task.Extra == "" || e.task.Extra == "{}" {
		return nil
	}
	return json.RawMessage(e.task.Extra)
}

// table is the schedule as applied: the rows by id, the groups they
// share, and which row holds each task key. The syncer writes it; the
// dispatcher, retrier, rescuer and completer read it.
type table struct {
	mu      sync.Mutex // never held across a database call
	entries map[int64]*entry
	groups  map[string]*group
	keys    map[string]int64 // task_key -> id of the scheduled row using it
	// counts is entries by state, kept as entries come and go, so a
	// sync reports it without a walk of 100,000 entries or a query.
	counts TaskCounts
	// queues counts the entries by the queue their runs go to, so the
	// sweeper knows the queues without a walk of the entries.
	queues map[string]int
}

func newTable() *table {
	return &table{entries: map[int64]*entry{}, groups: map[string]*group{}, keys: map[string]int64{}, queues: map[string]int{}}
}

// TaskCounts counts the rows the engine knows by the state it applied to
// them. Doing is not among them: a row says doing while a run of it is
// in progress on any replica, which this replica knows only for its own
// runs; such a row counts as ready.
type TaskCounts struct {
	Ready    int // scheduled
	Error    int // cannot be scheduled (sched_error)
	Disabled int // is_valid = 0
	Done     int // a date task with no fire time left
}

// add counts ent in its state, n = 1, or out of it, n = -1.
func (c *TaskCounts) add(ent *entry, n int) {
	switch {
	case ent.task.IsValid != 1:
		c.Disabled += n
	case ent.err != "":
		c.Error += n
	case ent.done:
		c.Done += n
	default:
		c.Ready += n
	}
}

// put stores the entry of a row, replacing its old one. Called with mu held.
func (t *table) put(ent *entry) {
	if old := t.entries[ent.task.ID]; old != nil {
		t.counts.add(old, -1)
		t.countQueue(old.queue, -1)
	}
	t.counts.add(ent, 1)
	t.countQueue(ent.queue, 1)
	t.entries[ent.task.ID] = ent
}

// countQueue counts an entry in its queue, n = 1, or out of it, n = -1.
// Called with mu held.
func (t *table) countQueue(queue string, n int) {
	if queue == "" {
		return
	}
	if t.queues[queue] += n; t.queues[queue] == 0 {
		delete(t.queues, queue)
	}
}

// queueNames returns the queues the entries' runs go to.
func (t *table) queueNames() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.queues))
	for q := range t.queues {
		out = append(out, q)
	}
	return out
}

// drop forgets a row. Called with mu held.
func (t *table) drop(id int64) {
	if old := t.entries[id]; old != nil {
		t.counts.add(old, -1)
		t.countQueue(old.queue, -1)
		delete(t.entries, id)
	}
}

// scheduled returns the entry of a task that is scheduled (valid, no
// error, in a group), and the next fire time of its group.
func (t *table) scheduled(id int64) (*entry, time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ent := t.entries[id]
	if ent == nil || ent.group == nil {
		return nil, time.Time{}, false
	}
	return ent, ent.group.sched.Next(ent.group.cursor), true
}

// byKey returns the scheduled entry holding a task key.
func (t *table) byKey(key string) (*entry, time.Time, bool) {
	t.mu.Lock()
	id, ok := t.keys[key]
	t.mu.Unlock()
	if !ok {
		return nil, time.Time{}, false
	}
	return t.scheduled(id)
}

// options returns the options of a scheduled task, for retry decisions.
func (t *table) options(id int64) (taskOptions, bool) {
	ent, _, ok := t.scheduled(id)
	if !ok {
		return taskOptions{}, false
	}
	return ent.opts, true
}

// group returns the group of a schedule key and its members in order.
func (t *table) group(key string) (*group, []*entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.groups[key]
	if g == nil {
		return nil, nil
	}
	return g, g.inOrder()
}

// recovers reports whether a run of this task that a dead worker held goes
// back on the task's queue rather than being lost: a shard always does
// (another worker runs it), a broadcast run never (it was for that
// worker), any other as extra.on_lost says.
func (e *entry) recovers(run models.ExecuteTask) bool {
	switch {
	case e.opts.Route == RouteBroadcast:
		return false
	case run.ShardTotal > 0:
		return true
	}
	return e.opts.OnLost == OnLostRecover
}
