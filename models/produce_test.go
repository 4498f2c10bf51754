package models_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"testing"
	"time"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

// argsOf yields each of objs as JSON and counts how many were read.
func argsOf(read *int, objs ...string) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		for _, o := range objs {
			*read++
			if !yield(json.RawMessage(o), nil) {
				return
			}
		}
	}
}

// insertTarget inserts the target task "collect" and returns its id.
func insertTarget(t *testing.T, db *models.DB) int64 {
	t.Helper()
	id, err := models.InsertTask(context.Background(), db, models.Task{Key: "collect", Func: "collect", Trigger: "date", Spec: "2099-01-01 00:00:00", IsValid: 1})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestProduceRuns(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		target := insertTarget(t, db)
		produce := func(max int, objs ...string) (models.ProduceReport, int) {
			t.Helper()
			read := 0
			rep, err := models.ProduceRuns(ctx, db, models.Produce{TaskID: target, TaskKey: "collect", ProducerRun: 99, ProducerTask: "users",
				Args: argsOf(&read, objs...), Max: max, At: at, Host: "h1"})
			if err != nil {
				t.Fatal(err)
			}
			at = at.Add(time.Second)
			return rep, read
		}

		// A repeat within the batch is enqueued once; white space does not
		// make args differ.
		rep, _ := produce(10, `{"uid":1}`, `{"uid":2}`, `{ "uid": 1 }`)
		if rep != (models.ProduceReport{Produced: 2, Deduplicated: 1}) {
			t.Fatalf("first batch: %+v", rep)
		}
		runs, err := models.ListRuns(ctx, db, target, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 2 {
			t.Fatalf("%d rows, want 2", len(runs))
		}
		for _, r := range runs {
			var x struct {
				ProducerRun  int64           `json:"producer_run"`
				ProducerTask string          `json:"producer_task"`
				Args         json.RawMessage `json:"args"`
				ArgsHash     string          `json:"args_hash"`
			}
			if err := json.Unmarshal([]byte(r.Extra), &x); err != nil {
				t.Fatal(err)
			}
			if r.Status != models.RunPending || r.Source != models.SourceProduced || r.Attempt != 1 || r.TaskKey != "collect" ||
				!r.RetryAt.Valid || r.TraceID == "" || x.ProducerRun != 99 || x.ProducerTask != "users" || len(x.ArgsHash) != 64 {
				t.Fatalf("row %+v, extra %s", r, r.Extra)
			}
			args, err := models.ProducedArgs(ctx, db, r)
			if err != nil || string(args) != string(x.Args) {
				t.Fatalf("ProducedArgs = %s, %v; extra %s", args, err, r.Extra)
			}
		}
		if a, b := runs[0].ScheduledAt.Time, runs[1].ScheduledAt.Time; a.Equal(b) || a.Nanosecond() == 0 || b.Nanosecond() == 0 {
			t.Fatalf("rows at %v and %v: want two times, neither a whole second", a, b)
		}

		// Args still pending, or queued, are not enqueued again; once run,
		// they are.
		modelstest.Exec(t, db, fmt.Sprintf("UPDATE execute_task SET status = 'queued' WHERE task_id = %d AND extra LIKE '%%\"uid\":2%%'", target))
		if rep, _ := produce(10, `{"uid":1}`, `{"uid":2}`, `{"uid":3}`); rep != (models.ProduceReport{Produced: 1, Deduplicated: 2}) {
			t.Fatalf("second batch: %+v", rep)
		}
		modelstest.Exec(t, db, fmt.Sprintf("UPDATE execute_task SET status = 'success' WHERE task_id = %d", target))
		if rep, _ := produce(10, `{"uid":1}`); rep.Produced != 1 {
			t.Fatalf("after the runs ended: %+v", rep)
		}

		// The bound: Max rows, and Args read only as far as the first one
		// past it; duplicates do not count against it.
		rep, read := produce(2, `{"uid":1}`, `{"uid":4}`, `{"uid":4}`, `{"uid":5}`, `{"uid":6}`, `{"uid":7}`)
		if rep != (models.ProduceReport{Produced: 2, Deduplicated: 2, Cut: true}) || read != 5 {
			t.Fatalf("bounded batch: %+v, read %d", rep, read)
		}
		if rep, read := produce(2, `{"uid":1}`, `{"uid":4}`, `{"uid":5}`); rep != (models.ProduceReport{Deduplicated: 3}) || read != 3 {
			t.Fatalf("all queued: %+v, read %d", rep, read)
		}

		// Rows of a run a moment earlier hold the first fire times: the
		// next free one is taken.
		at = at.Add(-2 * time.Second) // the bounded batch's
		if rep, _ := produce(2, `{"uid":8}`); rep != (models.ProduceReport{Produced: 1}) {
			t.Fatalf("same fire time: %+v", rep)
		}

		if _, err := models.ProduceRuns(ctx, db, models.Produce{TaskID: target, TaskKey: "collect", Args: argsOf(new(int), `{"uid":`), Max: 1, At: at}); err == nil {
			t.Fatal("malformed args accepted")
		}
		if _, err := models.ProduceRuns(ctx, db, models.Produce{TaskID: target, TaskKey: "collect", Args: argsOf(new(int)), Max: 0, At: at}); err == nil {
			t.Fatal("max 0 accepted")
		}
	})
}

