package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"taskrunner/models"
	"taskrunner/models/modelstest"
	"taskrunner/tasks"
)

// Reload applies an edit at once, without waiting for the next sync: a
// changed spec, a disabled row, a deleted row.
func TestEngine_Reload(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		id := h.insert("reloaded", "interval", "5", "record", "", "")
		gone := h.insert("deleted", "interval", "5", "record", "", "")
		h.sync()
		h.exec("UPDATE task SET spec = '7' WHERE id = ?", id)
		h.exec("DELETE FROM task WHERE id = ?", gone)
		must(t, h.e.Reload(t.Context(), id, gone))
		if row := h.task(id); row.AppliedSpec != "interval 7s" || !row.NextFireAt.Time.Equal(start.Add(6*time.Second)) {
			t.Fatalf("after Reload: applied %q next %v", row.AppliedSpec, row.NextFireAt.Time)
		}
		if _, _, ok := h.e.tab.scheduled(gone); ok {
			t.Fatal("a deleted row is still scheduled after Reload")
		}
		h.exec("UPDATE task SET is_valid = 0 WHERE id = ?", id)
		must(t, h.e.Reload(t.Context(), id))
		if row := h.task(id); row.Status != models.TaskDisabled {
			t.Fatalf("disabled row says %q", row.Status)
		}
	})
}

// RunNow runs a task outside its schedule: a row of its own (source
// manual) with the row's args and the given ones after them, under the
// overlap policy; unknown keys are refused.
func TestEngine_RunNow(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		id := h.insert("manual", "interval", "3600", "record", "1,2", "")
		waiter := h.insert("manual_wait", "interval", "3600", "wait", "", `{"overlap":"forbid"}`)
		h.sync()
		more, err := tasks.ParseArgs(`3,"x"`)
		must(t, err)
		run, err := h.e.RunNow(t.Context(), "manual", more)
		must(t, err)
		<-run.Done
		r, err := models.GetRun(t.Context(), db, run.ID)
		must(t, err)
		if r.Source != models.SourceManual || r.Status != models.RunSuccess || r.Output != `args=[1,2,3,"x"]` || r.TaskID != id {
			t.Fatalf("manual run %+v", r)
		}
		if row := h.task(id); row.LastFireAt.Valid {
			t.Fatalf("a manual run moved the schedule's last fire: %v", row.LastFireAt.Time)
		}

		first, err := h.e.RunNow(t.Context(), "manual_wait", tasks.Args{})
		must(t, err)
		h.waitStarted()
		h.clock.Advance(time.Millisecond) // a second manual run is another instant
		if _, err := h.e.RunNow(t.Context(), "manual_wait", tasks.Args{}); !errors.Is(err, ErrOverlap) {
			t.Fatalf("second run of a forbid task while one runs: %v, want ErrOverlap", err)
		}
		if got := strings.Join(h.statuses(waiter), " "); got != "1:running 1:skipped" {
			t.Fatalf("history %s", got)
		}
		must(t, h.e.Cancel(t.Context(), first.ID))
		<-first.Done

		if _, err := h.e.RunNow(t.Context(), "no_such_key", tasks.Args{}); !errors.Is(err, ErrNotScheduled) {
			t.Fatalf("unknown key: %v", err)
		}
	})
}

// Cancel stops a running run wherever it runs (its row says cancelled
// at once), and refuses a run that is not running.
func TestEngine_Cancel(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		id := h.insert("cancelled", "interval", "5", "wait", "", "")
		h.sync()
		h.advance(1, 4*time.Second)
		h.waitStarted()
		runID := h.history(id)[0].ID
		must(t, h.e.Cancel(context.Background(), runID))
		if r := h.wait(1)[0]; r.Status != models.RunCancelled {
			t.Fatalf("recorded %+v", r)
		}
		row := h.history(id)[0]
		if row.Status != models.RunKilled || string(row.Error) != "cancelled by an operator" {
			t.Fatalf("row %+v", row)
		}
		if err := h.e.Cancel(context.Background(), runID); !errors.Is(err, ErrNotRunning) {
			t.Fatalf("cancel a cancelled run: %v", err)
		}
		if err := h.e.Cancel(context.Background(), 999999); !errors.Is(err, ErrRunNotFound) {
			t.Fatalf("cancel no run: %v", err)
		}
	})
}

// Of two valid rows with one key, the lower id runs, whatever order they
// became valid in: every replica decides the same.
func TestEngine_DuplicateKeyLowerIDWins(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		low := h.insert("dup", "cron", "61 * * * *", "record", "", "") // bad at first
		high := h.insert("dup", "interval", "5", "record", "", "")
		h.sync()
		if row := h.task(high); row.Status != models.TaskReady {
			t.Fatalf("the only valid row: %+v", row)
		}
		h.exec("UPDATE task SET spec = '0 * * * *' WHERE id = ?", low)
		h.sync()
		if row := h.task(low); row.Status != models.TaskReady || row.SchedError != "" {
			t.Fatalf("lower id: status %q error %q", row.Status, row.SchedError)
		}
		if row := h.task(high); row.Status != models.TaskError || !strings.Contains(row.SchedError, `"dup" is already used by task row`) {
			t.Fatalf("higher id: status %q error %q", row.Status, row.SchedError)
		}
		// The lower row goes: the higher one is scheduled at the next sync.
		h.exec("DELETE FROM task WHERE id = ?", low)
		h.sync()
		h.sync()
		if row := h.task(high); row.Status != models.TaskReady {
			t.Fatalf("after the lower row went: %q %q", row.Status, row.SchedError)
		}
	})
}

