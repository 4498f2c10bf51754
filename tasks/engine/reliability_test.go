package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

// statusesByAttempt returns "attempt:status" of a task's history, oldest first.
func (h *harness) statuses(taskID int64) []string {
	h.t.Helper()
	runs := h.history(taskID)
	out := make([]string, len(runs))
	for i, r := range runs {
		out[len(runs)-1-i] = fmt.Sprintf("%d:%s", r.Attempt, r.Status)
	}
	return out
}

// Three replicas with their own connections, twenty tasks firing every
// second for 25 seconds: every (task, fire time) runs exactly once.
func TestReplicas_EveryFireOnce(t *testing.T) {
	modelstest.EachKind(t, func(t *testing.T, kind string) {
		pools := modelstest.Pools(t, kind, 3)
		clock := clockwork.NewFakeClockAt(start)
		var hs []*harness
		for _, db := range pools {
			hs = append(hs, setupClock(t, db, clock))
		}
		const tasks, seconds = 20, 25
		for i := range tasks {
			hs[0].insert(fmt.Sprintf("every_second_%d", i), "cron", "* * * * * *", "record", "", `{"overlap":"allow"}`)
		}
		for _, h := range hs {
			h.sync()
		}
		owners := map[string]int{}
		for s := range seconds {
			hs[0].advance(3, time.Second) // one timer per replica
			for got := 0; got < tasks; {
				select {
				case r := <-hs[0].runs:
					owners["a"]++
					_ = r
				case <-hs[1].runs:
					owners["b"]++
				case <-hs[2].runs:
					owners["c"]++
				case <-time.After(20 * time.Second):
					t.Fatalf("second %d: %d of %d runs", s, got, tasks)
				}
				got++
			}
		}
		var dup, total int
		must(t, pools[0].Get(&total, "SELECT COUNT(*) FROM (SELECT DISTINCT task_id, scheduled_at FROM execute_task) d"))
		must(t, pools[0].Get(&dup, "SELECT COUNT(*) FROM (SELECT task_id FROM execute_task GROUP BY task_id, scheduled_at HAVING COUNT(*) > 1) d"))
		if total != tasks*seconds || dup != 0 {
			t.Fatalf("%d distinct (task, fire) pairs, want %d; %d duplicated", total, tasks*seconds, dup)
		}
		t.Logf("runs per replica: %v", owners)
	})
}

// A replica dies in the middle of a run: another one finds the run lost
// once the lease ends, retries it, and keeps firing.
func TestReplicas_KilledOwnerRunIsLostAndRetried(t *testing.T) {
	modelstest.EachKind(t, func(t *testing.T, kind string) {
		pools := modelstest.Pools(t, kind, 2)
		a := setup(t, pools[0])
		id := a.insert("flaky", "interval", "60", "flaky", "", `{"max_retries": 1, "retry_delay": "1s", "retry_backoff": "fixed"}`)
		a.sync()
		a.advance(1, 59*time.Second) // 00:01:00: a claims and starts attempt 1, which hangs
		a.waitStarted()
		// SIGKILL a: no more fires, heartbeats or records from it.
		a.kill()

		b := setupClock(t, pools[1], a.clock)
		b.sync()
		b.advance(1, 31*time.Second) // past the 30s lease; 00:01:31
		b.sync()                     // b marks the run lost and writes the retry
		if got := b.statuses(id); strings.Join(got, " ") != "1:lost 2:pending" {
			t.Fatalf("after the lease: %v", got)
		}
		b.advance(2, 2*time.Second) // b's group timer + the retry timer
		if r := b.wait(1)[0]; r.Job.Attempt != 2 || r.Status != models.RunSuccess {
			t.Fatalf("retry %+v", r)
		}
		b.advance(1, 27*time.Second) // 00:02:00: the next fire, on b
		if r := b.wait(1)[0]; r.Job.Attempt != 1 || r.Job.ScheduledAt != start.Add(119*time.Second) {
			t.Fatalf("next fire %+v", r.Job)
		}
		runs := b.history(id)
		lost, retry := runs[2], runs[1]
		if !strings.Contains(string(lost.Error), "stopped renewing the lease") || retry.FirstID.Int64 != lost.ID ||
			!retry.ScheduledAt.Time.Equal(lost.ScheduledAt.Time) || retry.Source != models.SourceRetry {
			t.Fatalf("lost %+v\nretry %+v", lost, retry)
		}
		if got := b.statuses(id); strings.Join(got, " ") != "1:lost 2:success 1:success" {
			t.Fatalf("history %v", got)
		}
	})
}

