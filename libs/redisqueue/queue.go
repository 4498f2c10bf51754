package redisqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Group is the consumer group every worker of a queue reads through.
const Group = "workers"

// Message is what a queued run carries: its ids, and optionally a
// payload of the caller's (stream field "job"). The run's row stays the
// source of truth: a payload is a copy of what the row says, read to
// spare the worker a query, never to decide whether to run.
type Message struct {
	RunID   int64  // the run's row
	Attempt int    // the attempt the message was sent for; an older one is stale
	TraceID string // for logs
	Payload []byte // opaque to the queue; nil: none (the field is not written)
}

// Delivery is a Message as a consumer received it.
type Delivery struct {
	Queue string // the queue's name
	ID    string // the stream entry's id, for Ack and Extend
	Message
	// Deliveries is how many times the entry was delivered, this time
	// included: 1 from Fetch, more from Reclaim.
	Deliveries int64
	// Err, when set, says the entry could not be read as a Message (a
	// field missing or malformed): Ack it to drop it.
	Err error
}

// Queue enqueues onto, and reports on, the named queues under one key
// prefix. It is safe for concurrent use.
type Queue struct {
	rdb    redis.UniversalClient
	prefix string
}

// New returns the queues under prefix on rdb.
func New(rdb redis.UniversalClient, prefix string) *Queue {
	return &Queue{rdb: rdb, prefix: prefix}
}

// Key is the stream of the named queue: {prefix:queue}:jobs, its braces a
// Cluster hash tag.
func (q *Queue) Key(queue string) string { return q.Tag(queue) + ":jobs" }

// Tag is {prefix:queue}, the hash tag of the named queue's keys: a key of
// the caller's that begins with it lands in the stream's Cluster slot, so
// a MULTI may span both.
func (q *Queue) Tag(queue string) string { return "{" + q.prefix + ":" + queue + "}" }

// Enqueue adds m to the named queue and returns its entry id.
func (q *Queue) Enqueue(ctx context.Context, queue string, m Message) (string, error) {
	id, err := q.rdb.XAdd(ctx, q.xadd(queue, m)).Result()
	if err != nil {
		return "", fmt.Errorf("enqueue run %d on %s: %w", m.RunID, queue, err)
	}
	return id, nil
}

// EnqueueIn adds m to the named queue within p, a MULTI (TxPipelined) or
// pipeline of the caller's, so the add goes with the caller's other
// commands on the queue's keys (see Tag). The command's result is the
// entry id once p is executed.
func (q *Queue) EnqueueIn(ctx context.Context, p redis.Pipeliner, queue string, m Message) *redis.StringCmd {
	return p.XAdd(ctx, q.xadd(queue, m))
}

func (q *Queue) xadd(queue string, m Message) *redis.XAddArgs {
	values := []any{"run_id", m.RunID, "attempt", m.Attempt, "trace_id", m.TraceID}
	if m.Payload != nil {
		values = append(values, "job", m.Payload)
	}
	return &redis.XAddArgs{Stream: q.Key(queue), Values: values}
}

// Ack acknowledges the named queue's entries ids and deletes them, in one
// MULTI, as Consumer.Ack does for one delivery: acknowledgement is the
// group's, whichever consumer holds them.
func (q *Queue) Ack(ctx context.Context, queue string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	key := q.Key(queue)
	_, err := q.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, key, Group, ids...)
		p.XDel(ctx, key, ids...)
		return nil
	})
	if err != nil && !isNoGroup(err) {
		return fmt.Errorf("ack %d entries of %s: %w", len(ids), queue, err)
	}
	return nil
}

// EnsureGroup creates the queue's stream and group if either is missing.
// The group starts at the beginning of the stream, so entries added before
// it exists (by an Enqueue after Redis restarted empty) are read.
func (q *Queue) EnsureGroup(ctx context.Context, queue string) error {
	err := q.rdb.XGroupCreateMkStream(ctx, q.Key(queue), Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create group of %s: %w", queue, err)
	}
	return nil
}

// isNoGroup reports an error of a stream or group that does not exist.
func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}

