package redisqueue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// setup returns a Queue under a key prefix of the test's own, on the
// Redis of TASKRUNNER_TEST_REDIS_ADDR, and deletes the prefix's keys after
// the test. Without the variable the test is skipped; .ci/run sets it.
func setup(t *testing.T) (*Queue, redis.UniversalClient) {
	t.Helper()
	addr := os.Getenv("TASKRUNNER_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("TASKRUNNER_TEST_REDIS_ADDR not set")
	}
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}})
	prefix := fmt.Sprintf("trtest:%s:%d", strings.ReplaceAll(t.Name(), "/", "."), rand.Uint64())
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, "{"+prefix+":*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	return New(rdb, prefix), rdb
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func msg(run int64) Message {
	return Message{RunID: run, Attempt: 1, TraceID: fmt.Sprintf("trace-%d", run)}
}

// waitFor calls f until it reports true, or fails the test after d.
func waitFor(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustFetch(t *testing.T, ctx context.Context, c *Consumer, count int) []Delivery {
	t.Helper()
	ds, err := c.Fetch(ctx, 0, count)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestQueue_EnqueueFetchAck(t *testing.T) {
	q, rdb := setup(t)
	ctx := testCtx(t)
	c := q.Consumer("q", "w1")
	if err := q.EnsureGroup(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	if err := q.EnsureGroup(ctx, "q"); err != nil {
		t.Fatalf("EnsureGroup twice: %v", err)
	}
	want := Message{RunID: 42, Attempt: 3, TraceID: "abc"}
	id, err := q.Enqueue(ctx, "q", want)
	if err != nil {
		t.Fatal(err)
	}
	ds := mustFetch(t, ctx, c, 10)
	if len(ds) != 1 || ds[0].ID != id || !reflect.DeepEqual(ds[0].Message, want) || ds[0].Queue != "q" || ds[0].Err != nil || ds[0].Deliveries != 1 {
		t.Fatalf("Fetch = %+v, want one delivery of %s: %+v", ds, id, want)
	}
	if n, _ := q.Pending(ctx, "q"); n != 1 {
		t.Errorf("Pending = %d before the ack, want 1", n)
	}
	if err := c.Ack(ctx, ds[0]); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Pending(ctx, "q"); n != 0 {
		t.Errorf("Pending = %d after the ack, want 0", n)
	}
	if n := rdb.XLen(ctx, q.Key("q")).Val(); n != 0 {
		t.Errorf("the stream holds %d entries after the ack, want 0 (deleted)", n)
	}
	if ds := mustFetch(t, ctx, c, 10); len(ds) != 0 {
		t.Errorf("Fetch after the ack = %+v, want none", ds)
	}
	if err := c.Ack(ctx, ds[0]); err != nil {
		t.Errorf("a second Ack: %v, want nil", err)
	}
}

// TestQueue_EnqueueIn_Payload: a payload added within the caller's MULTI
// comes back byte for byte; the batch Ack drops every entry at once.
func TestQueue_EnqueueIn_Payload(t *testing.T) {
	q, rdb := setup(t)
	ctx := testCtx(t)
	c := q.Consumer("q", "w1")
	want := []Message{
		{RunID: 1, Attempt: 2, TraceID: "t1", Payload: []byte(`{"run_id":1,"args":["\u00e9",""]}`)},
		{RunID: 2, Attempt: 1, TraceID: "t2", Payload: []byte{}},
		{RunID: 3, Attempt: 1, TraceID: "t3"},
	}
	var cmds []*redis.StringCmd
	if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, q.Tag("q")+":mark", "x", 0)
		for _, m := range want {
			cmds = append(cmds, q.EnqueueIn(ctx, p, "q", m))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ds := mustFetch(t, ctx, c, 10)
	if len(ds) != len(want) {
		t.Fatalf("Fetch = %+v, want %d deliveries", ds, len(want))
	}
	var ids []string
	for i, d := range ds {
		if d.ID != cmds[i].Val() || d.Err != nil || !reflect.DeepEqual(d.Message, want[i]) {
			t.Errorf("delivery %d = %+v, want %s: %+v", i, d, cmds[i].Val(), want[i])
		}
		ids = append(ids, d.ID)
	}
	if err := q.Ack(ctx, "q", ids...); err != nil {
		t.Fatal(err)
	}
	if n := rdb.XLen(ctx, q.Key("q")).Val(); n != 0 {
		t.Errorf("the stream holds %d entries after the ack, want 0", n)
	}
	if n, _ := q.Pending(ctx, "q"); n != 0 {
		t.Errorf("Pending = %d after the ack, want 0", n)
	}
}

// TestConsumer_Fetch_Blocks: a blocked Fetch returns as soon as a job is
// enqueued, and an empty queue returns nothing after the block.
func TestConsumer_Fetch_Blocks(t *testing.T) {
	q, _ := setup(t)
	ctx := testCtx(t)
	c := q.Consumer("q", "w1")
	if ds, err := c.Fetch(ctx, 20*time.Millisecond, 1); err != nil || len(ds) != 0 {
		t.Fatalf("Fetch of an empty queue = %v, %v", ds, err)
	}
	got := make(chan []Delivery, 1)
	go func() {
		ds, err := c.Fetch(ctx, 10*time.Second, 1)
		if err != nil {
			t.Error(err)
		}
		got <- ds
	}()
	// The group exists (the first Fetch made it), so the entry is the
	// blocked reader's whenever it lands.
	if _, err := q.Enqueue(ctx, "q", msg(7)); err != nil {
		t.Fatal(err)
	}
	select {
	case ds := <-got:
		if len(ds) != 1 || ds[0].RunID != 7 {
			t.Errorf("blocked Fetch = %+v, want run 7", ds)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked Fetch did not return")
	}
}

// TestConsumer_Fetch_Exclusive: consumers fetching at once never receive
// the same job, and together receive all of them.
func TestConsumer_Fetch_Exclusive(t *testing.T) {
	q, _ := setup(t)
	ctx := testCtx(t)
	const jobs, workers = 200, 4
	if err := q.EnsureGroup(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	for i := range jobs {
		if _, err := q.Enqueue(ctx, "q", msg(int64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for w := range workers {
		c := q.Consumer("q", fmt.Sprintf("w%d", w))
		wg.Go(func() {
			for {
				ds, err := c.Fetch(ctx, 0, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ds) == 0 {
					return
				}
				mu.Lock()
				for _, d := range ds {
					if other, dup := seen[d.RunID]; dup {
						t.Errorf("run %d delivered to %s and %s", d.RunID, other, c.Name())
					}
					seen[d.RunID] = c.Name()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != jobs {
		t.Errorf("%d jobs delivered, want %d", len(seen), jobs)
	}
}

// TestConsumer_Reclaim: a consumer that stops extending has its job taken
// by another once idle for minIdle, and not before; the dead one can
// neither extend it back nor see it again.
func TestConsumer_Reclaim(t *testing.T) {
	q, _ := setup(t)
	ctx := testCtx(t)
	// minIdle is long enough that no stall of a loaded machine between
	// two calls (a few hundred ms under -race) makes "not yet" wrong.
	const minIdle = time.Second
	dead, reaper := q.Consumer("q", "dead"), q.Consumer("q", "reaper")
	if _, err := q.Enqueue(ctx, "q", msg(1)); err != nil {
		t.Fatal(err)
	}
	// Taken before the Fetch: the delivery is at or after it, so a
	// reclaim honouring minIdle comes at least minIdle after it.
	fetched := time.Now()
	ds := mustFetch(t, ctx, dead, 1)
	if len(ds) != 1 {
		t.Fatalf("Fetch = %+v", ds)
	}
	if got, gaveUp, err := reaper.Reclaim(ctx, minIdle, 0); err != nil || len(got)+len(gaveUp) != 0 {
		t.Fatalf("Reclaim at once = %v, %v, %v; want nothing", got, gaveUp, err)
	}
	var got []Delivery
	waitFor(t, 5*time.Second, "the job was never reclaimed", func() bool {
		var err error
		got, _, err = reaper.Reclaim(ctx, minIdle, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(got) > 0
	})
	if since := time.Since(fetched); since < minIdle {
		t.Errorf("reclaimed after %s, before minIdle %s", since, minIdle)
	}
	if len(got) != 1 || got[0].ID != ds[0].ID || got[0].RunID != 1 || got[0].Deliveries != 2 {
		t.Errorf("reclaimed %+v, want run 1 delivered twice", got)
	}
	if err := dead.Extend(ctx, ds[0]); !errors.Is(err, ErrNotOwned) {
		t.Errorf("Extend by the old owner = %v, want ErrNotOwned", err)
	}
	if err := reaper.Extend(ctx, got[0]); err != nil {
		t.Errorf("Extend by the new owner = %v", err)
	}
	if again, _, _ := reaper.Reclaim(ctx, minIdle, 0); len(again) != 0 {
		t.Errorf("Reclaim right after = %+v, want nothing (the claim reset the idle time)", again)
	}
}

// TestConsumer_Extend: a job extended more often than minIdle is never
// reclaimed, though it is older than minIdle; once extending stops it is.
func TestConsumer_Extend(t *testing.T) {
	q, _ := setup(t)
	ctx := testCtx(t)
	// minIdle is long enough that no stall of a loaded machine between an
	// Extend and the Reclaim after it (a few hundred ms under -race) lets
	// the job go idle.
	const minIdle = time.Second
	w, reaper := q.Consumer("q", "w"), q.Consumer("q", "reaper")
	if _, err := q.Enqueue(ctx, "q", msg(1)); err != nil {
		t.Fatal(err)
	}
	ds := mustFetch(t, ctx, w, 1)
	start := time.Now()
	for time.Since(start) < 3*minIdle {
		time.Sleep(minIdle / 4)
		if err := w.Extend(ctx, ds[0]); err != nil {
			t.Fatal(err)
		}
		if got, gaveUp, err := reaper.Reclaim(ctx, minIdle, 0); err != nil || len(got)+len(gaveUp) != 0 {
			t.Fatalf("Reclaim of an extended job = %v, %v, %v; want nothing", got, gaveUp, err)
		}
	}
	waitFor(t, 5*time.Second, "the job was not reclaimed once extending stopped", func() bool {
		got, _, err := reaper.Reclaim(ctx, minIdle, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Extending counted no delivery: this is the second.
		if len(got) == 1 && got[0].Deliveries != 2 {
			t.Errorf("reclaimed with %d deliveries, want 2", got[0].Deliveries)
		}
		return len(got) == 1
	})
}

// TestConsumer_Reclaim_GivenUp: a job delivered more than maxDeliveries
// times is returned as given up, not reclaimed; acknowledged, it is gone.
func TestConsumer_Reclaim_GivenUp(t *testing.T) {
	q, _ := setup(t)
	ctx := testCtx(t)
	const minIdle, maxDeliveries = 20 * time.Millisecond, 3
	w := q.Consumer("q", "w")
	if _, err := q.Enqueue(ctx, "q", msg(1)); err != nil {
		t.Fatal(err)
	}
	if ds := mustFetch(t, ctx, w, 1); len(ds) != 1 {
		t.Fatalf("Fetch = %+v", ds)
	}
	// Delivery 1 was the Fetch; 2 and 3 are reclaims; the 4th is past the max.
	var givenUp []Delivery
	for want := int64(2); want <= maxDeliveries+1; want++ {
		reaper := q.Consumer("q", fmt.Sprintf("reaper%d", want))
		waitFor(t, 5*time.Second, fmt.Sprintf("delivery %d never came", want), func() bool {
			got, gaveUp, err := reaper.Reclaim(ctx, minIdle, maxDeliveries)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case len(got) == 1 && want <= maxDeliveries && got[0].Deliveries == want:
				return true
			case len(gaveUp) == 1 && want == maxDeliveries+1 && gaveUp[0].Deliveries == want:
				givenUp = gaveUp
				return true
			case len(got)+len(gaveUp) > 0:
				t.Fatalf("delivery %d: reclaimed %+v, given up %+v", want, got, gaveUp)
			}
			return false
		})
	}
	if givenUp[0].RunID != 1 || givenUp[0].Err != nil {
		t.Errorf("given up %+v, want run 1", givenUp[0])
	}
	if err := w.Ack(ctx, givenUp[0]); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Pending(ctx, "q"); n != 0 {
		t.Errorf("Pending = %d after the given-up job's ack", n)
	}
}

// TestQueue_DepthOldestAge: depth counts the jobs never delivered, not
// those in hand; the oldest age is that of the first never delivered.
func TestQueue_DepthOldestAge(t *testing.T) {
	q, _ := setup(t)
	ctx := testCtx(t)
	for name, f := range map[string]func() (int64, error){
		"Depth":   func() (int64, error) { return q.Depth(ctx, "q") },
		"Pending": func() (int64, error) { return q.Pending(ctx, "q") },
		"OldestAge": func() (int64, error) {
			a, err := q.OldestAge(ctx, "q")
			return int64(a), err
		},
	} {
		if n, err := f(); n != 0 || err != nil {
			t.Errorf("%s of a queue never used = %d, %v; want 0, nil", name, n, err)
		}
	}
	for i := range 3 {
		if _, err := q.Enqueue(ctx, "q", msg(int64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.Depth(ctx, "q"); n != 3 || err != nil {
		t.Errorf("Depth with no group yet = %d, %v; want 3", n, err)
	}
	firstAt := time.Now()
	time.Sleep(30 * time.Millisecond)
	if age, err := q.OldestAge(ctx, "q"); err != nil || age < 25*time.Millisecond || age > 10*time.Second {
		t.Errorf("OldestAge = %s, %v; want about 30ms", age, err)
	}
	c := q.Consumer("q", "w")
	ds := mustFetch(t, ctx, c, 2)
	if len(ds) != 2 {
		t.Fatalf("Fetch = %+v", ds)
	}
	if n, err := q.Depth(ctx, "q"); n != 1 || err != nil {
		t.Errorf("Depth with 2 of 3 in hand = %d, %v; want 1", n, err)
	}
	if n, err := q.Pending(ctx, "q"); n != 2 || err != nil {
		t.Errorf("Pending = %d, %v; want 2", n, err)
	}
	// The oldest waiting is now the third, enqueued with the first.
	if age, err := q.OldestAge(ctx, "q"); err != nil || age < 25*time.Millisecond || age > time.Since(firstAt)+time.Second {
		t.Errorf("OldestAge = %s, %v; want the third job's", age, err)
	}
	ds = append(ds, mustFetch(t, ctx, c, 1)...)
	if age, err := q.OldestAge(ctx, "q"); age != 0 || err != nil {
		t.Errorf("OldestAge with none waiting = %s, %v; want 0", age, err)
	}
	for _, d := range ds {
		if err := c.Ack(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.Depth(ctx, "q"); n != 0 || err != nil {
		t.Errorf("Depth after the acks = %d, %v; want 0", n, err)
	}
}

// TestConsumer_Fetch_RecreatesGroup: after the queue's keys are gone (as
// after FLUSHALL or a restart without persistence), Fetch recreates the
// group and reads what was enqueued since, before or after the group.
func TestConsumer_Fetch_RecreatesGroup(t *testing.T) {
	q, rdb := setup(t)
	ctx := testCtx(t)
	c := q.Consumer("q", "w")
	if _, err := q.Enqueue(ctx, "q", msg(1)); err != nil {
		t.Fatal(err)
	}
	ds := mustFetch(t, ctx, c, 1)
	if len(ds) != 1 {
		t.Fatalf("Fetch = %+v", ds)
	}
	if err := rdb.Del(ctx, q.Key("q")).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Extend(ctx, ds[0]); !errors.Is(err, ErrNotOwned) {
		t.Errorf("Extend of a job Redis lost = %v, want ErrNotOwned", err)
	}
	if err := c.Ack(ctx, ds[0]); err != nil {
		t.Errorf("Ack of a job Redis lost = %v, want nil", err)
	}
	if got, gaveUp, err := c.Reclaim(ctx, 0, 1); err != nil || len(got)+len(gaveUp) != 0 {
		t.Errorf("Reclaim with no group = %v, %v, %v; want nothing", got, gaveUp, err)
	}
	// Re-enqueued (from the rows) before any worker came back: the stream
	// exists, the group does not.
	if _, err := q.Enqueue(ctx, "q", msg(2)); err != nil {
		t.Fatal(err)
	}
	if ds := mustFetch(t, ctx, c, 10); len(ds) != 1 || ds[0].RunID != 2 {
		t.Fatalf("Fetch after the loss = %+v, want run 2", ds)
	}
	// Nothing at all: the group comes back empty, and takes what follows.
	if err := rdb.Del(ctx, q.Key("q")).Err(); err != nil {
		t.Fatal(err)
	}
	if ds := mustFetch(t, ctx, c, 10); len(ds) != 0 {
		t.Fatalf("Fetch of an empty new group = %+v", ds)
	}
	if _, err := q.Enqueue(ctx, "q", msg(3)); err != nil {
		t.Fatal(err)
	}
	if ds := mustFetch(t, ctx, c, 10); len(ds) != 1 || ds[0].RunID != 3 {
		t.Fatalf("Fetch = %+v, want run 3", ds)
	}
}

// TestConsumer_Fetch_Malformed: an entry that is not a Message is
// delivered with Err set, and its Ack drops it.
func TestConsumer_Fetch_Malformed(t *testing.T) {
	q, rdb := setup(t)
	ctx := testCtx(t)
	c := q.Consumer("q", "w")
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: q.Key("q"), Values: []any{"run_id", "x"}}).Err(); err != nil {
		t.Fatal(err)
	}
	ds := mustFetch(t, ctx, c, 1)
	if len(ds) != 1 || ds[0].Err == nil || !strings.Contains(ds[0].Err.Error(), "run_id") {
		t.Fatalf("Fetch = %+v, want one delivery whose Err names run_id", ds)
	}
	if err := c.Ack(ctx, ds[0]); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Depth(ctx, "q"); n != 0 {
		t.Errorf("Depth = %d after dropping it", n)
	}
}

func TestQueue_Key(t *testing.T) {
	q := New(nil, "tr")
	if got, want := q.Key("emails"), "{tr:emails}:jobs"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
}

// TestConsumer_Fetch_KeyDeletedWhileBlocked: a Fetch blocked when the
// queue's keys vanish recreates the group and goes on waiting, rather
// than failing.
func TestConsumer_Fetch_KeyDeletedWhileBlocked(t *testing.T) {
	q, rdb := setup(t)
	ctx := testCtx(t)
	c := q.Consumer("q", "w")
	if err := q.EnsureGroup(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	type result struct {
		ds  []Delivery
		err error
	}
	got := make(chan result, 1)
	go func() {
		ds, err := c.Fetch(ctx, 10*time.Second, 1)
		got <- result{ds, err}
	}()
	waitFor(t, 5*time.Second, "the Fetch never blocked", func() bool {
		n, _ := rdb.ClientList(ctx).Result()
		return strings.Contains(n, "cmd=xreadgroup")
	})
	if err := rdb.Del(ctx, q.Key("q")).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Enqueue(ctx, "q", msg(9)); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.err != nil || len(r.ds) != 1 || r.ds[0].RunID != 9 {
			t.Errorf("Fetch = %+v, %v; want run 9", r.ds, r.err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("Fetch did not return")
	}
}

// TestConsumer_ReclaimFrom: the jobs of a consumer declared dead go to
// the reapers at once, each to one of them; the dead consumer can be
// removed only once it holds nothing.
func TestConsumer_ReclaimFrom(t *testing.T) {
	q, rdb := setup(t)
	ctx := testCtx(t)
	const jobs = 250 // more than one batch
	dead := q.Consumer("q", "dead")
	if err := q.EnsureGroup(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	for i := range jobs {
		if _, err := q.Enqueue(ctx, "q", msg(int64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if ds := mustFetch(t, ctx, dead, jobs); len(ds) != jobs {
		t.Fatalf("Fetch = %d jobs, want %d", len(ds), jobs)
	}
	if removed, err := q.RemoveConsumer(ctx, "q", "dead"); removed || err != nil {
		t.Fatalf("RemoveConsumer while it holds jobs = %v, %v; want false", removed, err)
	}
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for r := range 3 {
		reaper := q.Consumer("q", fmt.Sprintf("reaper%d", r))
		wg.Go(func() {
			for {
				got, gaveUp, err := reaper.ReclaimFrom(ctx, "dead", 5)
				if err != nil {
					t.Error(err)
					return
				}
				if len(gaveUp) != 0 {
					t.Errorf("given up %+v with maxDeliveries 5", gaveUp)
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					if other, dup := seen[d.RunID]; dup {
						t.Errorf("run %d taken over by %s and %s", d.RunID, other, reaper.Name())
					}
					if d.Deliveries != 2 || d.Err != nil {
						t.Errorf("run %d taken over as %+v, want its second delivery", d.RunID, d)
					}
					seen[d.RunID] = reaper.Name()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != jobs {
		t.Errorf("%d jobs taken over, want %d", len(seen), jobs)
	}
	if removed, err := q.RemoveConsumer(ctx, "q", "dead"); !removed || err != nil {
		t.Fatalf("RemoveConsumer once empty = %v, %v; want true", removed, err)
	}
	consumers, err := rdb.XInfoConsumers(ctx, q.Key("q"), Group).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range consumers {
		if c.Name == "dead" {
			t.Errorf("consumer dead still listed: %+v", c)
		}
	}
}

// TestConsumer_ReclaimFrom_GivenUp: taken over past maxDeliveries, a job
// is given up.
func TestConsumer_ReclaimFrom_GivenUp(t *testing.T) {
	q, _ := setup(t)
	ctx := testCtx(t)
	dead, reaper := q.Consumer("q", "dead"), q.Consumer("q", "reaper")
	if _, err := q.Enqueue(ctx, "q", msg(1)); err != nil {
		t.Fatal(err)
	}
	mustFetch(t, ctx, dead, 1)
	got, gaveUp, err := reaper.ReclaimFrom(ctx, "dead", 1)
	if err != nil || len(got) != 0 || len(gaveUp) != 1 || gaveUp[0].RunID != 1 || gaveUp[0].Deliveries != 2 {
		t.Fatalf("ReclaimFrom = %+v, %+v, %v; want run 1 given up at its second delivery", got, gaveUp, err)
	}
	if got, gaveUp, err := reaper.ReclaimFrom(ctx, "nobody", 1); err != nil || len(got)+len(gaveUp) != 0 {
		t.Errorf("ReclaimFrom an unknown consumer = %v, %v, %v; want nothing", got, gaveUp, err)
	}
}