// All replicas down across several fire times, then one starts: each
// misfire policy does what it says, and skipped fires are recorded.
func TestDowntime_MisfirePolicies(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		a := setup(t, db)
		ids := map[string]int64{}
		for _, p := range []string{"skip", "once", "all"} {
			ids[p] = a.insert("misfire_"+p, "interval", "10", "record", "", fmt.Sprintf(`{"misfire":%q}`, p))
		}
		ids["all_capped"] = a.insert("misfire_all_capped", "interval", "10", "record", "", `{"misfire":"all","misfire_max":2}`)
		a.sync()
		a.advance(1, 9*time.Second) // 00:00:10: all four run
		a.wait(4)
		a.shutdown()

		// Down from 00:00:10 to 00:01:05: 20, 30, 40, 50 and 60 are missed.
		a.clock.Advance(55 * time.Second)
		b := setupClock(t, db, a.clock)
		b.sync()
		b.wait(1 + 5 + 2)
		want := map[string]string{
			"skip":       "1:success 0:missed",
			"once":       "1:success 0:missed 1:success",
			"all":        "1:success 1:success 1:success 1:success 1:success 1:success",
			"all_capped": "1:success 0:missed 1:success 1:success",
		}
		for p, id := range ids {
			if got := strings.Join(b.statuses(id), " "); got != want[p] {
				t.Errorf("%s: %s, want %s", p, got, want[p])
			}
		}
		missed := b.history(ids["skip"])[0]
		if !strings.HasPrefix(string(missed.Error), "5 fire times from 2026-01-01 00:00:20 to 2026-01-01 00:01:00 UTC were not run (misfire policy skip)") {
			t.Errorf("missed record: %q", missed.Error)
		}
		if once := b.history(ids["once"])[0]; !once.ScheduledAt.Time.Equal(start.Add(59*time.Second)) || once.Source != models.SourceCatchup {
			t.Errorf("once ran %v (%s), want the latest missed time", once.ScheduledAt.Time, once.Source)
		}
		var times []string
		for _, r := range b.history(ids["all"])[:5] {
			times = append([]string{r.ScheduledAt.Time.Format("04:05")}, times...)
		}
		if strings.Join(times, " ") != "00:20 00:30 00:40 00:50 01:00" {
			t.Errorf("all ran %v, want each missed time oldest first", times)
		}
		// Back on schedule: the next fire is 00:01:10 for all.
		b.advance(1, 5*time.Second)
		b.wait(4)
	})
}

// A fire that comes while a run is going: forbid skips it, replace
// cancels the old run, allow runs both up to max_parallel.
func TestOverlapPolicies(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		forbid := h.insert("forbid", "interval", "5", "wait", "", "")
		h.sync()
		h.advance(1, 4*time.Second) // 00:00:05: runs, waits
		h.waitStarted()
		h.advance(1, 5*time.Second) // 00:00:10: skipped
		h.fired(2)
		h.exec("UPDATE task SET extra = '{\"overlap\":\"replace\"}' WHERE id = ?", forbid)
		h.sync()
		h.advance(1, 5*time.Second) // 00:00:15: replaces the 00:00:05 run
		h.waitStarted()
		if r := h.wait(1)[0]; r.Job.ScheduledAt != start.Add(4*time.Second) || r.Status != models.RunCancelled {
			t.Fatalf("replaced run recorded as %+v", r)
		}
		got := h.history(forbid)
		if len(got) != 3 || got[1].Status != models.RunSkipped || !strings.Contains(string(got[1].Error), "still running (overlap forbid)") ||
			got[2].Status != models.RunCancelled || !strings.Contains(string(got[2].Error), "replaced by run") || got[0].Status != models.RunRunning {
			t.Fatalf("history %+v", got)
		}

		allow := h.insert("allow", "interval", "5", "wait", "", `{"overlap":"allow","max_parallel":2}`)
		h.exec("UPDATE task SET is_valid = 0 WHERE id = ?", forbid)
		h.sync()
		h.fired(1) // 00:00:15
		for range 3 {
			h.advance(1, 5*time.Second)
			h.fired(1)
		}
		h.waitStarted()
		h.waitStarted()
		if got := strings.Join(h.statuses(allow), " "); got != "1:running 1:running 1:skipped" {
			t.Fatalf("allow, max_parallel 2: %s", got)
		}
	})
}

