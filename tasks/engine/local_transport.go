package engine

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
)

// LocalTransport is the queue in this process's memory, for a daemon with
// no Redis: its embedded worker takes the jobs its replica queues, with
// the semantics of the Redis one within the process. Its epoch is new at
// every start, so the rows a previous process left queued are sent again.
type LocalTransport struct {
	epoch string

	mu       sync.Mutex
	wake     chan struct{} // closed and replaced when jobs are added
	queues   map[string][]Delivery
	inFlight map[string]map[string]string // queue -> delivery id -> consumer
	seq      int64
	kills    []chan int64
}

// NewLocalTransport returns an empty in-process queue.
func NewLocalTransport() *LocalTransport {
	return &LocalTransport{epoch: "local-" + uuid.NewString(), wake: make(chan struct{}),
		queues: map[string][]Delivery{}, inFlight: map[string]map[string]string{}}
}

func (t *LocalTransport) Epoch(context.Context, string) (string, error) { return t.epoch, nil }

func (t *LocalTransport) Send(_ context.Context, queue string, jobs []Job) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, j := range jobs {
		t.seq++
		t.queues[queue] = append(t.queues[queue], Delivery{ID: strconv.FormatInt(t.seq, 10), Job: j})
	}
	close(t.wake)
	t.wake = make(chan struct{})
	return t.epoch, nil
}

func (t *LocalTransport) Receive(ctx context.Context, queue, consumer string, n int) ([]Delivery, error) {
	timeout := time.NewTimer(time.Second)
	defer timeout.Stop()
	for {
		t.mu.Lock()
		if q := t.queues[queue]; len(q) > 0 {
			k := min(n, len(q))
			out := append([]Delivery(nil), q[:k]...)
			t.queues[queue] = q[k:]
			if t.inFlight[queue] == nil {
				t.inFlight[queue] = map[string]string{}
			}
			for _, d := range out {
				t.inFlight[queue][d.ID] = consumer
			}
			t.mu.Unlock()
			return out, nil
		}
		wake := t.wake
		t.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, nil
		case <-timeout.C:
			return nil, nil
		}
	}
}

func (t *LocalTransport) Ack(_ context.Context, queue string, ids []string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		delete(t.inFlight[queue], id)
	}
	return nil
}

func (t *LocalTransport) Forget(_ context.Context, queue string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.queues, queue)
	delete(t.inFlight, queue)
	return nil
}

// Orphans has none to give in one process: a worker that stops hands its
// jobs back, and one that dies takes the transport with it.
func (t *LocalTransport) Orphans(context.Context, string, func(string) bool) ([]Delivery, error) {
	return nil, nil
}

func (t *LocalTransport) Kill(_ context.Context, runID int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.kills {
		select {
		case c <- runID:
		default: // a listener behind: its lease keeper stops the run
		}
	}
	return nil
}

func (t *LocalTransport) Kills(ctx context.Context) <-chan int64 {
	c := make(chan int64, 64)
	t.mu.Lock()
	t.kills = append(t.kills, c)
	t.mu.Unlock()
	go func() {
		<-ctx.Done()
		t.mu.Lock()
		defer t.mu.Unlock()
		for i, k := range t.kills {
			if k == c {
				t.kills = append(t.kills[:i], t.kills[i+1:]...)
				break
			}
		}
		close(c) // under mu: Kill sends under it too
	}()
	return c
}
