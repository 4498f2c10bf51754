package models_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
		if rs, err := models.ListUnsent(ctx, db, "q", "e1", t0, 10); err != nil || len(rs) != 0 {
			t.Fatalf("unsent under e1: %d (%v)", len(rs), err)
		}
		if rs, err := models.ListUnsent(ctx, db, "q", "e2", t0, 10); err != nil || len(rs) != 3 {
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

// The sweeper's reads each heartbeat (QueuesInUse, ListUnsent, and
// ListQueuedOn for a dead worker's queue) read the queued rows' index,
// not the history: with 3,000 finished runs and a backlog of 3,000 queued
// ones, each reads a handful of rows. Before, ListUnsent walked the
// primary key through the whole table and QueuesInUse every queued row,
// each heartbeat, so a backlog made the database slower, and the backlog
// longer.
func TestQueue_SweepReadsNoHistory(t *testing.T) {
	cfg := modelstest.EmptyMySQL(t)
	cfg.MaxOpenConns, cfg.MaxIdleConns = 1, 1 // one session: its counters are ours
	db := modelstest.Open(t, cfg)
	if _, err := models.Migrate(context.Background(), db, modelstest.Schema(t)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := models.InsertTask(ctx, db, models.Task{Key: "hist", Func: "f", Trigger: "interval", Spec: "1", IsValid: 1})
	must(t, err)
	insert := func(n int, status, queue, epoch string, from time.Time) {
		var b strings.Builder
		b.WriteString("INSERT INTO execute_task (task_id, status, trace_id, task_key, scheduled_at, queue, queue_epoch) VALUES ")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "(%d, '%s', 't', 'hist', '%s', '%s', '%s')", id, status, from.Add(time.Duration(i)*time.Second).Format("2006-01-02 15:04:05"), queue, epoch)
		}
		modelstest.Exec(t, db, b.String())
	}
	insert(3000, models.RunSuccess, "default", "e1", t0)
	insert(3000, models.RunQueued, "default", "e1", t0.Add(time.Hour))
	insert(2, models.RunQueued, "w.dead", "", t0.Add(2*time.Hour))
	modelstest.Exec(t, db, "ANALYZE TABLE execute_task")

	read := func() int64 {
		rows, err := db.QueryContext(ctx, "SHOW SESSION STATUS LIKE 'Handler_read%'")
		must(t, err)
		defer rows.Close()
		var sum int64
		for rows.Next() {
			var name string
			var v int64
			must(t, rows.Scan(&name, &v))
			sum += v
		}
		must(t, rows.Err())
		return sum
	}
	for _, c := range []struct {
		name string
		call func() (int, error)
		want int
	}{
		{"QueuesInUse", func() (int, error) { q, err := models.QueuesInUse(ctx, db); return len(q), err }, 2},
		{"ListUnsent (none)", func() (int, error) {
			r, err := models.ListUnsent(ctx, db, "default", "e1", time.Now(), 1000)
			return len(r), err
		}, 0},
		{"ListUnsent (two)", func() (int, error) {
			r, err := models.ListUnsent(ctx, db, "w.dead", "e1", time.Now(), 1000)
			return len(r), err
		}, 2},
		{"ListQueuedOn", func() (int, error) { r, err := models.ListQueuedOn(ctx, db, "w.dead", 1000); return len(r), err }, 2},
	} {
		before := read()
		got, err := c.call()
		must(t, err)
		rowsRead := read() - before - 1 // SHOW STATUS itself reads none, but be lenient by one
		if got != c.want {
			t.Errorf("%s: %d rows, want %d", c.name, got, c.want)
		}
		if rowsRead > 50 {
			t.Errorf("%s read %d rows (handler reads) for %d; it must use the queued index, not scan the history", c.name, rowsRead, got)
		}
	}
}

// A run its claim hands to a queue ahead of its fire time: queued, owned
// by its claimant, sent (as the claim says) at its time. Should its epoch
// turn out wrong, or the release not happen (MarkUnsent), it is sent
// again, but not before its time.
func TestQueue_ClaimedQueued(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		register(t, db, "rep", models.KindReplica, t0)
		id, err := models.InsertTask(ctx, db, models.Task{Key: "qc", Func: "f", Trigger: "interval", Spec: "1", IsValid: 1})
		must(t, err)
		at := t0.Add(time.Second)
		ids, err := models.ClaimRuns(ctx, db, []models.Claim{{TaskID: id, TaskKey: "qc", ScheduledAt: at, Attempt: 1, Source: models.SourceSchedule,
			TraceID: uuid.NewString(), Owner: "rep", StartedAt: t0, Status: models.RunQueued, Queue: "q", QueueEpoch: "e1"}})
		must(t, err)
		r, err := models.GetRun(ctx, db, ids[0])
		must(t, err)
		if r.Status != models.RunQueued || r.Queue != "q" || r.QueueEpoch != "e1" || r.Owner != "rep" || r.StartedAt.Valid || !r.RetryAt.Valid || !r.RetryAt.Time.Equal(at) {
			t.Fatalf("claimed row %+v", r)
		}
		must(t, models.MarkUnsent(ctx, db, ids))
		for _, c := range []struct {
			now  time.Time
			want int
		}{{t0, 0}, {at, 1}} {
			rs, err := models.ListUnsent(ctx, db, "q", "e1", c.now, 10)
			must(t, err)
			if len(rs) != c.want {
				t.Fatalf("unsent at %s: %d rows, want %d", c.now, len(rs), c.want)
			}
		}
		taken, err := models.TakeQueued(ctx, db, "rep", "h", "tok", ids, at) // any live replica row fences a take
		must(t, err)
		if len(taken) != 1 {
			t.Fatalf("taken %v", taken)
		}
	})
}
