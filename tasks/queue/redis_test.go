package queue

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"taskrunner/libs/redisqueue"
	"taskrunner/tasks"
	"taskrunner/tasks/engine"
)

// testDB is this package's Redis database: the tests that stand for a
// FLUSHALL flush it, and no other package's tests use it.
const testDB = 12

// setup returns a Redis transport under a prefix of the test's own, on
// database testDB of the Redis at TASKRUNNER_TEST_REDIS_ADDR: required
// (the test fails when it does not answer) when the variable is set, as
// .ci/run sets it; otherwise 127.0.0.1:6379 if it answers.
func setup(t *testing.T) (*Redis, *redis.Client) {
	t.Helper()
	addr, required := os.LookupEnv("TASKRUNNER_TEST_REDIS_ADDR")
	if !required {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: testDB})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if required {
			t.Fatalf("Redis at %s: %v", addr, err)
		}
		t.Skipf("no Redis (%v); set TASKRUNNER_TEST_REDIS_ADDR to require it", err)
	}
	prefix := "trtest-" + uuid.NewString()
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := rdb.Keys(ctx, "{"+prefix+":*").Result(); len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		_ = rdb.Close()
	})
	return NewRedis(rdb, prefix, slog.New(slog.NewTextHandler(io.Discard, nil))), rdb
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func job(t *testing.T, run int64) engine.Job {
	t.Helper()
	args, err := tasks.ParseArgs(`{"to":"ops@example.com","n":3}`)
	if err != nil {
		t.Fatal(err)
	}
	return engine.Job{
		RunID: run, TraceID: "trace-" + uuid.NewString(), TaskID: 7, TaskKey: "mail", Func: "send_mail", Args: args,
		Extra: json.RawMessage(`{"retries":2}`), ScheduledAt: time.Date(2024, 2, 29, 23, 30, 0, 0, time.UTC),
		Source: "cron", Attempt: 2, FirstID: run - 1, Timeout: 90 * time.Second, DoneStatus: "ready", Queue: "mail",
	}
}

// sameJob reports whether a and b encode alike: every field survived.
func sameJob(t *testing.T, a, b engine.Job) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

// receive calls Receive until it returns want deliveries in all, or fails
// the test after a few empty rounds.
func receive(t *testing.T, ctx context.Context, r *Redis, queue, consumer string, want int) []engine.Delivery {
	t.Helper()
	var out []engine.Delivery
	for range 5 {
		ds, err := r.Receive(ctx, queue, consumer, want-len(out))
		if err != nil {
			t.Fatal(err)
		}
		if out = append(out, ds...); len(out) >= want {
			return out
		}
	}
	t.Fatalf("received %d deliveries, want %d: %+v", len(out), want, out)
	return nil
}

func TestRedis_SendReceiveAck(t *testing.T) {
	r, rdb := setup(t)
	ctx := testCtx(t)
	jobs := []engine.Job{job(t, 11), job(t, 12), job(t, 13)}
	epoch, err := r.Epoch(ctx, "mail")
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Send(ctx, "mail", jobs)
	if err != nil || got != epoch {
		t.Fatalf("Send = %q, %v; want the epoch %q", got, err, epoch)
	}
	ds := receive(t, ctx, r, "mail", "w1", len(jobs))
	ids := make([]string, len(ds))
	for i, d := range ds {
		if d.Err != nil || d.ID == "" || !sameJob(t, d.Job, jobs[i]) {
			t.Errorf("delivery %d = %+v, want %+v", i, d, jobs[i])
		}
		ids[i] = d.ID
	}
	if n, _ := r.q.Pending(ctx, "mail"); n != 3 {
		t.Errorf("Pending before the ack = %d, want 3", n)
	}
	if err := r.Ack(ctx, "mail", ids); err != nil {
		t.Fatal(err)
	}
	if n := rdb.XLen(ctx, r.q.Key("mail")).Val(); n != 0 {
		t.Errorf("the stream holds %d entries after the ack, want 0", n)
	}
	if n, _ := r.q.Pending(ctx, "mail"); n != 0 {
		t.Errorf("Pending after the ack = %d, want 0", n)
	}
	start := time.Now()
	if ds, err := r.Receive(ctx, "mail", "w1", 10); err != nil || len(ds) != 0 {
		t.Errorf("Receive of an empty queue = %+v, %v; want none", ds, err)
	}
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Errorf("Receive of an empty queue returned after %s, want about 1s (it waits)", d)
	}
}

