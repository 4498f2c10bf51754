// Package queue carries queued runs over Redis: Redis implements
// engine.Transport on libs/redisqueue's streams, for replicas and workers
// in several processes. The engine's LocalTransport is the in-process
// one; the semantics are the same.
//
// Keys, per queue, share the hash tag {prefix:queue}, so Cluster keeps
// them in one slot and a MULTI may span them:
//
//   - {prefix:queue}:jobs, the stream, read by the consumer group workers;
//   - {prefix:queue}:epoch, the queue's epoch: a random value set when
//     missing. The key vanishes with the stream (FLUSHALL, a restart
//     without persistence, eviction), so a new epoch tells the sweeper to
//     send every queued row again.
//
// Kill requests go over Pub/Sub on prefix:kill.
package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"taskrunner/libs/redisqueue"
	"taskrunner/tasks/engine"
)

// receiveBlock is how long Receive waits for a first job.
const receiveBlock = time.Second

// orphanBatches bounds one Orphans call: at most this many ReclaimFrom
// batches (100 entries each); the rest come at the next sweep.
const orphanBatches = 10

// reaper is the consumer that holds the jobs Orphans took from dead
// consumers until the caller acknowledges them. Should the caller fail
// before it does, the next Orphans returns them again (duplicates are
// dropped at the take), so nothing stays stranded there.
const reaper = "taskrunner-orphans"

// Redis is the queue of runs on a Redis server, Sentinel or Cluster. It
// is safe for concurrent use.
type Redis struct {
	rdb    redis.UniversalClient
	q      *redisqueue.Queue
	prefix string
	log    *slog.Logger
	groups sync.Map // queue name: its group was created (or found) by Send
}

var _ engine.Transport = (*Redis)(nil)

// NewRedis returns the queues under prefix on rdb.
func NewRedis(rdb redis.UniversalClient, prefix string, log *slog.Logger) *Redis {
	return &Redis{rdb: rdb, q: redisqueue.New(rdb, prefix), prefix: prefix, log: log.With("component", "queue")}
}

// EpochKey is the key of the named queue's epoch.
func (r *Redis) EpochKey(queue string) string { return r.q.Tag(queue) + ":epoch" }

// Epoch returns the queue's epoch, starting a new one if the key is
// missing.
func (r *Redis) Epoch(ctx context.Context, queue string) (string, error) {
	var get *redis.StringCmd
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		r.startEpoch(ctx, p, queue)
		get = p.Get(ctx, r.EpochKey(queue))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("queue %s: read epoch: %w", queue, err)
	}
	return get.Val(), nil
}

// startEpoch sets a new epoch within p if the queue has none.
func (r *Redis) startEpoch(ctx context.Context, p redis.Pipeliner, queue string) {
	p.SetNX(ctx, r.EpochKey(queue), uuid.NewString(), 0)
}

// Send adds the jobs to the queue in one MULTI with the read of the
// epoch, and returns that epoch: the adds happened under it.
func (r *Redis) Send(ctx context.Context, queue string, jobs []engine.Job) (string, error) {
	if len(jobs) == 0 {
		return r.Epoch(ctx, queue)
	}
	msgs := make([]redisqueue.Message, len(jobs))
	for i, j := range jobs {
		payload, err := json.Marshal(j)
		if err != nil {
			return "", fmt.Errorf("queue %s: encode run %d: %w", queue, j.RunID, err)
		}
		msgs[i] = redisqueue.Message{RunID: j.RunID, Attempt: j.Attempt, TraceID: j.TraceID, Payload: payload}
	}
	// The group reads from the stream's start, so whether it is created
	// before the adds or after (by a Receive, should the store lose it
	// since) no job is missed: it is created once per process and queue,
	// not at every send.
	if _, ok := r.groups.Load(queue); !ok {
		if err := r.q.EnsureGroup(ctx, queue); err != nil {
			return "", fmt.Errorf("queue %s: send %d jobs: %w", queue, len(jobs), err)
		}
		r.groups.Store(queue, true)
	}
	var get *redis.StringCmd
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		r.startEpoch(ctx, p, queue)
		get = p.Get(ctx, r.EpochKey(queue))
		for _, m := range msgs {
			r.q.EnqueueIn(ctx, p, queue, m)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("queue %s: send %d jobs: %w", queue, len(jobs), err)
	}
	return get.Val(), nil
}

// Receive waits up to about a second for at most n jobs never delivered
// before; they are consumer's until acknowledged or taken by Orphans. A
// stream or group that vanished is created again. On an error it waits
// out the second before it returns, so a caller that loops at once does
// not spin while Redis is down.
func (r *Redis) Receive(ctx context.Context, queue, consumer string, n int) ([]engine.Delivery, error) {
	start := time.Now()
	ds, err := r.q.Consumer(queue, consumer).Fetch(ctx, receiveBlock, max(n, 1))
	if ctx.Err() != nil {
		// Jobs fetched as ctx ended stay pending for consumer: Orphans
		// gives them back once it is gone.
		return nil, nil
	}
	if err != nil {
		t := time.NewTimer(receiveBlock - time.Since(start))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		return nil, fmt.Errorf("queue %s: receive for %s: %w", queue, consumer, err)
	}
	return deliveries(ds), nil
}

