package redisqueue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// reclaimBatch is the COUNT of one XAUTOCLAIM: the most entries one
// Reclaim takes over (the server scans at most ten times as many).
const reclaimBatch = 100

// Consumer reads one queue as one member of its group; its name is the
// worker's id. It is safe for concurrent use.
type Consumer struct {
	q     *Queue
	queue string
	name  string

	mu     sync.Mutex
	cursor string // where the next Reclaim's XAUTOCLAIM scan starts
}

// Consumer returns the consumer name of the named queue.
func (q *Queue) Consumer(queue, name string) *Consumer {
	return &Consumer{q: q, queue: queue, name: name, cursor: "0-0"}
}

// Name is the consumer's name.
func (c *Consumer) Name() string { return c.name }

// Fetch returns up to count jobs never delivered before, waiting up to
// block for the first (not at all when block <= 0). They are this
// consumer's until acknowledged, or reclaimed by another once idle. A
// missing stream or group (Redis restarted empty) is created again.
func (c *Consumer) Fetch(ctx context.Context, block time.Duration, count int) ([]Delivery, error) {
	if block <= 0 {
		block = -1 // go-redis: no BLOCK argument; BLOCK 0 would wait forever
	}
	args := &redis.XReadGroupArgs{
		Group:    Group,
		Consumer: c.name,
		Streams:  []string{c.q.Key(c.queue), ">"},
		Count:    int64(count),
		Block:    block,
	}
	streams, err := c.q.rdb.XReadGroup(ctx, args).Result()
	if isGone(err) {
		if err := c.q.EnsureGroup(ctx, c.queue); err != nil {
			return nil, fmt.Errorf("fetch from %s: %w", c.queue, err)
		}
		streams, err = c.q.rdb.XReadGroup(ctx, args).Result()
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetch from %s: %w", c.queue, err)
	}
	var ds []Delivery
	for _, s := range streams {
		for _, m := range s.Messages {
			d := decode(c.queue, m)
			d.Deliveries = 1
			ds = append(ds, d)
		}
	}
	return ds, nil
}

// Ack acknowledges d and deletes its entry, in one MULTI: the job's outcome
// is recorded, or it was given up. Acknowledging what is no longer pending
// is not an error.
func (c *Consumer) Ack(ctx context.Context, d Delivery) error {
	return c.q.Ack(ctx, d.Queue, d.ID)
}

// extendScript resets the idle time of an entry its owner still holds,
// without counting a delivery (JUSTID); it returns 0 when the entry is not
// pending for the owner, so a consumer cannot take back a job reclaimed
// by another.
var extendScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #p == 0 then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
`)

// Extend tells the group that d is still being worked on, so Reclaim does
// not hand it to another consumer; call it well within the reaper's
// minIdle. It returns ErrNotOwned when d is no longer this consumer's.
func (c *Consumer) Extend(ctx context.Context, d Delivery) error {
	n, err := extendScript.Run(ctx, c.q.rdb, []string{c.q.Key(d.Queue)}, Group, c.name, d.ID).Int()
	if isNoGroup(err) {
		return fmt.Errorf("extend %s of %s: %w", d.ID, d.Queue, ErrNotOwned)
	}
	if err != nil {
		return fmt.Errorf("extend %s of %s: %w", d.ID, d.Queue, err)
	}
	if n == 0 {
		return fmt.Errorf("extend %s of %s: %w", d.ID, d.Queue, ErrNotOwned)
	}
	return nil
}

// Reclaim takes over, for this consumer, up to 100 of the queue's jobs
// idle for at least minIdle: their consumer died or stopped extending.
// A job now delivered more than maxDeliveries times (no limit when
// maxDeliveries <= 0) is returned in givenUp instead of reclaimed, for the
// caller to mark lost or drop, then Ack. Successive calls scan the pending
// list on from where the last one stopped, and wrap around.
func (c *Consumer) Reclaim(ctx context.Context, minIdle time.Duration, maxDeliveries int64) (reclaimed, givenUp []Delivery, err error) {
	key := c.q.Key(c.queue)
	c.mu.Lock()
	start := c.cursor
	c.mu.Unlock()
	msgs, next, err := c.q.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
		Stream:   key,
		Group:    Group,
		Consumer: c.name,
		MinIdle:  minIdle,
		Start:    start,
		Count:    reclaimBatch,
	}).Result()
	if isNoGroup(err) {
		return nil, nil, nil // nothing pending: the next Fetch creates the group
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reclaim from %s: %w", c.queue, err)
	}
	c.mu.Lock()
	c.cursor = next
	c.mu.Unlock()
	if len(msgs) == 0 {
		return nil, nil, nil
	}
	counts, err := c.deliveryCounts(ctx, key, msgs)
	if err != nil {
		return nil, nil, fmt.Errorf("reclaim from %s: %w", c.queue, err)
	}
	reclaimed, givenUp = split(c.queue, msgs, counts, maxDeliveries)
	return reclaimed, givenUp, nil
}

// split sorts claimed entries into those to run again and those delivered
// more than maxDeliveries times (no limit when maxDeliveries <= 0).
func split(queue string, msgs []redis.XMessage, counts map[string]int64, maxDeliveries int64) (reclaimed, givenUp []Delivery) {
	for _, m := range msgs {
		d := decode(queue, m)
		d.Deliveries = counts[m.ID]
		if maxDeliveries > 0 && d.Deliveries > maxDeliveries {
			givenUp = append(givenUp, d)
		} else {
			reclaimed = append(reclaimed, d)
		}
	}
	return reclaimed, givenUp
}

// deliveryCounts asks XPENDING how many times each of msgs was delivered,
// the claim just made included.
func (c *Consumer) deliveryCounts(ctx context.Context, key string, msgs []redis.XMessage) (map[string]int64, error) {
	cmds := make([]*redis.XPendingExtCmd, len(msgs))
	_, err := c.q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range msgs {
			cmds[i] = p.XPendingExt(ctx, &redis.XPendingExtArgs{
				Stream: key, Group: Group, Start: m.ID, End: m.ID, Count: 1, Consumer: c.name,
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int64, len(msgs))
	for _, cmd := range cmds {
		for _, p := range cmd.Val() {
			counts[p.ID] = p.RetryCount
		}
	}
	return counts, nil
}