// Child tasks (extra.then): a parent's run starts its children by its
// outcome; each child run names its parent run; a failure stops only
// its own descendants; a loop is refused.
func TestEngine_ChildTasks(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		parent := h.insert("parent", "interval", "3600", "fail", "",
			`{"then": ["on_success", {"key": "on_failure", "on": "failure"}, {"key": "always", "on": "always"}]}`)
		onSuccess := h.insert("on_success", "interval", "3600", "record", "", `{"then": ["grandchild"]}`)
		onFailure := h.insert("on_failure", "interval", "3600", "record", "", `{"then": ["grandchild"]}`)
		always := h.insert("always", "interval", "3600", "record", "", "")
		grandchild := h.insert("grandchild", "interval", "3600", "record", "", "")
		loop := h.insert("loop", "interval", "3600", "record", "", `{"then": ["parent", "loop_b"]}`)
		loopB := h.insert("loop_b", "interval", "3600", "record", "", `{"then": ["loop"]}`)
		h.sync()
		if row := h.task(loopB); row.Status != models.TaskError || !strings.Contains(row.SchedError, `key "then": the child tasks make a loop: loop_b → loop → loop_b`) {
			t.Fatalf("loop row: %q %q", row.Status, row.SchedError)
		}
		_ = loop
		// The API refuses such a row before it is written.
		errs := h.e.CheckTask(models.Task{Key: "grandchild", Func: "record", Trigger: "interval", Spec: "3600", Extra: `{"then": ["parent"]}`}, start)
		if len(errs) != 1 || errs[0].Field != "extra" || !strings.Contains(errs[0].Message, "grandchild → parent → on_success → grandchild") {
			t.Fatalf("CheckTask of a row closing a loop: %v", errs)
		}

		run, err := h.e.RunNow(t.Context(), "parent", tasks.Args{})
		must(t, err)
		<-run.Done
		if r := h.wait(1)[0]; r.Job.TaskKey != "parent" || r.Status != models.RunFailed {
			t.Fatalf("parent %+v", r)
		}
		// The parent failed: on_failure and always run, then grandchild
		// after on_failure; on_success does not.
		h.clock.Advance(time.Millisecond)
		must(t, h.e.retrier.startDue(t.Context()))
		got := map[string]string{}
		for _, r := range h.wait(2) {
			got[r.Job.TaskKey] = r.Status + " " + r.Job.Source
		}
		h.clock.Advance(time.Millisecond)
		must(t, h.e.retrier.startDue(t.Context()))
		for _, r := range h.wait(1) {
			got[r.Job.TaskKey] = r.Status + " " + r.Job.Source
		}
		want := map[string]string{"on_failure": "success child", "always": "success child", "grandchild": "success child"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
			}
		}
		if runs := h.history(onSuccess); len(runs) != 0 {
			t.Errorf("on_success ran after a failure: %+v", runs)
		}
		child := h.history(onFailure)[0]
		if child.Extra != fmt.Sprintf(`{"parent_run":%d}`, run.ID) {
			t.Errorf("child's extra %q, want its parent run %d", child.Extra, run.ID)
		}
		if g := h.history(grandchild)[0]; g.Extra != fmt.Sprintf(`{"parent_run":%d}`, child.ID) {
			t.Errorf("grandchild's extra %q, want its parent run %d", g.Extra, child.ID)
		}
		_, _ = always, parent
	})
}

// Backfill runs the fire times of a range that did not run, oldest first,
// each with its own scheduled time; a dry run lists them first; what ran
// (or runs again) is not run twice.
func TestEngine_Backfill(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		id := h.insert("filled", "interval", "3600", "record", "", "")
		h.sync()
		h.stopFiring()                 // only the backfill runs it
		h.clock.Advance(5 * time.Hour) // 05:00:01
		// 02:00 ran already.
		_, err := models.ClaimRuns(t.Context(), db, []models.Claim{{TaskID: id, TaskKey: "filled", ScheduledAt: start.Add(2*time.Hour - time.Second),
			Attempt: 1, Source: models.SourceSchedule, TraceID: "ran", Owner: "old", Status: models.RunSuccess, StartedAt: start}})
		must(t, err)
		from, to := start.Add(-time.Second), start.Add(4*time.Hour) // 00:00 .. 04:00:01
		plan, err := h.e.PlanBackfill(t.Context(), "filled", from, to)
		must(t, err)
		if len(plan.Times) != 5 || len(plan.Pending()) != 4 || !plan.Done[2] {
			t.Fatalf("plan %+v", plan)
		}
		rep, err := h.e.Backfill(t.Context(), "filled", from, to, 0)
		must(t, err)
		if rep.Started != 4 {
			t.Fatalf("report %+v", rep)
		}
		var got []string
		for _, r := range h.history(id) {
			got = append(got, r.ScheduledAt.Time.Format("15:04")+" "+r.Source+" "+r.Status)
		}
		if want := "04:00 backfill success,03:00 backfill success,02:00 schedule success,01:00 backfill success,00:00 backfill success"; strings.Join(got, ",") != want {
			t.Fatalf("history %v, want %s", got, want)
		}
		again, err := h.e.Backfill(t.Context(), "filled", from, to, 0)
		must(t, err)
		if again.Started != 0 || len(again.Plan.Pending()) != 0 {
			t.Fatalf("second backfill %+v", again)
		}
		if _, err := h.e.PlanBackfill(t.Context(), "filled", from, start.Add(10*time.Hour)); err == nil {
			t.Fatal("a range into the future was accepted")
		}
	})
}

