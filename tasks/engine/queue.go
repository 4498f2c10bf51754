package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/models"
)

// Transport carries queued runs from the replicas that claim them to the
// workers that run them. It is only a carrier: a run's row says whether
// it is queued, and a worker takes the row (models.TakeQueued) before it
// runs it, so a job delivered twice, late, or after its run was cancelled
// is recognised there and dropped. Redis Streams (tasks/queue) is one; the
// LocalTransport, in this process's memory, is the other.
type Transport interface {
	// Epoch returns the queue's epoch, starting a new one when the queue's
	// store has none (it was never used, or lost its content). Rows
	// queued under another epoch are sent again.
	Epoch(ctx context.Context, queue string) (string, error)
	// Send adds the jobs to the queue, and returns the epoch they were
	// added under (read in one step with the add).
	Send(ctx context.Context, queue string, jobs []Job) (string, error)
	// Receive waits up to about a second for at most n jobs for consumer;
	// it returns none when ctx ends or nothing came.
	Receive(ctx context.Context, queue, consumer string, n int) ([]Delivery, error)
	// Ack forgets delivered jobs: their outcome is recorded, or they were
	// stale.
	Ack(ctx context.Context, queue string, ids []string) error
	// Orphans takes the jobs delivered to the consumers dead reports and
	// not acknowledged, and forgets those consumers.
	Orphans(ctx context.Context, queue string, dead func(consumer string) bool) ([]Delivery, error)
	// Forget deletes a queue no one reads any more (the personal queue of
	// a dead worker) with whatever it still holds.
	Forget(ctx context.Context, queue string) error
	// Kill asks the worker running a run to cancel it; Kills delivers the
	// requests until ctx ends.
	Kill(ctx context.Context, runID int64) error
	Kills(ctx context.Context) <-chan int64
}

// Delivery is a job as a worker received it.
type Delivery struct {
	ID  string // the transport's id of the message, for Ack
	Job Job
	// Err, when set, says the message could not be read as a job: it is
	// acknowledged and dropped.
	Err error
}

// DefaultQueue is the queue of a task whose row names none, when its
// function is one that goes to a queue by default.
const DefaultQueue = "default"