// A retry of a produced run runs with its first attempt's args; a row no
// producer made has none.
func TestProducedArgs(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		target := insertTarget(t, db)
		if _, err := models.ProduceRuns(ctx, db, models.Produce{TaskID: target, TaskKey: "collect", Args: argsOf(new(int), `{"uid":1}`), Max: 1, At: at}); err != nil {
			t.Fatal(err)
		}
		runs, err := models.ListRuns(ctx, db, target, 10)
		if err != nil {
			t.Fatal(err)
		}
		first := runs[0]
		retry := models.ExecuteTask{ID: first.ID + 1, Source: models.SourceRetry, Attempt: 2, Extra: "{}"}
		retry.FirstID.Int64, retry.FirstID.Valid = first.ID, true
		if args, err := models.ProducedArgs(ctx, db, retry); err != nil || string(args) != `{"uid":1}` {
			t.Fatalf("retry: %s, %v", args, err)
		}
		if args, err := models.ProducedArgs(ctx, db, models.ExecuteTask{Source: models.SourceSchedule, Extra: "{}"}); err != nil || args != nil {
			t.Fatalf("scheduled run: %s, %v", args, err)
		}
		retry.FirstID.Int64 = first.ID + 1000
		if _, err := models.ProducedArgs(ctx, db, retry); !errors.Is(err, models.ErrNoProducedArgs) {
			t.Fatalf("retry of a row gone: %v", err)
		}
		if _, err := models.ProducedArgs(ctx, db, models.ExecuteTask{Source: models.SourceProduced, Extra: "{}"}); !errors.Is(err, models.ErrNoProducedArgs) {
			t.Fatalf("produced row without args: %v", err)
		}
	})
}

// A fire time derived from another (a sharded fire's children) is stored
// apart from it on either database: a microsecond is lost on SQLite,
// which keeps milliseconds, and the child's row would take the whole
// second a schedule of the child fires at.
func TestFireAfter_StoredApart(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		id, err := models.InsertTask(ctx, db, models.Task{Key: "fa", Func: "f", Trigger: "interval", Spec: "1", IsValid: 1})
		must(t, err)
		at := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)
		ids, err := models.ClaimRuns(ctx, db, []models.Claim{{TaskID: id, TaskKey: "fa", ScheduledAt: models.FireAfter(db.Dialect(), at), Attempt: 1,
			Source: models.SourceChild, TraceID: "fa-1", StartedAt: at}})
		must(t, err)
		r, err := models.GetRun(ctx, db, ids[0])
		must(t, err)
		if !r.ScheduledAt.Valid || !r.ScheduledAt.Time.After(at) || r.ScheduledAt.Time.After(at.Add(time.Millisecond)) {
			t.Fatalf("stored %v for a fire after %v", r.ScheduledAt.Time, at)
		}
	})
}
