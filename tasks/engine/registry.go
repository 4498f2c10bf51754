package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"taskrunner/models"
)

// registry keeps this replica's row in the replica table: it registers
// at start, beats every heartbeat, and marks the row stopped at a clean
// shutdown. A replica whose beats stop for dead_after is declared dead by
// the others' rescuers (Quartz's cluster check-in, at a few seconds
// rather than 7.5). Should this replica find itself declared dead (it
// stalled: GC, SIGSTOP, a database it could not reach), it has lost its
// runs and claims to the others: it cancels what it still runs (their
// outcomes would be refused anyway) and registers again under a new id.
//
// Each beat also reads which owners are alive, for the overlap check: a
// run whose owner is dead must not hold its task back.
type registry struct {
	cfg     Config
	db      *models.DB
	log     *slog.Logger
	clock   clockwork.Clock
	host    string
	version string
	// fenced is told the old id when this replica was declared dead.
	fenced func(old string)
	// kind and info are the row's kind (replica when empty) and info
	// JSON; join, when set, registers the row instead of
	// models.RegisterReplica (a worker presents its token there).
	kind, info string
	join       func(ctx context.Context, r models.Replica) error

	id   atomic.Pointer[string]
	mu   sync.Mutex
	dead map[string]bool // owners known dead, as of the last beat
	// deadWorkers and deadReplicas are they by kind, in id order.
	deadWorkers, deadReplicas []string
	// workers are the live workers by queue they read, ids in order, as
	// of the last beat: where broadcast and sharded runs go.
	workers map[string][]string
	// last is the time of the last successful beat, and since the start
	// of the unbroken run of beats it ends. Owners are judged only once
	// this replica has beaten without a break for dead_after: after a
	// stall (of this process, or of the database for everyone) every
	// heartbeat looks old until the others had the time to beat again.
	last, since time.Time
	loop        loop
}

// Host names this process in rows: hostname/pid.
func hostID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

// ID returns this replica's current id.
func (r *registry) ID() string { return *r.id.Load() }

// Start registers this replica; the loop then beats until Stop.
func (r *registry) Start(ctx context.Context) error {
	if err := r.register(ctx); err != nil {
		return err
	}
	failing := false
	r.loop.every(r.clock, r.cfg.Heartbeat, nil, func() {
		if err := r.beat(context.Background()); err != nil {
			if !failing {
				r.log.Error("heartbeat failed", "error", err)
			}
			failing = true
		} else if failing {
			r.log.Info("heartbeat recovered")
			failing = false
		}
	})
	return nil
}

func (r *registry) register(ctx context.Context) error {
	id := uuid.NewString()
	now := r.clock.Now()
	kind, join := r.kind, r.join
	if kind == "" {
		kind = models.KindReplica
	}
	if join == nil {
		join = func(ctx context.Context, rep models.Replica) error { return models.RegisterReplica(ctx, r.db, rep) }
	}
	err := join(ctx, models.Replica{ID: id, Kind: kind, Host: r.host, PID: os.Getpid(),
		Version: r.version, Info: r.info, StartedAt: now, HeartbeatAt: now})
	if err != nil {
		return err
	}
	r.id.Store(&id)
	r.mu.Lock()
	r.last, r.since = now, now
	r.mu.Unlock()
	return nil
}

// beat renews this replica's heartbeat and reads who is alive.
func (r *registry) beat(ctx context.Context) error {
	id, now := r.ID(), r.clock.Now()
	alive, err := models.BeatReplica(ctx, r.db, id, now)
	if err != nil {
		return err
	}
	if !alive {
		r.log.Error("this replica was declared dead by the others (it stalled or lost the database); its runs and claims were taken over; registering again", "replica", id)
		if err := r.register(ctx); err != nil {
			return err
		}
		r.fenced(id)
		return nil
	}
	r.mu.Lock()
	if now.Sub(r.last) > 2*r.cfg.Heartbeat {
		r.since = now
	}
	r.last = now
	r.mu.Unlock()
	reps, err := models.ListReplicas(ctx, r.db, "", now.Add(-time.Hour))
	if err != nil {
		return err
	}
	dead := map[string]bool{}
	var deadWorkers, deadReplicas []string
	workers := map[string][]string{}
	judging := r.continuous(now)
	cutoff := now.Add(-r.cfg.DeadAfter)
	for _, rep := range reps {
		silent := rep.HeartbeatAt.Before(cutoff)
		if rep.DeadAt.Valid || judging && silent {
			dead[rep.ID] = true
			if rep.Kind == models.KindWorker {
				deadWorkers = append(deadWorkers, rep.ID)
			} else {
				deadReplicas = append(deadReplicas, rep.ID)
			}
			continue
		}
		if rep.Kind == models.KindWorker && !silent {
			for _, q := range workerQueues(rep.Info) {
				workers[q] = append(workers[q], rep.ID)
			}
		}
	}
	for _, ids := range workers {
		sort.Strings(ids)
	}
	sort.Strings(deadWorkers)
	sort.Strings(deadReplicas)
	r.mu.Lock()
	r.dead, r.deadWorkers, r.deadReplicas, r.workers = dead, deadWorkers, deadReplicas, workers
	r.mu.Unlock()
	return nil
}

// continuous reports whether this replica's own beats have been unbroken
// for dead_after up to now: only then can it tell that another one
// stopped beating.
func (r *registry) continuous(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return now.Sub(r.last) <= 2*r.cfg.Heartbeat && now.Sub(r.since) >= r.cfg.DeadAfter
}

// workersOf returns the live workers that read queue, in id order.
func (r *registry) workersOf(queue string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.workers[queue]
}

// workerQueues reads the queues of a worker's row info.
func workerQueues(info string) []string {
	var v struct {
		Queues map[string]int `json:"queues"`
	}
	if json.Unmarshal([]byte(info), &v) != nil {
		return nil
	}
	out := make([]string, 0, len(v.Queues))
	for q := range v.Queues {
		out = append(out, q)
	}
	return out
}

// personalQueue is the queue only the worker id reads: the runs of a
// broadcast, and the shards spread over the workers, are sent there.
func personalQueue(id string) string { return "w." + id }

// personalOwner returns the worker whose personal queue name is, if it is
// one.
func personalOwner(name string) (string, bool) { return strings.CutPrefix(name, "w.") }

// deadWorkerIDs returns the workers known dead (declared, or silent for
// dead_after) in the last hour, as of the last beat.
func (r *registry) deadWorkerIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deadWorkers
}

// deadReplicaIDs returns the replicas (not workers) known dead in the
// last hour, as of the last beat.
func (r *registry) deadReplicaIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deadReplicas
}

// alive reports whether a run's owner may still be running it: false only
// for an owner known to be dead.
func (r *registry) alive(owner string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.dead[owner]
}

// Stop ends the beats and marks the row stopped.
func (r *registry) Stop(ctx context.Context) {
	if r.loop.stop == nil {
		return
	}
	r.loop.halt()
	if err := models.StopReplica(ctx, r.db, r.ID(), r.clock.Now()); err != nil {
		r.log.Warn("mark replica stopped", "error", err)
	}
}

// halt ends the beats without a word to the database, as a crash would
// (tests).
func (r *registry) halt() { r.loop.halt() }
