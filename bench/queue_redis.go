package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"taskrunner/tasks/engine"
	"taskrunner/tasks/queue"
)

// queueTransport opens the queue of the queue scenario: the in-process
// one when addr is empty, else Redis at addr (DB 0) under a prefix of
// this run's own, whose keys close deletes. pid is the Redis server's
// process (INFO's process_id), 0 when unknown.
func queueTransport(ctx context.Context, addr string, log *slog.Logger) (tr engine.Transport, close func(), pid int, err error) {
	if addr == "" {
		return engine.NewLocalTransport(), func() {}, 0, nil
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		_ = rdb.Close()
		return nil, nil, 0, fmt.Errorf("redis %s: %w", addr, err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, "process_id:"); ok {
			pid, _ = strconv.Atoi(strings.TrimSpace(v))
		}
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
	return queue.NewRedis(rdb, prefix, log), closeFn, pid, nil
}