// Ack acknowledges the entries and deletes them.
func (r *Redis) Ack(ctx context.Context, queue string, ids []string) error {
	if err := r.q.Ack(ctx, queue, ids...); err != nil {
		return fmt.Errorf("queue %s: %w", queue, err)
	}
	return nil
}

// Forget deletes the queue's stream (its group with it) and its epoch.
func (r *Redis) Forget(ctx context.Context, queue string) error {
	r.groups.Delete(queue)
	if err := r.rdb.Del(ctx, r.q.Key(queue), r.EpochKey(queue)).Err(); err != nil {
		return fmt.Errorf("queue %s: delete: %w", queue, err)
	}
	return nil
}

// Orphans takes the jobs pending for the consumers dead reports, and
// removes those consumers once they hold nothing. It returns as well the
// jobs an earlier call took and its caller never acknowledged.
func (r *Redis) Orphans(ctx context.Context, queue string, dead func(consumer string) bool) ([]engine.Delivery, error) {
	consumers, err := r.rdb.XInfoConsumers(ctx, r.q.Key(queue), redisqueue.Group).Result()
	if redisqueue.IsMissing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue %s: list consumers: %w", queue, err)
	}
	c := r.q.Consumer(queue, reaper)
	budget := orphanBatches
	var out []redisqueue.Delivery
	var names []string
	for _, info := range consumers {
		switch {
		case info.Name == reaper:
			// Its own first, so what this call takes is returned once; one
			// batch, for taken by itself the entries stay its own.
			if info.Pending == 0 {
				continue
			}
			budget--
			got, _, err := c.ReclaimFrom(ctx, reaper, 0)
			if err != nil {
				return nil, fmt.Errorf("queue %s: %w", queue, err)
			}
			out = append(out, got...)
		case dead(info.Name):
			names = append(names, info.Name)
		}
	}
	for _, name := range names {
		for budget > 0 {
			budget--
			got, _, err := c.ReclaimFrom(ctx, name, 0) // no limit: none given up
			if err != nil {
				return deliveries(out), fmt.Errorf("queue %s: %w", queue, err)
			}
			out = append(out, got...)
			if len(got) == 0 {
				break
			}
		}
		// Refused while it still holds jobs (the budget ran out): the
		// next call goes on.
		removed, err := r.q.RemoveConsumer(ctx, queue, name)
		if err != nil {
			return deliveries(out), fmt.Errorf("queue %s: %w", queue, err)
		}
		if removed {
			r.log.Info("dead consumer removed", "queue", queue, "consumer", name)
		}
	}
	return deliveries(out), nil
}

// deliveries reads the library's deliveries as the engine's: the job is
// the payload, checked against the message's ids.
func deliveries(ds []redisqueue.Delivery) []engine.Delivery {
	if len(ds) == 0 {
		return nil
	}
	out := make([]engine.Delivery, len(ds))
	for i, d := range ds {
		out[i] = engine.Delivery{ID: d.ID, Err: d.Err}
		if d.Err != nil {
			continue
		}
		out[i].Job, out[i].Err = decodeJob(d)
	}
	return out
}

func decodeJob(d redisqueue.Delivery) (engine.Job, error) {
	var j engine.Job
	if d.Payload == nil {
		return j, fmt.Errorf("entry %s of %s: no job field", d.ID, d.Queue)
	}
	if err := json.Unmarshal(d.Payload, &j); err != nil {
		return engine.Job{}, fmt.Errorf("entry %s of %s: job: %w", d.ID, d.Queue, err)
	}
	if j.RunID != d.RunID || j.Attempt != d.Attempt {
		return engine.Job{}, fmt.Errorf("entry %s of %s: job is run %d attempt %d, the message says run %d attempt %d",
			d.ID, d.Queue, j.RunID, j.Attempt, d.RunID, d.Attempt)
	}
	return j, nil
}

// KillChannel is the Pub/Sub channel of kill requests.
func (r *Redis) KillChannel() string { return r.prefix + ":kill" }

// Kill publishes a request to cancel the run to every worker listening.
func (r *Redis) Kill(ctx context.Context, runID int64) error {
	if err := r.rdb.Publish(ctx, r.KillChannel(), strconv.FormatInt(runID, 10)).Err(); err != nil {
		return fmt.Errorf("kill run %d: publish on %s: %w", runID, r.KillChannel(), err)
	}
	return nil
}

// Kills delivers the run ids of kill requests until ctx ends, then
// closes the channel. go-redis subscribes again after a dropped
// connection; a request published while it was down is lost, and the
// worker's lease keeper stops the run at its next renewal instead.
func (r *Redis) Kills(ctx context.Context) <-chan int64 {
	out := make(chan int64, 64)
	ps := r.rdb.Subscribe(ctx, r.KillChannel())
	go func() {
		defer close(out)
		defer ps.Close()
		msgs := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-msgs:
				if !ok {
					return
				}
				id, err := strconv.ParseInt(m.Payload, 10, 64)
				if err != nil {
					r.log.Warn("kill request dropped: not a run id", "channel", m.Channel, "payload", m.Payload)
					continue
				}
				select {
				case out <- id:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
