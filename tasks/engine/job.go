package engine

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"taskrunner/models"
	"taskrunner/tasks"
)

// Job is one claimed run: all an executor needs to run it, and nothing
// that cannot cross a process boundary (it encodes as JSON). Its row in
// execute_task exists and says running, owned by Owner.
type Job struct {
	RunID   int64      `json:"run_id"` // execute_task.id
	TraceID string     `json:"trace_id"`
	TaskID  int64      `json:"task_id"`
	TaskKey string     `json:"task_key"`
	Func    string     `json:"func"`
	Args    tasks.Args `json:"args"`
	// Extra is the row's extra column: options of the task's kind.
	Extra       json.RawMessage `json:"extra,omitempty"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	Source      string          `json:"source"`
	Attempt     int             `json:"attempt"`
	// FirstID is the run id of attempt 1 of the same fire; 0 for attempt 1.
	FirstID int64 `json:"first_id,omitempty"`
	// Timeout: the run's deadline is its start plus this; 0 means none.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Owner is the replica or worker whose liveness guards the run: only
	// its outcome is recorded (fenced by run id, attempt and owner).
	Owner string `json:"owner"`
	// DoneStatus is the task's status once the run ends: ready, or done
	// for the last fire of a date task.
	DoneStatus string `json:"done_status"`
	// Queue is the named queue a worker takes the run from; empty: it
	// runs in the replica that claimed it.
	Queue string `json:"queue,omitempty"`
	// Shard is the run's index among the Shards runs of its fire (a
	// sharded or broadcast task); Shards is 0 for a fire of one run.
	Shard  int `json:"shard,omitempty"`
	Shards int `json:"shards,omitempty"`
	// Queued says the run's row was handed to Queue by its claim, as sent
	// under QueueEpoch: at its time the job is only sent. The replica's
	// business; not carried to workers.
	Queued     bool   `json:"-"`
	QueueEpoch string `json:"-"`
}

// first returns the run id of attempt 1 of the job's fire.
func (j Job) first() int64 {
	if j.FirstID != 0 {
		return j.FirstID
	}
	return j.RunID
}

// Executor runs claimed jobs. The in-process Runner is one; a queue that
// hands jobs to workers is another. Whatever runs a job records its
// outcome through a Recorder, which accepts it only from the job's owner.
type Executor interface {
	// Execute takes jobs; they start once gate is released (a nil gate:
	// at once), and never if it is aborted. Each returned channel is
	// closed once its job's outcome is recorded or the job is given up.
	Execute(ctx context.Context, jobs []Job, gate *Gate) []<-chan struct{}
	// Cancel cancels a run the executor holds, if it does.
	Cancel(runID int64, cause error) bool
	// Drain takes no more jobs, waits for running ones until ctx ends,
	// then interrupts the rest, and returns how many it cut off.
	Drain(ctx context.Context) int
}

// Recorder records outcomes; Record returns once the outcome is written
// (or refused, when the job's owner no longer owns the run). noRetry is
// the function's tasks.NoRetry.
type Recorder interface {
	Record(job Job, f models.Finish, noRetry bool)
}

// Gate holds a fire's jobs until their time: the dispatcher claims a fire
// ahead of it, and releases its runs together at the time itself, or
// aborts them when they may not start (this replica was declared dead).
type Gate struct {
	ch      chan struct{}
	once    sync.Once
	aborted atomic.Bool
	mu      sync.Mutex
	hooks   []func()
}

// NewGate returns a closed gate.
func NewGate() *Gate { return &Gate{ch: make(chan struct{})} }

// Wait is closed when the gate opens (released or aborted).
func (g *Gate) Wait() <-chan struct{} { return g.ch }

// Aborted reports whether the jobs must not start.
func (g *Gate) Aborted() bool { return g.aborted.Load() }

// OnRelease runs f just before the gate opens; an executor counts there
// the runs about to start.
func (g *Gate) OnRelease(f func()) {
	g.mu.Lock()
	g.hooks = append(g.hooks, f)
	g.mu.Unlock()
}

// Release opens the gate: the jobs start.
func (g *Gate) Release() {
	g.once.Do(func() {
		g.mu.Lock()
		hooks := g.hooks
		g.mu.Unlock()
		for _, f := range hooks {
			f()
		}
		close(g.ch)
	})
}

// Abort opens the gate with the jobs told not to start.
func (g *Gate) Abort() {
	g.aborted.Store(true)
	g.Release()
}

// rowJob is the job of a run's row (a pending attempt, or a queued run
// sent again), as its task is scheduled now; next is the task's next fire
// time (none: its last run, done).
func rowJob(ent *entry, row models.ExecuteTask, args tasks.Args, next time.Time, owner, queue string) Job {
	doneStatus := models.TaskReady
	if next.IsZero() {
		doneStatus = models.TaskDone
	}
	return Job{
		RunID: row.ID, TraceID: row.TraceID, TaskID: row.TaskID, TaskKey: ent.task.Key, Func: ent.task.Func, Args: args, Extra: ent.extra(),
		ScheduledAt: row.ScheduledAt.Time, Source: row.Source, Attempt: row.Attempt, FirstID: row.FirstID.Int64,
		Timeout: time.Duration(ent.opts.Timeout), Owner: owner, DoneStatus: doneStatus, Queue: queue,
		Shard: row.Shard, Shards: row.ShardTotal,
	}
}

// closeUnscheduled closes a pending or queued run whose task is no longer
// scheduled (disabled, deleted, in error): skipped, not run.
func closeUnscheduled(ctx context.Context, db *models.DB, id int64, from, what string, now time.Time) error {
	_, err := models.CloseRun(ctx, db, id, from, models.RunSkipped, what+" not run: the task is no longer scheduled", now, time.Time{})
	return err
}
