package main

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"taskrunner/models"
	"taskrunner/tasks/engine"
)

// hostInfo describes this process for its replica row.
func hostInfo() map[string]any { return map[string]any{} }

// workerJoin registers a standalone worker.
func workerJoin(a *app, token string) func(ctx context.Context, r models.Replica) error { return nil }

func newRedisTransport(rdb redis.UniversalClient, prefix string, log *slog.Logger) engine.Transport {
	return engine.NewLocalTransport()
}
