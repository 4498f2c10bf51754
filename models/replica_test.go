package models_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func register(t *testing.T, db *models.DB, id, kind string, started time.Time) {
	t.Helper()
	err := models.RegisterReplica(context.Background(), db, models.Replica{ID: id, Kind: kind, Host: "h1", PID: 42, Version: "v1", StartedAt: started})
	if err != nil {
		t.Fatal(err)
	}
}

func ids(rs []models.Replica) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestReplica_RegisterList(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		register(t, db, "a", models.KindReplica, t0)
		register(t, db, "b", models.KindReplica, t0.Add(time.Second))
		register(t, db, "w", models.KindWorker, t0.Add(2*time.Second))
		register(t, db, "old", models.KindReplica, t0.Add(-time.Hour))
		if err := models.StopReplica(ctx, db, "old", t0.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := models.StopReplica(ctx, db, "b", t0.Add(3*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := models.RegisterReplica(ctx, db, models.Replica{ID: "a", StartedAt: t0}); err == nil {
			t.Error("a second row of id a was registered")
		}

		rs, err := models.ListReplicas(ctx, db, models.KindReplica, t0)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(rs); !slices.Equal(got, []string{"b", "a"}) {
			t.Fatalf("replicas live or dead since t0: %q, want b (stopped), a, newest first", got)
		}
		a, b := rs[1], rs[0]
		if a.Kind != models.KindReplica || a.Host != "h1" || a.PID != 42 || a.Version != "v1" || a.Info != "{}" ||
			!a.StartedAt.Equal(t0) || !a.HeartbeatAt.Equal(t0) || a.DeadAt.Valid || a.DeadReason != "" {
			t.Errorf("replica a: %+v", a)
		}
		if !b.DeadAt.Valid || !b.DeadAt.Time.Equal(t0.Add(3*time.Second)) || b.DeadReason != models.ReasonStopped {
			t.Errorf("stopped replica b: %+v", b)
		}
		all, err := models.ListReplicas(ctx, db, "", t0.Add(-time.Hour))
		if err != nil || !slices.Equal(ids(all), []string{"w", "b", "a", "old"}) {
			t.Fatalf("every kind, dead since an hour: %q, %v", ids(all), err)
		}
	})
}

// A beat keeps a replica alive, also one at the same time as the last
// (MySQL then reports no row changed); a dead or unknown replica is told
// so, and its row does not move.
func TestReplica_Beat(t *testing.T) {
	check := func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		register(t, db, "a", models.KindReplica, t0)
		for i, at := range []time.Time{t0.Add(time.Second), t0.Add(time.Second), t0.Add(2 * time.Second)} {
			if alive, err := models.BeatReplica(ctx, db, "a", at); err != nil || !alive {
				t.Fatalf("beat %d at %v: alive %v, %v", i, at, alive, err)
			}
		}
		if alive, err := models.BeatReplica(ctx, db, "nobody", t0); err != nil || alive {
			t.Fatalf("beat of an unknown id: alive %v, %v", alive, err)
		}
		dead, err := models.MarkDeadReplicas(ctx, db, t0.Add(5*time.Second), t0.Add(6*time.Second), "silent for 3s")
		if err != nil || !slices.Equal(dead, []string{"a"}) {
			t.Fatalf("mark dead: %q, %v", dead, err)
		}
		for _, at := range []time.Time{t0.Add(2 * time.Second), t0.Add(7 * time.Second)} {
			if alive, err := models.BeatReplica(ctx, db, "a", at); err != nil || alive {
				t.Fatalf("beat of a dead replica at %v: alive %v, %v", at, alive, err)
			}
		}
		rs, err := models.ListReplicas(ctx, db, "", t0)
		if err != nil || len(rs) != 1 || !rs[0].HeartbeatAt.Equal(t0.Add(2*time.Second)) || rs[0].DeadReason != "silent for 3s" {
			t.Fatalf("dead replica's row: %+v, %v", rs, err)
		}
	}
	modelstest.Each(t, check)
	t.Run("mysql clientFoundRows", func(t *testing.T) {
		cfg := modelstest.EmptyMySQL(t)
		dsn, err := mysql.ParseDSN(cfg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		dsn.ClientFoundRows = true
		cfg.DSN = dsn.FormatDSN()
		db := modelstest.Open(t, cfg)
		if _, err := models.Migrate(context.Background(), db, modelstest.Schema(t)); err != nil {
			t.Fatal(err)
		}
		check(t, db)
	})
}

// Replicas declaring the silent ones dead at once, each from its own
// pool: each silent replica is declared dead by exactly one of them, and
// the live ones by none.
func TestReplica_MarkDeadConcurrent(t *testing.T) {
	modelstest.EachKind(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		pools := modelstest.Pools(t, kind, 4)
		var silent []string
		for i := range 20 {
			id := fmt.Sprintf("silent%02d", i)
			silent = append(silent, id)
			register(t, pools[0], id, models.KindReplica, t0)
		}
		register(t, pools[0], "live", models.KindReplica, t0)
		if _, err := models.BeatReplica(ctx, pools[0], "live", t0.Add(9*time.Second)); err != nil {
			t.Fatal(err)
		}
		var (
			mu    sync.Mutex
			got   []string
			wg    sync.WaitGroup
			start = make(chan struct{})
		)
		for _, db := range pools {
			wg.Go(func() {
				<-start
				dead, err := models.MarkDeadReplicas(ctx, db, t0.Add(7*time.Second), t0.Add(10*time.Second), "silent")
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				got = append(got, dead...)
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		slices.Sort(got)
		if !slices.Equal(got, silent) {
			t.Fatalf("declared dead: %q\nwant each of %q once", got, silent)
		}
		live, err := models.ListReplicas(ctx, pools[0], "", t0.Add(time.Hour))
		if err != nil || !slices.Equal(ids(live), []string{"live"}) {
			t.Fatalf("live after: %q, %v", ids(live), err)
		}
	})
}

// A dead replica that still owns running rows is a dead owner until its
// runs are settled, and is pruned only then.
func TestReplica_DeadOwnersPrune(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		for _, id := range []string{"a", "b", "c"} {
			register(t, db, id, models.KindReplica, t0)
		}
		task := insertTask(t, db, "k")
		at := t0.Add(time.Second)
		runs, err := models.ClaimRuns(ctx, db, []models.Claim{
			{TaskID: task, ScheduledAt: at, Attempt: 1, TraceID: "ta", Owner: "a", StartedAt: at},
			{TaskID: task, ScheduledAt: at.Add(time.Second), Attempt: 1, TraceID: "tb", Owner: "b", StartedAt: at},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := models.StopReplica(ctx, db, "a", t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := models.StopReplica(ctx, db, "c", t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if owners, err := models.DeadOwners(ctx, db); err != nil || !slices.Equal(owners, []string{"a"}) {
			t.Fatalf("dead owners: %q, %v; want a (b lives, c owns nothing)", owners, err)
		}
		if n, err := models.PruneReplicas(ctx, db, t0.Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("pruned %d, %v; want c only", n, err)
		}
		if _, err := models.CloseRun(ctx, db, runs[0], models.RunRunning, models.RunLost, "owner died", at, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if owners, err := models.DeadOwners(ctx, db); err != nil || len(owners) != 0 {
			t.Fatalf("dead owners after settling: %q, %v", owners, err)
		}
		if n, err := models.PruneReplicas(ctx, db, t0.Add(time.Second)); err != nil || n != 0 {
			t.Fatalf("pruned %d dead after 00:00:01, %v; want none", n, err)
		}
		if n, err := models.PruneReplicas(ctx, db, t0.Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("pruned %d, %v; want a", n, err)
		}
		left, err := models.ListReplicas(ctx, db, "", time.Time{})
		if err != nil || !slices.Equal(ids(left), []string{"b"}) {
			t.Fatalf("left: %q, %v", ids(left), err)
		}
	})
}

// Only a live replica records runs as started or claims a retry: one
// declared dead, or never registered, is refused and writes nothing.
func TestReplica_Fence(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		register(t, db, "live", models.KindReplica, t0)
		register(t, db, "dead", models.KindReplica, t0)
		if _, err := models.BeatReplica(ctx, db, "live", t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if dead, err := models.MarkDeadReplicas(ctx, db, t0.Add(time.Second), t0.Add(3*time.Second), "silent"); err != nil || !slices.Equal(dead, []string{"dead"}) {
			t.Fatalf("declared dead: %q, %v", dead, err)
		}
		task := insertTask(t, db, "k")
		at := t0.Add(4 * time.Second)
		var claims []models.Claim
		for i := range 3 {
			claims = append(claims, models.Claim{TaskID: task, ScheduledAt: t0.Add(time.Duration(i) * time.Second), Attempt: 2, FirstID: 1,
				Source: models.SourceRetry, TraceID: fmt.Sprint("retry", i), Status: models.RunPending, RetryAt: at})
		}
		runs, err := models.ClaimRuns(ctx, db, claims)
		if err != nil {
			t.Fatal(err)
		}
		for i, owner := range []string{"dead", "nobody", "live"} {
			ok, err := models.ClaimPending(ctx, db, runs[i], owner, "h", at)
			if err != nil || ok != (owner == "live") {
				t.Fatalf("retry claimed by %s: %v, %v", owner, ok, err)
			}
			r, err := models.GetRun(ctx, db, runs[i])
			if want := map[bool]string{true: models.RunRunning, false: models.RunPending}[ok]; err != nil || r.Status != want {
				t.Fatalf("retry tried by %s: %+v, %v", owner, r, err)
			}
		}
		for _, owner := range []string{"dead", "nobody"} {
			if id, ok, err := models.StartRuns(ctx, db, owner, runs[:1], at); err != nil || ok || id != 0 {
				t.Fatalf("runs started by %s: id %d, ok %v, %v; want refused", owner, id, ok, err)
			}
		}
		id, ok, err := models.StartRuns(ctx, db, "live", runs[2:], at)
		if err != nil || !ok || id == 0 {
			t.Fatalf("runs started by the live replica: id %d, ok %v, %v", id, ok, err)
		}
		var owners []string
		if err := db.Select(&owners, "SELECT owner FROM run_start"); err != nil || !slices.Equal(owners, []string{"live"}) {
			t.Fatalf("run_start owners %q, %v", owners, err)
		}
	})
}

// A replica starting runs while another declares it dead and then reads
// what it started: a start that succeeded is always seen by that read.
func TestReplica_FencedStartRace(t *testing.T) {
	modelstest.EachKind(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		pools := modelstest.Pools(t, kind, 2)
		at := t0.Add(time.Minute)
		var started, refused int
		for i := range 100 {
			owner := fmt.Sprint("r", i)
			register(t, pools[0], owner, models.KindReplica, t0)
			var (
				ok, seen bool
				wg       sync.WaitGroup
			)
			wg.Go(func() {
				var err error
				if _, ok, err = models.StartRuns(ctx, pools[0], owner, []int64{int64(i)}, at); err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				dead, err := models.MarkDeadReplicas(ctx, pools[1], t0.Add(time.Second), at, "silent")
				if err != nil || !slices.Equal(dead, []string{owner}) {
					t.Errorf("declared dead: %q, %v", dead, err)
					return
				}
				got, err := models.StartedRuns(ctx, pools[1], owner, []int64{int64(i)})
				if err != nil {
					t.Error(err)
				}
				seen = len(got) == 1
			})
			wg.Wait()
			if ok && !seen {
				t.Fatalf("round %d: the start succeeded, and the rescuer that declared its replica dead did not see it", i)
			}
			var n int
			if err := pools[0].Get(&n, "SELECT COUNT(*) FROM run_start WHERE owner = ?", owner); err != nil || n != map[bool]int{true: 1}[ok] {
				t.Fatalf("round %d: start ok %v, %d run_start rows, %v", i, ok, n, err)
			}
			if ok {
				started++
			} else {
				refused++
			}
		}
		t.Logf("%d starts went first, %d were refused", started, refused)
	})
}