// A failure is retried max_retries times, each attempt its own row linked
// to the first; NoRetry stops it.
func TestRetries(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		fail := h.insert("fail", "interval", "60", "fail", "", `{"max_retries":2,"retry_delay":"2s","retry_backoff":"fixed"}`)
		final := h.insert("final", "interval", "60", "noretry", "", `{"max_retries":2}`)
		h.sync()
		h.advance(1, 59*time.Second)
		h.wait(2)
		h.advance(2, 2*time.Second) // group timer + one retry timer
		h.wait(1)
		h.advance(2, 2*time.Second)
		h.wait(1)
		h.sync() // nothing left to retry
		if got := strings.Join(h.statuses(fail), " "); got != "1:failed 2:failed 3:failed" {
			t.Fatalf("fail: %s", got)
		}
		runs := h.history(fail)
		if runs[0].FirstID.Int64 != runs[2].ID || runs[1].FirstID.Int64 != runs[2].ID {
			t.Fatalf("attempts not linked to the first: %+v", runs)
		}
		if got := strings.Join(h.statuses(final), " "); got != "1:failed" {
			t.Fatalf("noretry: %s", got)
		}
	})
}

// Exponential backoff doubles from retry_delay, with up to 20% jitter,
// and stops at retry_max_delay.
func TestRetryDelay(t *testing.T) {
	o, _, err := parseOptions(`{"retry_delay":"10s","retry_max_delay":"60s"}`, time.UTC, DefaultConfig().Defaults)
	must(t, err)
	for attempt, want := range map[int]time.Duration{2: 10 * time.Second, 3: 20 * time.Second, 4: 40 * time.Second, 5: 60 * time.Second, 9: 60 * time.Second} {
		got := o.retryDelay(attempt)
		if got < want || got > want+want/5 || got > 60*time.Second {
			t.Errorf("attempt %d: %s, want %s to %s", attempt, got, want, min(want+want/5, 60*time.Second))
		}
	}
}

// A daily task in a DST zone runs once on each transition day, driven by
// a fake clock.
func TestDST_DailyTaskOncePerDay(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ny, err := time.LoadLocation("America/New_York")
		must(t, err)
		for _, c := range []struct {
			name, spec string
			from       time.Time
			want       []string
		}{
			{"spring forward", "30 2 * * *", time.Date(2026, 3, 7, 12, 0, 0, 0, ny),
				[]string{"2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"}},
			{"fall back", "30 1 * * *", time.Date(2026, 10, 31, 12, 0, 0, 0, ny),
				[]string{"2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				h := setupClock(t, db, clockwork.NewFakeClockAt(c.from))
				id := h.insert("daily_"+strings.ReplaceAll(c.name, " ", "_"), "cron", c.spec, "record", "", `{"timezone":"America/New_York"}`)
				h.sync()
				var got []string
				for range c.want {
					next := h.task(id).NextFireAt.Time
					h.advance(1, next.Sub(h.clock.Now()))
					got = append(got, h.wait(1)[0].Job.ScheduledAt.In(ny).Format("2006-01-02 15:04 MST"))
				}
				if strings.Join(got, ", ") != strings.Join(c.want, ", ") {
					t.Fatalf("fired %v, want %v", got, c.want)
				}
				h.exec("UPDATE task SET is_valid = 0 WHERE id = ?", id)
			})
		}
	})
}

var _ = context.Background

// Two replicas whose clocks are 0.8 s apart claim the same fire times:
// fire times come from the schedule, so the unique key still dedupes.
func TestReplicas_ClockSkew(t *testing.T) {
	modelstest.EachKind(t, func(t *testing.T, kind string) {
		pools := modelstest.Pools(t, kind, 2)
		a := setupClock(t, pools[0], clockwork.NewFakeClockAt(start))
		b := setupClock(t, pools[1], clockwork.NewFakeClockAt(start.Add(-800*time.Millisecond)))
		const tasks, steps = 5, 10
		for i := range tasks {
			a.insert(fmt.Sprintf("skew_%d", i), "cron", "* * * * * *", "record", "", `{"overlap":"allow"}`)
		}
		a.sync()
		b.sync()
		for range steps {
			a.advance(1, time.Second) // a fires 00:00:02 .. 00:00:11
			a.fired(1)
			b.advance(1, time.Second) // b fires 00:00:01 .. 00:00:10, 0.8 s later in real time
			b.fired(1)
		}
		want := tasks * (steps + 1) // 00:00:01 .. 00:00:11
		for got := 0; got < want; got++ {
			select {
			case <-a.runs:
			case <-b.runs:
			case <-time.After(20 * time.Second):
				t.Fatalf("%d of %d runs", got, want)
			}
		}
		var total, dup int
		must(t, pools[0].Get(&total, "SELECT COUNT(*) FROM (SELECT DISTINCT task_id, scheduled_at FROM execute_task) d"))
		must(t, pools[0].Get(&dup, "SELECT COUNT(*) FROM (SELECT task_id FROM execute_task GROUP BY task_id, scheduled_at HAVING COUNT(*) > 1) d"))
		if total != want || dup != 0 {
			t.Fatalf("%d pairs (want %d), %d duplicated", total, want, dup)
		}
	})
}