// TestRedis_Receive_EndedCtx: Receive returns none, and no error, once
// ctx ends.
func TestRedis_Receive_EndedCtx(t *testing.T) {
	r, _ := setup(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	time.AfterFunc(100*time.Millisecond, cancel)
	if ds, err := r.Receive(ctx, "q", "w1", 1); err != nil || len(ds) != 0 {
		t.Errorf("Receive as ctx ends = %+v, %v; want none, nil", ds, err)
	}
}

// TestRedis_Epoch_Flush: the epoch is stable until the store loses its
// content; then Epoch and Send start a new one, and Receive goes on.
func TestRedis_Epoch_Flush(t *testing.T) {
	r, rdb := setup(t)
	ctx := testCtx(t)
	first, err := r.Epoch(ctx, "q")
	if err != nil || first == "" {
		t.Fatalf("Epoch = %q, %v", first, err)
	}
	for range 3 {
		if e, err := r.Epoch(ctx, "q"); e != first || err != nil {
			t.Fatalf("Epoch again = %q, %v; want %q", e, err, first)
		}
	}
	if other, err := r.Epoch(ctx, "other"); err != nil || other == first {
		t.Errorf("Epoch of another queue = %q, %v; want its own", other, err)
	}
	if got, err := r.Send(ctx, "q", []engine.Job{job(t, 1)}); got != first || err != nil {
		t.Fatalf("Send = %q, %v; want %q", got, err, first)
	}
	if ds := receive(t, ctx, r, "q", "w1", 1); ds[0].Job.RunID != 1 {
		t.Fatalf("Receive = %+v, want run 1", ds)
	}

	// As FLUSHALL would, on this package's database.
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// A worker receiving across the loss goes on, the group made again.
	if ds, err := r.Receive(ctx, "q", "w1", 1); err != nil || len(ds) != 0 {
		t.Fatalf("Receive after the flush = %+v, %v; want none, nil", ds, err)
	}
	second, err := r.Epoch(ctx, "q")
	if err != nil || second == "" || second == first {
		t.Fatalf("Epoch after the flush = %q, %v; want a new one (was %q)", second, err, first)
	}
	if got, err := r.Send(ctx, "q", []engine.Job{job(t, 2)}); got != second || err != nil {
		t.Fatalf("Send after the flush = %q, %v; want %q", got, err, second)
	}
	if ds := receive(t, ctx, r, "q", "w1", 1); ds[0].Job.RunID != 2 || ds[0].Err != nil {
		t.Fatalf("Receive after the flush = %+v, want run 2", ds)
	}

	// Lost again, this time with Send first: it starts the epoch it
	// returns, and the jobs are read under it.
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	third, err := r.Send(ctx, "q", []engine.Job{job(t, 3)})
	if err != nil || third == "" || third == second {
		t.Fatalf("Send after a second flush = %q, %v; want a new epoch (was %q)", third, err, second)
	}
	if e, err := r.Epoch(ctx, "q"); e != third || err != nil {
		t.Errorf("Epoch = %q, %v; want Send's %q", e, err, third)
	}
	if ds := receive(t, ctx, r, "q", "w2", 1); ds[0].Job.RunID != 3 {
		t.Fatalf("Receive = %+v, want run 3", ds)
	}
}

// TestRedis_Receive_Down: with Redis unreachable Receive fails, naming
// the queue, after about its second, rather than at once.
func TestRedis_Receive_Down(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	r := NewRedis(rdb, "trtest-down", slog.New(slog.NewTextHandler(io.Discard, nil)))
	start := time.Now()
	ds, err := r.Receive(testCtx(t), "q", "w1", 1)
	if err == nil || len(ds) != 0 || !strings.Contains(err.Error(), "queue q") {
		t.Fatalf("Receive = %+v, %v; want an error naming queue q", ds, err)
	}
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Errorf("Receive failed after %s, want about 1s", d)
	}
}

