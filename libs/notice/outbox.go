package notice

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// outbox is one channel's queue and the worker that empties it within the
// channel's limits. Notify only appends under a lock and wakes the worker;
// sends, waits and retries happen in the worker.
type outbox struct {
	ch    Channel
	cfg   Config
	clock clockwork.Clock
	log   *slog.Logger
	wake  chan struct{} // Capacity 1: a pending wake-up is enough.
	lim   *limiter      // The worker's only.

	mu      sync.Mutex
	pending []Message
	full    map[string]int // Alerts not kept because pending was full, by task.
	tasks   map[string]*taskState
	starved bool // Alerts waited for the budget: they go as one digest.
}

// taskState is the per-task limit: the last alert let through, and those
// counted since.
type taskState struct {
	last   time.Time // When the last alert was let through.
	n      int       // Counted since, not sent.
	due    time.Time // When the count is reported: last + task_interval.
	status string    // Of the latest counted.
}

func newOutbox(ch Channel, cfg Config, clock clockwork.Clock, log *slog.Logger) *outbox {
	return &outbox{
		ch: ch, cfg: cfg, clock: clock,
		log:   log.With("channel", ch.Name(), "host", ch.Host()),
		wake:  make(chan struct{}, 1),
		lim:   newLimiter(ch.Limits()),
		full:  map[string]int{},
		tasks: map[string]*taskState{},
	}
}

// add queues m, or counts it; it never blocks on the worker.
func (o *outbox) add(m Message) {
	now := o.clock.Now()
	o.mu.Lock()
	o.admit(now, m)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) admit(now time.Time, m Message) {
	if o.cfg.TaskInterval > 0 {
		ts := o.tasks[m.TaskKey]
		if ts != nil && now.Before(ts.last.Add(o.cfg.TaskInterval)) {
			if ts.n == 0 {
				ts.due = ts.last.Add(o.cfg.TaskInterval)
			}
			ts.n++
			ts.status = m.Status
			return
		}
		if ts == nil {
			ts = &taskState{}
			o.tasks[m.TaskKey] = ts
		}
		ts.last = now
	}
	if len(o.pending) >= o.cfg.QueueSize {
		o.full[m.TaskKey]++
		return
	}
	o.pending = append(o.pending, m)
}

// take returns the next batch to send, or how long to wait for one (0:
// until woken). A message goes alone while the budget covers everything
// queued; otherwise, or when the queue had to wait for the budget, or
// when counts are due, everything queued and counted goes as one digest.
func (o *outbox) take(now time.Time, all bool) (b Batch, wait time.Duration, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var due []Count
	var next time.Time
	for key, ts := range o.tasks {
		switch {
		case ts.n > 0 && (all || !now.Before(ts.due)):
			due = append(due, Count{TaskKey: key, N: ts.n, Why: "repeated", Status: ts.status})
		case ts.n > 0:
			if next.IsZero() || ts.due.Before(next) {
				next = ts.due
			}
		case !now.Before(ts.last.Add(o.cfg.TaskInterval)):
			delete(o.tasks, key) // Nothing counted, window over: forget it.
		}
	}
	if len(o.pending) == 0 && len(o.full) == 0 && len(due) == 0 {
		if next.IsZero() {
			return Batch{}, 0, false
		}
		return Batch{}, next.Sub(now), false
	}
	if !all {
		avail := o.lim.avail(now)
		if avail == 0 {
			o.starved = true
			return Batch{}, max(o.lim.next(now).Sub(now), time.Millisecond), false
		}
		if !o.starved && len(due) == 0 && len(o.full) == 0 && len(o.pending) <= avail {
			b.Messages = []Message{o.pending[0]}
			o.pending = o.pending[1:]
			return b, 0, true
		}
	}
	for _, c := range due {
		ts := o.tasks[c.TaskKey]
		ts.n, ts.status = 0, ""
	}
	for key, n := range o.full {
		due = append(due, Count{TaskKey: key, N: n, Why: "queue full"})
	}
	sort.Slice(due, func(i, j int) bool { return due[i].TaskKey < due[j].TaskKey })
	b = Batch{Messages: o.pending, Counted: due}
	o.pending, o.full, o.starved = nil, map[string]int{}, false
	return b, 0, true
}

// run sends until stop is closed, then sends what is left as one digest
// (waiting for the budget until ctx ends) and returns.
func (o *outbox) run(ctx context.Context, stop <-chan struct{}) {
	for {
		b, wait, ok := o.take(o.clock.Now(), false)
		if ok {
			o.send(ctx, b)
			continue
		}
		if !o.idle(ctx, stop, wait) {
			if b, _, ok := o.take(o.clock.Now(), true); ok {
				o.send(ctx, b)
			}
			return
		}
	}
}

// idle waits to be woken, or for wait when it is not 0; false when it is
// time to stop.
func (o *outbox) idle(ctx context.Context, stop <-chan struct{}, wait time.Duration) bool {
	var timer <-chan time.Time
	if wait > 0 {
		t := o.clock.NewTimer(wait)
		defer t.Stop()
		timer = t.Chan()
	}
	select {
	case <-o.wake:
	case <-timer:
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
	return true
}

// send delivers b, retrying with a doubling delay up to max_attempts, each
// attempt within the channel's limits; a batch that cannot be delivered is
// logged and dropped.
func (o *outbox) send(ctx context.Context, b Batch) {
	delay := o.cfg.RetryDelay
	for attempt := 1; ; attempt++ {
		if !o.waitBudget(ctx) {
			o.log.Error("alerts not sent: shutting down", "alerts", b.Len(), "attempts", attempt-1)
			return
		}
		o.lim.take(o.clock.Now())
		sctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
		err := o.ch.Send(sctx, b)
		cancel()
		if err == nil {
			o.log.Debug("alerts sent", "alerts", b.Len(), "attempt", attempt)
			return
		}
		if attempt >= o.cfg.MaxAttempts {
			o.log.Error("alerts not sent", "alerts", b.Len(), "attempts", attempt, "err", err)
			return
		}
		o.log.Warn("alert send failed; retrying", "alerts", b.Len(), "attempt", attempt, "retry_in", delay, "err", err)
		t := o.clock.NewTimer(delay)
		select {
		case <-t.Chan():
		case <-ctx.Done():
			t.Stop()
			o.log.Error("alerts not sent: shutting down", "alerts", b.Len(), "attempts", attempt)
			return
		}
		delay *= 2
	}
}

// waitBudget waits until the limits allow a send; false if ctx ended first.
func (o *outbox) waitBudget(ctx context.Context) bool {
	for {
		now := o.clock.Now()
		if o.lim.avail(now) > 0 {
			return true
		}
		t := o.clock.NewTimer(max(o.lim.next(now).Sub(now), time.Millisecond))
		select {
		case <-t.Chan():
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}