// The process stalls for 3 s over an every-second schedule, so gocron
// fires once: fire times within misfire_grace still run, older ones
// follow the misfire policy.
func TestStall_LateFiresWithinGraceRun(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		patient := h.insert("patient", "cron", "* * * * * *", "record", "", `{"overlap":"allow","misfire_grace":"10s"}`)
		strict := h.insert("strict", "cron", "* * * * * *", "record", "", `{"overlap":"allow","misfire_grace":"1s"}`)
		h.sync()
		h.advance(1, 3*time.Second) // 00:00:01 -> 00:00:04 at once
		h.fired(1)
		h.wait(3 + 1)
		if got := strings.Join(h.statuses(patient), " "); got != "1:success 1:success 1:success" {
			t.Errorf("patient: %s", got)
		}
		if got := strings.Join(h.statuses(strict), " "); got != "0:missed 1:success" {
			t.Errorf("strict: %s", got)
		}
	})
}

// deadClaim schedules a task and writes the claim of a replica that died:
// running, never recorded as started, its heartbeat 40 s old (past the
// 30 s lease), for the fire a second before the start.
func (h *harness) deadClaim(key string) (taskID int64, at time.Time, execID int64) {
	h.t.Helper()
	taskID = h.insert(key, "interval", "3600", "record", "", "")
	h.sync()
	at = start.Add(-time.Second)
	ids, err := models.ClaimRuns(h.t.Context(), h.db, []models.Claim{{TaskID: taskID, TaskKey: key, ScheduledAt: at, Attempt: 1,
		Source: models.SourceSchedule, TraceID: "dead-replica-" + key, Owner: "dead", Host: "gone/1", StartedAt: start.Add(-40 * time.Second)}})
	must(h.t, err)
	return taskID, at, ids[0]
}

// A replica that claimed a fire ahead of its time and died before
// starting it: nothing ran, so another replica runs it, still attempt 1.
func TestReplicas_ClaimedNotStartedIsRequeued(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		id, at, _ := h.deadClaim("orphan")
		h.sync()
		r := h.wait(1)[0]
		if r.Job.Attempt != 1 || r.Job.ScheduledAt != at || r.Status != models.RunSuccess {
			t.Fatalf("requeued run %+v", r)
		}
		runs := h.history(id)
		if len(runs) != 1 || runs[0].Status != models.RunSuccess || runs[0].Owner == "dead" || !strings.Contains(runs[0].Extra, `"requeued_from":"dead (gone/1)"`) {
			t.Fatalf("history %+v", runs)
		}
		if n := len(h.logs.lines("run requeued: its owner died before starting it")); n != 1 {
			t.Fatalf("%d requeue log lines", n)
		}
	})
}

// A replica that let its claimed runs go (its run_start row says so) and
// died before recording them: they may have run, so they are lost, not
// run again; the run_start row goes once nothing of it is running.
func TestReplicas_StartedNotRecordedIsLost(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		id, at, execID := h.deadClaim("gone")
		// The dead replica was registered, and beat last an hour ago.
		must(t, models.RegisterReplica(t.Context(), db, models.Replica{ID: "dead", Host: "gone/1", StartedAt: start.Add(-time.Hour)}))
		_, ok, err := models.StartRuns(t.Context(), db, "dead", []int64{execID}, at)
		must(t, err)
		if !ok {
			t.Fatal("the start of a replica not yet declared dead was refused")
		}
		h.sync()
		runs := h.history(id)
		if len(runs) != 1 || runs[0].Status != models.RunLost || !strings.Contains(string(runs[0].Error), "lost: its owner dead (gone/1)") || !runs[0].StartedAt.Time.Equal(at) {
			t.Fatalf("history %+v", runs)
		}
		if n := len(h.logs.lines("run requeued: its owner died before starting it")); n != 0 {
			t.Fatalf("%d requeue log lines", n)
		}
		var left int
		must(t, db.Get(&left, "SELECT COUNT(*) FROM run_start"))
		if left != 0 {
			t.Fatalf("%d run_start rows left", left)
		}
	})
}

