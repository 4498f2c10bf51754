package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Func is a task function: the Go form of the original
// `async def f(task_key, *args, **kwargs)`. ctx is cancelled on timeout,
// on shutdown and when the run is replaced; a function should return soon
// after. Returning nil records success; see ErrSkipped and NoRetry.
type Func func(ctx context.Context, run *Run) error

// Run is what a task function knows about its run.
type Run struct {
	TaskID  int64
	TaskKey string // task.task_key
	Args    Args   // task.args, decoded
	// ExecID is the execute_task row of this run (the original sub_task_id).
	ExecID int64
	// TraceID is the run's UUID (the original __unique_trace_id__). It is
	// on every line of Logger and in execute_task.trace_id.
	TraceID     string
	ScheduledAt time.Time // the fire time this run is for, UTC
	Attempt     int       // 1, then 2.. for retries
	// ShardIndex is this run's shard, 0 to ShardTotal-1, when its task
	// splits a fire into ShardTotal runs (extra.shards) or runs it on
	// every worker (extra.route broadcast); ShardTotal is 0 otherwise.
	ShardIndex, ShardTotal int
	Logger                 *slog.Logger
	// Extra is the row's extra column (a JSON object, or empty): the
	// engine's keys and the function's own options, such as a built-in
	// kind's url or script (see tasks/kinds).
	Extra json.RawMessage

	out boundedBuffer
}

// NewRun returns a run whose output keeps at most limit bytes.
func NewRun(limit int) *Run { return &Run{out: boundedBuffer{limit: limit}} }

// Output is where a task writes its result; execute_task.output keeps
// the first bytes of it, up to the configured limit.
func (r *Run) Output() io.Writer { return &r.out }

// Printf writes to Output.
func (r *Run) Printf(format string, args ...any) { fmt.Fprintf(&r.out, format, args...) }

// OutputText returns what was written, with a note if it was cut.
func (r *Run) OutputText() string { return r.out.String() }

// boundedBuffer keeps the first limit bytes written and counts the rest.
type boundedBuffer struct {
	mu      sync.Mutex
	limit   int
	buf     []byte
	dropped int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.limit - len(b.buf)
	if room >= len(p) {
		b.buf = append(b.buf, p...)
	} else {
		if room > 0 {
			b.buf = append(b.buf, p[:room]...)
		}
		b.dropped += len(p) - max(room, 0)
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return string(b.buf)
	}
	return fmt.Sprintf("%s\n... [%d more bytes not kept]", b.buf, b.dropped)
}
