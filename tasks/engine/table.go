package engine

import (
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
	err   string // why the row is not scheduled
	done  bool   // a date task with no fire time left
}

// table is the schedule as applied: the rows by id, the groups they
// share, and which row holds each task key. The syncer writes it; the
// dispatcher, retrier, rescuer and completer read it.
type table struct {
	mu      sync.Mutex // never held across a database call
	entries map[int64]*entry
	groups  map[string]*group
	keys    map[string]int64 // task_key -> id of the scheduled row using it
}

func newTable() *table {
	return &table{entries: map[int64]*entry{}, groups: map[string]*group{}, keys: map[string]int64{}}
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