// A run that goes on for minutes keeps its lease: its replica renews it
// at its syncs, and another replica never takes it for lost.
func TestReplicas_LongRunKeepsItsLease(t *testing.T) {
	modelstest.EachKind(t, func(t *testing.T, kind string) {
		pools := modelstest.Pools(t, kind, 2)
		a := setup(t, pools[0])
		id := a.insert("long", "interval", "5", "block", "", "")
		a.sync()
		a.advance(1, 4*time.Second) // 00:00:05: the run starts
		a.waitStarted()
		a.stopFiring()
		b := setupClock(t, pools[1], a.clock)
		b.sync()
		b.stopFiring()
		for range 12 { // two minutes, four leases
			a.clock.Advance(10 * time.Second)
			a.sync()
			b.sync()
		}
		runs := b.history(id)
		if len(runs) != 1 || runs[0].Status != models.RunRunning {
			t.Fatalf("history %+v", runs)
		}
		a.e.cfg.ShutdownTimeout = 100 * time.Millisecond
		a.e.runner.timeoutGrace = 100 * time.Millisecond
	})
}

// A fire's run_start row is deleted once its runs are recorded.
func TestRunStartDeletedAfterRuns(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		h.insert("a", "interval", "5", "record", "", "")
		h.insert("b", "interval", "5", "record", "", "")
		h.sync()
		h.advance(1, 4*time.Second)
		h.wait(2)
		deadline := time.Now().Add(10 * time.Second)
		for {
			var left int
			must(t, db.Get(&left, "SELECT COUNT(*) FROM run_start"))
			if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d run_start rows left after the runs were recorded", left)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// overlap replace across replicas: b's fire closes a's run, and a cancels
// its function at its next heartbeat.
func TestReplicas_ReplaceCancelsAnotherReplicasRun(t *testing.T) {
	modelstest.EachKind(t, func(t *testing.T, kind string) {
		pools := modelstest.Pools(t, kind, 2)
		a := setup(t, pools[0])
		id := a.insert("replaced", "interval", "5", "wait", "", `{"overlap":"replace"}`)
		a.sync()
		a.advance(1, 4*time.Second) // 00:00:05: a runs it, and goes on running
		a.waitStarted()
		a.stopFiring() // from now on only b fires

		b := setupClock(t, pools[1], a.clock)
		b.sync()
		b.advance(1, 5*time.Second) // 00:00:10: b replaces a's run
		b.fired(1)                  // dispatched: a's run is closed in the table
		b.waitStarted()
		a.sync() // a's heartbeat finds its run closed and cancels it
		if r := a.wait(1)[0]; r.Status != models.RunCancelled || r.Job.ScheduledAt != start.Add(4*time.Second) {
			t.Fatalf("a's run: %+v", r)
		}
		runs := a.history(id)
		if len(runs) != 2 || runs[1].Status != models.RunCancelled || !strings.Contains(string(runs[1].Error), fmt.Sprintf("replaced by run %d", runs[0].ID)) ||
			runs[0].Status != models.RunRunning || runs[0].Owner == runs[1].Owner {
			t.Fatalf("history %+v", runs)
		}
		b.e.cfg.ShutdownTimeout = 100 * time.Millisecond
	})
}

// Catch-up leaves alone the fires the group has handed out but not yet
// claimed: at start, a slow first claim let the group's timer hand out the
// next fires, and the catch-up that ran meanwhile claimed them too.
func TestCatchUp_SkipsFiresOnTheirWay(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		id := h.insert("every", "cron", "* * * * * *", "record", "", `{"overlap":"allow","misfire":"all","misfire_grace":"1h"}`)
		h.sync()
		// A previous life of the daemon ran 00:00:00; the group, made at
		// 00:00:01, has handed out 00:00:02-00:00:04 to claims on their way.
		_, err := models.ClaimRuns(t.Context(), db, []models.Claim{{TaskID: id, TaskKey: "every", ScheduledAt: start.Add(-time.Second), Attempt: 1,
			Source: models.SourceSchedule, TraceID: "earlier", Owner: "old", Status: models.RunSuccess, StartedAt: start.Add(-time.Second)}})
		must(t, err)
		h.e.tab.mu.Lock()
		g := h.e.tab.entries[id].group
		g.due(start.Add(3*time.Second), 10)
		h.e.tab.mu.Unlock()

		h.e.dispatcher.catchUp([]models.Task{h.task(id)}, start)
		h.e.dispatcher.Wait() // a catch-up claims in the background
		if runs := h.history(id); len(runs) != 1 {
			t.Fatalf("catch-up claimed fires on their way: %+v", runs)
		}
	})
}
