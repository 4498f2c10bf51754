package redisqueue

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// takeOverScript moves up to ARGV[4] entries pending for consumer ARGV[2]
// to consumer ARGV[3], in one step, so two reapers taking over the same
// dead consumer never both get an entry. XCLAIM counts the delivery.
var takeOverScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', tonumber(ARGV[4]), ARGV[2])
if #p == 0 then return {} end
local ids = {}
for i, e in ipairs(p) do ids[i] = e[1] end
return redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, unpack(ids))
`)

// ReclaimFrom takes over, for this consumer, up to 100 jobs of the named
// consumer however briefly idle: the registry declared that worker dead,
// so its jobs need not wait for minIdle. Given-up jobs are as in Reclaim.
// Call it again until both slices are empty; then RemoveConsumer.
func (c *Consumer) ReclaimFrom(ctx context.Context, dead string, maxDeliveries int64) (reclaimed, givenUp []Delivery, err error) {
	key := c.q.Key(c.queue)
	v, err := takeOverScript.Run(ctx, c.q.rdb, []string{key}, Group, dead, c.name, reclaimBatch).Slice()
	if isNoGroup(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reclaim from %s of %s: %w", dead, c.queue, err)
	}
	msgs := make([]redis.XMessage, 0, len(v))
	for _, e := range v {
		m, ok := scriptMessage(e)
		if ok {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 0 {
		return nil, nil, nil
	}
	counts, err := c.deliveryCounts(ctx, key, msgs)
	if err != nil {
		return nil, nil, fmt.Errorf("reclaim from %s of %s: %w", dead, c.queue, err)
	}
	reclaimed, givenUp = split(c.queue, msgs, counts, maxDeliveries)
	return reclaimed, givenUp, nil
}

// scriptMessage reads one entry of an XCLAIM reply returned by a script:
// {id, {field, value, ...}}. A deleted entry (nil) is skipped.
func scriptMessage(e any) (redis.XMessage, bool) {
	pair, ok := e.([]any)
	if !ok || len(pair) != 2 {
		return redis.XMessage{}, false
	}
	id, _ := pair[0].(string)
	fv, _ := pair[1].([]any)
	m := redis.XMessage{ID: id, Values: make(map[string]any, len(fv)/2)}
	for i := 0; i+1 < len(fv); i += 2 {
		k, _ := fv[i].(string)
		m.Values[k] = fv[i+1]
	}
	return m, id != ""
}

// removeScript deletes a consumer from the group only when nothing is
// pending for it: XGROUP DELCONSUMER would drop its pending entries from
// the group, and nobody would ever be given them again.
var removeScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
`)

// RemoveConsumer forgets a consumer of the named queue (a worker gone for
// good), so the group's consumer list does not grow with every worker
// ever started. It refuses, and reports false, while jobs are still
// pending for it: take them over with ReclaimFrom first.
func (q *Queue) RemoveConsumer(ctx context.Context, queue, name string) (removed bool, err error) {
	n, err := removeScript.Run(ctx, q.rdb, []string{q.Key(queue)}, Group, name).Int()
	if isNoGroup(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("remove consumer %s of %s: %w", name, queue, err)
	}
	return n >= 0, nil
}