// IsMissing reports an error of a command on a queue whose stream or
// group does not exist (XINFO's "no such key", or NOGROUP): the queue is
// empty, as far as its reader goes.
func IsMissing(err error) bool {
	return isNoGroup(err) || err != nil && strings.Contains(err.Error(), "no such key")
}

// isGone reports an error of a blocked XREADGROUP whose stream or group was
// deleted while it waited (Redis 7: "UNBLOCKED the stream key no longer
// exists"), or of one that found none.
func isGone(err error) bool {
	return isNoGroup(err) || err != nil && strings.HasPrefix(err.Error(), "UNBLOCKED")
}

// Pending returns how many of the queue's jobs are delivered and not yet
// acknowledged: in hand, or held by a worker that died.
func (q *Queue) Pending(ctx context.Context, queue string) (int64, error) {
	p, err := q.rdb.XPending(ctx, q.Key(queue), Group).Result()
	if isNoGroup(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pending of %s: %w", queue, err)
	}
	return p.Count, nil
}

// Depth returns how many of the queue's jobs wait for a first delivery.
// Acknowledged entries are deleted, so the stream holds the waiting and
// the pending ones.
func (q *Queue) Depth(ctx context.Context, queue string) (int64, error) {
	var xlen *redis.IntCmd
	var pend *redis.XPendingCmd
	_, err := q.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		xlen = p.XLen(ctx, q.Key(queue))
		pend = p.XPending(ctx, q.Key(queue), Group)
		return nil
	})
	if err != nil && !isNoGroup(err) {
		return 0, fmt.Errorf("depth of %s: %w", queue, err)
	}
	if xlen.Err() != nil {
		return 0, fmt.Errorf("depth of %s: %w", queue, xlen.Err())
	}
	var pending int64
	if pend.Err() == nil {
		pending = pend.Val().Count
	}
	return max(xlen.Val()-pending, 0), nil
}

// OldestAge returns how long the oldest job waiting for a first delivery
// has waited, by the server's clock (entry ids are its milliseconds), so
// the hosts' clocks do not matter; 0 when none waits.
func (q *Queue) OldestAge(ctx context.Context, queue string) (time.Duration, error) {
	key := q.Key(queue)
	start := "-"
	groups, err := q.rdb.XInfoGroups(ctx, key).Result()
	switch {
	case IsMissing(err):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("oldest of %s: %w", queue, err)
	}
	for _, g := range groups {
		if g.Name == Group {
			start = "(" + g.LastDeliveredID
		}
	}
	var first *redis.XMessageSliceCmd
	var now *redis.TimeCmd
	if _, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		first = p.XRangeN(ctx, key, start, "+", 1)
		now = p.Time(ctx)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("oldest of %s: %w", queue, err)
	}
	if len(first.Val()) == 0 {
		return 0, nil
	}
	ms, err := idMillis(first.Val()[0].ID)
	if err != nil {
		return 0, fmt.Errorf("oldest of %s: %w", queue, err)
	}
	return max(now.Val().Sub(time.UnixMilli(ms)), 0), nil
}

// idMillis is the millisecond part of a stream entry id.
func idMillis(id string) (int64, error) {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("entry id %q: %w", id, err)
	}
	return n, nil
}

// decode reads an entry as a Delivery.
func decode(queue string, m redis.XMessage) Delivery {
	d := Delivery{Queue: queue, ID: m.ID}
	field := func(name string) string {
		s, _ := m.Values[name].(string)
		return s
	}
	var errs []error
	var err error
	if d.RunID, err = strconv.ParseInt(field("run_id"), 10, 64); err != nil || d.RunID <= 0 {
		errs = append(errs, fmt.Errorf("run_id %q", field("run_id")))
	}
	if d.Attempt, err = strconv.Atoi(field("attempt")); err != nil {
		errs = append(errs, fmt.Errorf("attempt %q", field("attempt")))
	}
	d.TraceID = field("trace_id")
	if s, ok := m.Values["job"].(string); ok {
		d.Payload = []byte(s)
	}
	if len(errs) > 0 {
		d.Err = fmt.Errorf("entry %s of %s: %w", m.ID, queue, errors.Join(errs...))
	}
	return d
}