// validQueueName reports whether s may name a queue: empty (the default),
// or 1 to 64 letters, digits, '-', '_' or '.', not starting "w." (the
// workers' personal queues).
func validQueueName(s string) bool {
	if len(s) > 64 || strings.HasPrefix(s, "w.") {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// queueExec is the Executor of queued runs: at their time it hands them
// to their queue (the rows say queued, with the queue's epoch) and sends
// them; the replica's part ends there. A worker takes each row and runs
// it. A run its claim handed over already (Job.Queued) is only sent.
type queueExec struct {
	db    *models.DB
	tr    Transport
	clock clockwork.Clock
	log   *slog.Logger
	owner func() string
	// epochs is each queue's epoch as its last send returned it.
	epochs sync.Map
}

// Execute hands the jobs to their queues once gate opens; each channel
// is closed once the job is handed over (or given up: a replica declared
// dead hands nothing on, and the rescuer requeues its claims).
func (q *queueExec) Execute(ctx context.Context, jobs []Job, gate *Gate) []<-chan struct{} {
	done := make(chan struct{})
	out := make([]<-chan struct{}, len(jobs))
	for i := range out {
		out[i] = done
	}
	go func() {
		defer close(done)
		if gate != nil {
			<-gate.Wait()
			if gate.Aborted() {
				q.unsent(context.WithoutCancel(ctx), jobs)
				return
			}
		}
		q.handOff(context.WithoutCancel(ctx), jobs)
	}()
	return out
}

// epoch returns the queue's epoch as its last send returned it.
func (q *queueExec) epoch(queue string) (string, bool) {
	e, ok := q.epochs.Load(queue)
	if !ok {
		return "", false
	}
	return e.(string), true
}

// unsent gives up the jobs of a release that did not happen (this
// replica was declared dead, or could not record the release): those
// their claim queued are left to the sweepers, to send when due; the
// others are still claims, the rescuer's.
func (q *queueExec) unsent(ctx context.Context, jobs []Job) {
	var ids []int64
	for _, j := range jobs {
		if j.Queued {
			ids = append(ids, j.RunID)
		}
	}
	if len(ids) == 0 {
		return
	}
	if err := retryTransient(ctx, func() error { return models.MarkUnsent(ctx, q.db, ids) }); err != nil {
		q.log.Error("queued runs not released and not marked to be sent again; they are once this replica is declared dead", "runs", len(ids), "error", err)
	}
}

// handOff queues and sends jobs, queue by queue.
func (q *queueExec) handOff(ctx context.Context, jobs []Job) {
	byQueue := map[string][]Job{}
	for _, j := range jobs {
		byQueue[j.Queue] = append(byQueue[j.Queue], j)
	}
	for name, js := range byQueue {
		if err := q.handOffQueue(ctx, name, js); err != nil {
			q.log.Error("runs not handed to their queue; they run elsewhere once their lease runs out", "queue", name, "runs", len(js), "error", err)
		}
	}
}

func (q *queueExec) handOffQueue(ctx context.Context, name string, jobs []Job) error {
	// written is the epoch each row was queued under: by its claim, or
	// by the hand-off below.
	written := make(map[int64]string, len(jobs))
	var claimed []int64
	for _, j := range jobs {
		if j.Queued {
			written[j.RunID] = j.QueueEpoch
		} else {
			claimed = append(claimed, j.RunID)
		}
	}
	if len(claimed) > 0 {
		if err := q.queueClaims(ctx, name, claimed, written); err != nil {
			if len(written) == 0 {
				return err
			}
			q.log.Error("runs not handed to their queue; they run elsewhere once their lease runs out", "queue", name, "runs", len(claimed), "error", err)
		}
	}
	send := make([]Job, 0, len(written))
	for _, j := range jobs {
		if e, ok := written[j.RunID]; ok && e != "" {
			j.Owner = ""
			send = append(send, j)
		}
	}
	if len(send) == 0 {
		return nil
	}
	got, err := q.tr.Send(ctx, name, send)
	if err == nil {
		q.epochs.Store(name, got)
	} else {
		q.log.Warn("queued runs not sent; they are sent again once the queue answers", "queue", name, "runs", len(send), "error", err)
	}
	// Not sent, or sent under another epoch than their rows say (the
	// queue's store lost its content since): send again (duplicates are
	// dropped at the take).
	var again []int64
	for _, j := range send {
		if err != nil || written[j.RunID] != got {
			again = append(again, j.RunID)
		}
	}
	if len(again) == 0 {
		return nil
	}
	return retryTransient(ctx, func() error { return models.SentRuns(ctx, q.db, again, "", q.clock.Now()) })
}

// queueClaims hands claimed runs to their queue (their rows say queued)
// and notes in written the epoch of each it moved. The epoch is read
// before the rows are written: should the queue's store lose its content
// after the read, the epoch the send returns differs, and the rows are
// marked to be sent again. Any read before the write will do, so the
// last send's is used: no round trip.
func (q *queueExec) queueClaims(ctx context.Context, name string, ids []int64, written map[int64]string) error {
	epoch, ok := q.epoch(name)
	if !ok {
		if err := retryTransient(ctx, func() (err error) {
			epoch, err = q.tr.Epoch(ctx, name)
			return err
		}); err != nil {
			epoch = "" // sent by the sweeper once the queue answers
		}
	}
	var queued []int64
	err := retryTransient(ctx, func() (err error) {
		queued, err = models.QueueRuns(ctx, q.db, q.owner(), ids, name, epoch, q.clock.Now())
		return err
	})
	for _, id := range queued {
		written[id] = epoch
	}
	return err
}

// Cancel asks the worker that runs the run to cancel it; the run's row is
// closed already (the worker's lease keeper would notice within a
// renewal).
func (q *queueExec) Cancel(runID int64, _ error) bool {
	if err := q.tr.Kill(context.Background(), runID); err != nil {
		q.log.Warn("kill request not sent; the worker stops the run at its next lease renewal", "exec_id", runID, "error", err)
		return false
	}
	return true
}

// Drain has nothing to wait for: the workers run the jobs.
func (q *queueExec) Drain(context.Context) int { return 0 }

// retryTransient runs write until it succeeds, fails for good, or about
// 30 s of attempts passed.
func retryTransient(ctx context.Context, write func() error) error {
	wait := 50 * time.Millisecond
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err = write(); err == nil || models.IsPermanent(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// router sends each job to the queue its task names, or to the
// in-process runner when it names none.
type router struct {
	local Executor
	queue *queueExec
}

func (r *router) Execute(ctx context.Context, jobs []Job, gate *Gate) []<-chan struct{} {
	var local, queued []Job
	var localAt, queuedAt []int
	for i, j := range jobs {
		if j.Queue != "" {
			queued, queuedAt = append(queued, j), append(queuedAt, i)
		} else {
			local, localAt = append(local, j), append(localAt, i)
		}
	}
	if len(queued) == 0 {
		return r.local.Execute(ctx, jobs, gate)
	}
	if len(local) == 0 {
		return r.queue.Execute(ctx, jobs, gate)
	}
	out := make([]<-chan struct{}, len(jobs))
	for k, c := range r.local.Execute(ctx, local, gate) {
		out[localAt[k]] = c
	}
	for k, c := range r.queue.Execute(ctx, queued, gate) {
		out[queuedAt[k]] = c
	}
	return out
}

func (r *router) Cancel(runID int64, cause error) bool {
	return r.local.Cancel(runID, cause) || r.queue.Cancel(runID, cause)
}

func (r *router) Drain(ctx context.Context) int { return r.local.Drain(ctx) }

// ParseQueues reads queue names as a worker takes them, "name" or
// "name:concurrency", into concurrency by queue; a name alone gets
// concurrency. The error names the entry at fault.
func ParseQueues(specs []string, concurrency int) (map[string]int, error) {
	out := map[string]int{}
	for _, spec := range specs {
		name, n, found := strings.Cut(strings.TrimSpace(spec), ":")
		c := concurrency
		if found {
			v, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil || v < 1 || v > 10000 {
				return nil, fmt.Errorf("entry %q: want name:concurrency with concurrency 1 to 10000", spec)
			}
			c = v
		}
		if name == "" || !validQueueName(name) {
			return nil, fmt.Errorf("entry %q: a queue name is 1 to 64 letters, digits, '-', '_' or '.', not starting \"w.\"", spec)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("entry %q: queue %s named twice", spec, name)
		}
		out[name] = c
	}
	if len(out) == 0 {
		return nil, errors.New("no queue named")
	}
	return out, nil
}
