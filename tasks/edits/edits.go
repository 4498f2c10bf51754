// Package edits tells every replica of the task edits made on one, over
// Redis pub/sub, so that an edit through the API applies everywhere at
// once rather than at each replica's next sync. Without Redis, or while
// it is unreachable, nothing is lost: the syncs apply the edit within a
// sync interval.
package edits

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bus publishes and hears task edits on one channel.
type Bus struct {
	rdb     *redis.Client
	channel string
	from    string // this replica: its own messages are not applied twice
	log     *slog.Logger
}

// message is what goes on the channel.
type message struct {
	From string  `json:"from"`
	IDs  []int64 `json:"ids"`
}

// New returns a bus on rdb, its channel named with prefix; from names
// this replica.
func New(rdb *redis.Client, prefix, from string, log *slog.Logger) *Bus {
	return &Bus{rdb: rdb, channel: prefix + ":task-edits", from: from, log: log}
}

// Publish tells the other replicas that the given task rows changed. A
// failure is logged: their syncs apply the edit anyway.
func (b *Bus) Publish(ctx context.Context, ids ...int64) {
	msg, _ := json.Marshal(message{From: b.from, IDs: ids})
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := b.rdb.Publish(ctx, b.channel, msg).Err(); err != nil {
		b.log.Warn("task edit not published; the other replicas apply it at their next sync", "ids", ids, "error", err)
	}
}

// Listen subscribes, and once Redis confirms it, applies the edits the
// other replicas publish with reload in the background until ctx ends
// (go-redis subscribes again after a lost connection by itself). It
// fails when Redis does not confirm the subscription.
func (b *Bus) Listen(ctx context.Context, reload func(ctx context.Context, ids ...int64) error) error {
	sub := b.rdb.Subscribe(ctx, b.channel)
	confirm, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := sub.Receive(confirm); err != nil {
		_ = sub.Close()
		return err
	}
	go func() {
		defer sub.Close()
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				b.apply(ctx, m.Payload, reload)
			}
		}
	}()
	return nil
}

func (b *Bus) apply(ctx context.Context, payload string, reload func(ctx context.Context, ids ...int64) error) {
	var msg message
	if err := json.Unmarshal([]byte(payload), &msg); err != nil {
		b.log.Warn("task edit message not understood", "error", err)
		return
	}
	if msg.From == b.from || len(msg.IDs) == 0 {
		return
	}
	if err := reload(ctx, msg.IDs...); err != nil {
		b.log.Warn("task edit from another replica not applied; the next sync applies it", "ids", msg.IDs, "error", err)
	}
}