// TestRedis_Orphans: the jobs of a consumer that received and died come
// back, and the consumer is removed; a live consumer keeps its own.
func TestRedis_Orphans(t *testing.T) {
	r, rdb := setup(t)
	ctx := testCtx(t)
	if _, err := r.Send(ctx, "q", []engine.Job{job(t, 1), job(t, 2)}); err != nil {
		t.Fatal(err)
	}
	receive(t, ctx, r, "q", "dead", 2)
	if _, err := r.Send(ctx, "q", []engine.Job{job(t, 3)}); err != nil {
		t.Fatal(err)
	}
	receive(t, ctx, r, "q", "live", 1)
	dead := func(c string) bool { return c == "dead" }

	ds, err := r.Orphans(ctx, "q", dead)
	if err != nil {
		t.Fatal(err)
	}
	runs := map[int64]bool{}
	for _, d := range ds {
		if d.Err != nil {
			t.Errorf("orphan %+v", d)
		}
		runs[d.Job.RunID] = true
	}
	if len(ds) != 2 || !runs[1] || !runs[2] {
		t.Fatalf("Orphans = %+v, want runs 1 and 2 once each", ds)
	}
	consumers, err := rdb.XInfoConsumers(ctx, r.q.Key("q"), redisqueue.Group).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range consumers {
		switch {
		case c.Name == "dead":
			t.Errorf("the dead consumer is still listed: %+v", c)
		case c.Name == "live" && c.Pending != 1:
			t.Errorf("the live consumer holds %d jobs, want its 1", c.Pending)
		}
	}

	// Not acknowledged (the caller failed before its Ack): the next call
	// returns them again; acknowledged, they are gone.
	again, err := r.Orphans(ctx, "q", dead)
	if err != nil || len(again) != 2 {
		t.Fatalf("Orphans before the ack = %+v, %v; want the 2 again", again, err)
	}
	if err := r.Ack(ctx, "q", []string{again[0].ID, again[1].ID}); err != nil {
		t.Fatal(err)
	}
	if ds, err := r.Orphans(ctx, "q", dead); err != nil || len(ds) != 0 {
		t.Errorf("Orphans after the ack = %+v, %v; want none", ds, err)
	}
	if ds, err := r.Orphans(ctx, "never-used", dead); err != nil || len(ds) != 0 {
		t.Errorf("Orphans of a queue never used = %+v, %v; want none", ds, err)
	}
}

// TestRedis_Malformed: a message that is not a job is delivered with Err
// set, never a panic, and its Ack drops it.
func TestRedis_Malformed(t *testing.T) {
	r, rdb := setup(t)
	ctx := testCtx(t)
	good, err := json.Marshal(job(t, 5))
	if err != nil {
		t.Fatal(err)
	}
	for _, values := range [][]any{
		{"run_id", "x"},                                  // no run id
		{"run_id", 5, "attempt", 2},                      // no job
		{"run_id", 5, "attempt", 2, "job", "{not json"},  // a broken job
		{"run_id", 6, "attempt", 2, "job", string(good)}, // another run's job
	} {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: r.q.Key("q"), Values: values}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ds := receive(t, ctx, r, "q", "w1", 4)
	var ids []string
	for i, d := range ds {
		if d.Err == nil {
			t.Errorf("delivery %d = %+v, want Err set", i, d)
		}
		ids = append(ids, d.ID)
	}
	if err := r.Ack(ctx, "q", ids); err != nil {
		t.Fatal(err)
	}
	if n := rdb.XLen(ctx, r.q.Key("q")).Val(); n != 0 {
		t.Errorf("the stream holds %d entries after the ack, want 0", n)
	}
}

// TestRedis_Kill: a kill request reaches every subscriber; the channel
// closes once ctx ends.
func TestRedis_Kill(t *testing.T) {
	r, rdb := setup(t)
	ctx := testCtx(t)
	subCtx, stop := context.WithCancel(ctx)
	kills := []<-chan int64{r.Kills(subCtx), r.Kills(subCtx)}
	deadline := time.Now().Add(5 * time.Second)
	for rdb.PubSubNumSub(ctx, r.KillChannel()).Val()[r.KillChannel()] < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the subscribers never subscribed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := rdb.Publish(ctx, r.KillChannel(), "not a run").Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Kill(ctx, 42); err != nil {
		t.Fatal(err)
	}
	for i, c := range kills {
		select {
		case id := <-c:
			if id != 42 {
				t.Errorf("subscriber %d got %d, want 42", i, id)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("subscriber %d got nothing", i)
		}
	}
	stop()
	for i, c := range kills {
		select {
		case id, ok := <-c:
			if ok {
				t.Errorf("subscriber %d got %d after ctx ended", i, id)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("subscriber %d: channel not closed after ctx ended", i)
		}
	}
}

// TestRedis_Forget: a forgotten queue's keys are gone, what it held with
// them; a later send makes it again, its group too, under a new epoch.
func TestRedis_Forget(t *testing.T) {
	r, rdb := setup(t)
	ctx := testCtx(t)
	before, err := r.Send(ctx, "w.gone", []engine.Job{job(t, 21)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Forget(ctx, "w.gone"); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, r.q.Key("w.gone"), r.EpochKey("w.gone")).Val(); n != 0 {
		t.Fatalf("%d of the queue's keys left after Forget", n)
	}
	if err := r.Forget(ctx, "w.never"); err != nil {
		t.Fatalf("Forget of a queue that never was: %v", err)
	}
	after, err := r.Send(ctx, "w.gone", []engine.Job{job(t, 22)})
	if err != nil || after == before {
		t.Fatalf("Send after Forget = %q, %v; want a new epoch (was %q)", after, err, before)
	}
	ds := receive(t, ctx, r, "w.gone", "w1", 1)
	if ds[0].Job.RunID != 22 {
		t.Fatalf("received run %d, want run 22 only", ds[0].Job.RunID)
	}
}
