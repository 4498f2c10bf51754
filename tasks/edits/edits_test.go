package edits

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// redisClient returns a client on the test Redis: required (the test
// fails) when TASKRUNNER_TEST_REDIS_ADDR is set, as .ci/run sets it.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	addr, required := os.LookupEnv("TASKRUNNER_TEST_REDIS_ADDR")
	if !required {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if required {
			t.Fatalf("Redis at %s: %v", addr, err)
		}
		t.Skipf("no Redis (%v); set TASKRUNNER_TEST_REDIS_ADDR to require it", err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// An edit published by one replica is applied by the others, not again
// by itself.
func TestBus_PublishListen(t *testing.T) {
	rdb := redisClient(t)
	prefix := "test-" + uuid.NewString() // a channel of this test's own
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heard := map[string]chan []int64{"a": make(chan []int64, 4), "b": make(chan []int64, 4)}
	buses := map[string]*Bus{}
	for name, ch := range heard {
		buses[name] = New(rdb, prefix, name, log)
		if err := buses[name].Listen(ctx, func(_ context.Context, ids ...int64) error { ch <- ids; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	buses["a"].Publish(ctx, 7, 9)
	select {
	case ids := <-heard["b"]:
		if len(ids) != 2 || ids[0] != 7 || ids[1] != 9 {
			t.Fatalf("b heard %v", ids)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b heard nothing")
	}
	select {
	case ids := <-heard["a"]:
		t.Fatalf("a applied its own edit: %v", ids)
	case <-time.After(100 * time.Millisecond):
	}
}