// A raw edit of the task table, noticed by a sync, is audited once
// (source sql, before and after), however many syncs see it; a change
// already audited (by the API or the CLI) is not audited again.
func TestEngine_RawEditsAudited(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		id := h.insert("edited", "interval", "5", "record", "", "")
		h.sync() // the first sync knows no before: nothing audited
		h.exec("UPDATE task SET spec = '7' WHERE id = ?", id)
		h.sync()
		h.sync()
		audits, err := models.ListAudit(t.Context(), db, models.AuditFilter{TaskID: id, Limit: 10})
		must(t, err)
		if len(audits) != 1 || audits[0].Source != models.AuditSourceSQL || audits[0].Action != models.AuditUpdate ||
			!strings.Contains(string(audits[0].Before), `"spec":"5"`) || !strings.Contains(string(audits[0].After), `"spec":"7"`) {
			t.Fatalf("audit %+v", audits)
		}
		// Audited already (as the API does, in the edit's transaction).
		h.exec("UPDATE task SET is_valid = 0 WHERE id = ?", id)
		row := h.task(id)
		_, err = models.InsertAudit(t.Context(), db, models.Audit{At: start, Actor: "admin-bot", Source: models.AuditSourceAPI,
			Action: models.AuditDisable, TaskID: id, TaskKey: "edited", Before: audits[0].After, After: models.NullString(models.TaskDefinition(row))})
		must(t, err)
		h.sync()
		h.exec("DELETE FROM task WHERE id = ?", id)
		h.sync()
		audits, err = models.ListAudit(t.Context(), db, models.AuditFilter{TaskID: id, Limit: 10})
		must(t, err)
		var got []string
		for _, a := range audits {
			got = append(got, a.Source+" "+a.Action)
		}
		if strings.Join(got, ",") != "sql delete,api disable,sql update" {
			t.Fatalf("audit %v", got)
		}
	})
}

// A backfilled fire time that its task's overlap policy refuses (a live
// run is going) waits for the run to end; it is not recorded skipped.
func TestEngine_BackfillWaitsForALiveRun(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		id := h.insert("bf_forbid", "interval", "3600", "record", "", `{"overlap": "forbid"}`)
		h.sync()
		h.stopFiring()
		h.clock.Advance(2 * time.Hour) // 02:00:01
		live, err := models.ClaimRuns(t.Context(), db, []models.Claim{{TaskID: id, TaskKey: "bf_forbid", ScheduledAt: start.Add(5 * time.Hour),
			Attempt: 1, Source: models.SourceManual, TraceID: "live", Owner: h.e.ID(), StartedAt: h.clock.Now()}})
		must(t, err)
		done := make(chan BackfillReport, 1)
		go func() {
			rep, err := h.e.Backfill(context.Background(), "bf_forbid", start.Add(time.Hour-time.Second), start.Add(time.Hour), 0)
			must(t, err)
			done <- rep
		}()
		h.advance(1, backfillWait) // the backfill is waiting on its clock
		if runs := h.history(id); len(runs) != 1 {
			t.Fatalf("the backfill did not wait for the live run: %s", strings.Join(h.statuses(id), " "))
		}
		ok, err := models.CloseRun(t.Context(), db, live[0], models.RunRunning, models.RunSuccess, "", h.clock.Now(), time.Time{})
		must(t, err)
		if !ok {
			t.Fatal("live run not closed")
		}
		// The backfill may have looked again after the close, or it may be
		// waiting on its clock once more: advance it until it ends.
		deadline := time.After(10 * time.Second)
		for ended := false; !ended; {
			select {
			case rep := <-done:
				if rep.Started != 1 || rep.Skipped != 0 {
					t.Fatalf("report %+v", rep)
				}
				ended = true
			case <-deadline:
				t.Fatal("backfill did not end")
			default:
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				if h.clock.BlockUntilContext(ctx, int(clockTickers(h.clock).Load())+1) == nil {
					h.clock.Advance(backfillWait)
				}
				cancel()
			}
		}
		if got := strings.Join(h.statuses(id), " "); got != "1:success 1:success" {
			t.Fatalf("history %s", got)
		}
	})
}
