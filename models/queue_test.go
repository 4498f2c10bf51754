package models_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

// claimFor claims n runs of a new task for owner, at t0 + i seconds.
func claimFor(t *testing.T, db *models.DB, owner string, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	id, err := models.InsertTask(ctx, db, models.Task{Key: "q_" + uuid.NewString()[:8], Func: "f", Trigger: "interval", Spec: "1", IsValid: 1})
	must(t, err)
	var claims []models.Claim
	for i := range n {
		claims = append(claims, models.Claim{TaskID: id, TaskKey: "k", ScheduledAt: t0.Add(time.Duration(i) * time.Second), Attempt: 1,
			Source: models.SourceSchedule, TraceID: uuid.NewString(), Owner: owner, StartedAt: t0})
	}
	got, err := models.ClaimRuns(ctx, db, claims)
	must(t, err)
	return got
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A run's way through a queue: handed over by its live claimant, sent,
// taken once by a live worker, recovered from a dead one; what the
// sweeper sends again; the stats of the metrics.
func TestQueue_RowStates(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		register(t, db, "rep", models.KindReplica, t0)
		register(t, db, "w1", models.KindWorker, t0)
		register(t, db, "w2", models.KindWorker, t0)
		ids := claimFor(t, db, "rep", 3)

		// Only the claimant hands over, and only while alive.
		if got, err := models.QueueRuns(ctx, db, "other", ids, "q", "e1", t0); err != nil || len(got) != 0 {
			t.Fatalf("a stranger queued %v (%v)", got, err)
		}
		got, err := models.QueueRuns(ctx, db, "rep", ids, "q", "e1", t0)
		must(t, err)
		if !slices.Equal(got, ids) {
			t.Fatalf("queued %v, want %v", got, ids)
		}
		stats, err := models.QueueStats(ctx, db)
		must(t, err)
		if len(stats) != 1 || stats[0].Queue != "q" || stats[0].Queued != 3 || !stats[0].Oldest.Equal(t0) {
			t.Fatalf("stats %+v", stats)
		}

		// Under the same epoch nothing is unsent; under a new one, all.
		if rs, err := models.ListUnsent(ctx, db, "q", "e1", 10); err != nil || len(rs) != 0 {
			t.Fatalf("unsent under e1: %d (%v)", len(rs), err)
		}
		if rs, err := models.ListUnsent(ctx, db, "q", "e2", 10); err != nil || len(rs) != 3 {
			t.Fatalf("unsent under e2: %d (%v)", len(rs), err)
		}

		// Two takes of one run: one wins. A dead worker takes nothing.
		a, err := models.TakeQueued(ctx, db, "w1", "h", "t1", ids[:2], t0)
		must(t, err)
		b, err := models.TakeQueued(ctx, db, "w2", "h", "t2", ids[:2], t0)
		must(t, err)
		if !slices.Equal(a, ids[:2]) || len(b) != 0 {
			t.Fatalf("takes %v and %v", a, b)
		}
		_, err = models.MarkDeadReplicas(ctx, db, t0.Add(time.Hour), t0.Add(time.Hour), "test")
		must(t, err)
		if c, err := models.TakeQueued(ctx, db, "w2", "h", "t3", ids[2:], t0); err != nil || len(c) != 0 {
			t.Fatalf("a dead worker took %v (%v)", c, err)
		}

		// Recovered from its dead worker: queued again, unsent, unstarted.
		ok, err := models.RecoverRun(ctx, db, ids[0], "w1", "q2", "recovered", t0)
		must(t, err)
		if again, _ := models.RecoverRun(ctx, db, ids[0], "w1", "q2", "recovered", t0); !ok || again {
			t.Fatalf("recover: %v then %v", ok, again)
		}
		r, err := models.GetRun(ctx, db, ids[0])
		must(t, err)
		if r.Status != models.RunQueued || r.Queue != "q2" || r.QueueEpoch != "" || r.Owner != "" || r.StartedAt.Valid {
			t.Fatalf("recovered row %+v", r)
		}

		// Moved between queues only from where it is.
		if ok, err := models.MoveQueued(ctx, db, ids[0], "q", "q3", t0); err != nil || ok {
			t.Fatalf("moved from the wrong queue: %v %v", ok, err)
		}
		if ok, err := models.MoveQueued(ctx, db, ids[0], "q2", "q3", t0); err != nil || !ok {
			t.Fatalf("not moved: %v %v", ok, err)
		}
		names, err := models.QueuesInUse(ctx, db)
		must(t, err)
		slices.Sort(names)
		if !slices.Equal(names, []string{"q", "q3"}) {
			t.Fatalf("queues in use %v", names)
		}
	})
}
