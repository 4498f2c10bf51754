package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/models"
)

// leaseKeeper renews the lease (heartbeat_at) of the runs an executor
// holds, as the backstop behind its owner's liveness, and cancels those
// closed elsewhere meanwhile (replaced, cancelled by an operator, or
// taken for lost). Every executor keeps one for its runs.
type leaseKeeper struct {
	db    *models.DB
	clock clockwork.Clock
	log   *slog.Logger
	every time.Duration // how often it renews; also the least age renewed
	// cancel stops a run closed elsewhere.
	cancel func(id int64, cause error)

	mu   sync.Mutex
	runs map[int64]leased
	loop loop
}

func newLeaseKeeper(db *models.DB, clock clockwork.Clock, log *slog.Logger, lease time.Duration, cancel func(int64, error)) *leaseKeeper {
	// Renewed every sixth of the lease, those a sixth old: a lease is at
	// most a third spent when renewed.
	return &leaseKeeper{db: db, clock: clock, log: log, every: lease / 6, cancel: cancel, runs: map[int64]leased{}}
}

// leased is a run whose lease is kept.
type leased struct {
	owner   string
	attempt int
	beat    time.Time // when its lease was last renewed
}

// track starts renewing a job's lease, which its claim (or take) set now.
func (k *leaseKeeper) track(j Job) {
	k.mu.Lock()
	k.runs[j.RunID] = leased{owner: j.Owner, attempt: j.Attempt, beat: k.clock.Now()}
	k.mu.Unlock()
}

func (k *leaseKeeper) untrack(id int64) {
	k.mu.Lock()
	delete(k.runs, id)
	k.mu.Unlock()
}

func (k *leaseKeeper) Start() {
	k.loop.every(k.clock, k.every, nil, func() {
		if err := k.renew(context.Background()); err != nil {
			k.log.Warn("renew leases", "error", err)
		}
	})
}

func (k *leaseKeeper) Stop() { k.loop.halt() }

// renew renews the leases last renewed at least every ago (a run's claim
// is its first renewal: at 10,000 runs a second, most runs end long
// before they need one) and cancels the runs no longer running under
// their owner and attempt.
func (k *leaseKeeper) renew(ctx context.Context) error {
	now := k.clock.Now()
	k.mu.Lock()
	ids := make([]int64, 0, len(k.runs))
	var old []int64
	held := make(map[int64]leased, len(k.runs))
	for id, r := range k.runs {
		ids = append(ids, id)
		held[id] = r
		if now.Sub(r.beat) >= k.every {
			old = append(old, id)
		}
	}
	k.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	if len(old) > 0 {
		if err := onConflictRepeat(func() error { return models.Heartbeat(ctx, k.db, old, now) }); err != nil {
			return err
		}
		k.mu.Lock()
		for _, id := range old {
			if r, ok := k.runs[id]; ok {
				r.beat = now
				k.runs[id] = r
			}
		}
		k.mu.Unlock()
	}
	rows, err := models.RunsWithOutcome(ctx, k.db, ids)
	if err != nil {
		return err
	}
	for id, r := range held {
		switch row, ok := rows[id]; {
		case !ok:
			k.cancel(id, fmt.Errorf("run %d deleted", id))
		case row.Status != models.RunRunning:
			k.cancel(id, fmt.Errorf("run closed elsewhere as %s", row.Status))
		case row.Owner != r.owner || row.Attempt != r.attempt:
			k.cancel(id, fmt.Errorf("run taken over by %s", row.Owner))
		}
	}
	return nil
}
