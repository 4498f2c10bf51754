package main

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"taskrunner/libs/hostinfo"
	"taskrunner/models"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/queue"
)

// hostInfo describes this process for its replica row: host, internal
// IP, pid, container.
func hostInfo() map[string]any {
	h := hostinfo.Get()
	info := map[string]any{"hostname": h.Hostname, "ip": h.IP, "pid": h.PID}
	if h.ContainerID != "" {
		info["container_id"], info["container_name"] = h.ContainerID, h.ContainerName
	}
	return info
}

// workerJoin registers a standalone worker with its token: an unknown,
// revoked or missing token is refused (models.ErrTokenRefused), and the
// refusal logged without the token.
func workerJoin(a *app, token string) func(ctx context.Context, r models.Replica) error {
	return func(ctx context.Context, r models.Replica) error {
		err := models.RegisterWorker(ctx, a.db, r, token)
		if err != nil {
			a.log.Error("worker not registered", "error", err)
		}
		return err
	}
}

func newRedisTransport(rdb redis.UniversalClient, prefix string, log *slog.Logger) engine.Transport {
	return queue.NewRedis(rdb, prefix, log)
}
