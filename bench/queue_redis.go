package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"taskrunner/tasks/engine"
	"taskrunner/tasks/queue"
)

// queueTransport opens the queue of the queue scenario: the in-process
// one when addr is empty, else Redis at addr (DB 0) under a prefix of
// this run's own, whose keys close deletes.
func queueTransport(ctx context.Context, addr string, log *slog.Logger) (engine.Transport, func(), error) {
	if addr == "" {
		return engine.NewLocalTransport(), func() {}, nil
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("redis %s: %w", addr, err)
	}
	prefix := fmt.Sprintf("bench-queue-%d", time.Now().UnixNano())
	closeFn := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			_ = rdb.Del(ctx, iter.Val()).Err()
		}
		_ = rdb.Close()
	}
	return queue.NewRedis(rdb, prefix, log), closeFn, nil
}
