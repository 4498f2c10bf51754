package main

import (
	"context"
	"fmt"

	"taskrunner/libs/redispool"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/kinds"
)

// queuedByDefault reports the functions whose runs go to the default
// queue when their row names none: the generic kinds, which a worker on
// any machine can run.
func queuedByDefault(fn string) bool {
	switch fn {
	case kinds.KindShell, kinds.KindHTTP, kinds.KindSQL, kinds.KindSQLProduce:
		return true
	}
	return false
}

// openTransport opens the queue: Redis when redis.toml names a server,
// else the in-process queue (which only this process's embedded worker
// reads). close releases it.
func openTransport(ctx context.Context, a *app) (tr engine.Transport, local bool, close func(), err error) {
	if !a.cfg.Redis.Enabled() {
		return engine.NewLocalTransport(), true, func() {}, nil
	}
	rdb, err := redispool.OpenUniversal(ctx, a.cfg.Redis)
	if err != nil {
		return nil, false, nil, fmt.Errorf("queue: %w", err)
	}
	redispool.CheckServer(ctx, rdb, a.log)
	return newRedisTransport(rdb, a.cfg.Redis.Prefix, a.log), false, func() { _ = rdb.Close() }, nil
}
