package models_test

// Regression tests for issue 9 at the models level. Each asserts the
// behaviour the issue asks for and fails on the code as it was when the
// issue was filed; the comment above each says what it does instead.

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

// originalDB returns a MySQL database made by the original framework's
// DDL (models/testdata/original.sql, with its three sample rows), not
// yet migrated.
func originalDB(t *testing.T) *models.DB {
	t.Helper()
	db := modelstest.Open(t, modelstest.EmptyMySQL(t))
	ddl, err := os.ReadFile("testdata/original.sql")
	if err != nil {
		t.Fatal(err)
	}
	modelstest.Exec(t, db, string(ddl))
	return db
}

func insertWithStatus(t *testing.T, db *models.DB, key, status string) int64 {
	t.Helper()
	id, err := models.InsertTask(context.Background(), db, models.Task{
		Key: key, Desc: key, Func: "f", Trigger: "interval", Spec: "5", IsValid: 1, Status: status,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Defect 5 (issue 9): writes silently dropped on UNIQUE(task_key,
// status). A database migrated from the original DDL keeps that index,
// and schema.sql still declares it, so fresh MySQL and SQLite databases
// have it too.
//
// Two rows share a task_key with different statuses (the index lets them
// in); the engine's writes give one row the status the other has.
//
// Asserts, for SetTaskState, MarkTasksFired and FinishTaskRun: no write
// is silently dropped. Either the call returns an error, or the row says
// what was written.
//
// Today: the writes are UPDATE IGNORE (UPDATE OR IGNORE on SQLite): the
// colliding row is skipped, the call returns nil, and the row keeps its
// old status, applied_spec, sched_error, last_fire_at and last_status.
func TestRegress_NoTaskWriteSilentlyDropped(t *testing.T) {
	cases := map[string]func(t *testing.T) *models.DB{
		"original_ddl": func(t *testing.T) *models.DB {
			db := originalDB(t)
			if _, err := models.Migrate(context.Background(), db, modelstest.Schema(t)); err != nil {
				t.Fatal(err)
			}
			return db
		},
		"mysql":  func(t *testing.T) *models.DB { return modelstest.MySQL(t) },
		"sqlite": func(t *testing.T) *models.DB { return modelstest.SQLite(t) },
	}
	for _, name := range []string{"original_ddl", "mysql", "sqlite"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := cases[name](t)
			at := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)

			// SetTaskState: the sync writes ready to a row that said error,
			// beside a row of the same key that says ready.
			first := insertWithStatus(t, db, "dup_state", models.TaskError)
			insertWithStatus(t, db, "dup_state", models.TaskReady)
			err := models.SetTaskState(ctx, db, []int64{first}, models.TaskState{Status: models.TaskReady, AppliedSpec: "interval 5s", NextFireAt: at})
			if row, _ := models.GetTask(ctx, db, first); err == nil && (row.Status != models.TaskReady || row.AppliedSpec != "interval 5s" || !row.NextFireAt.Valid) {
				t.Errorf("SetTaskState returned nil but the row says status %q applied %q next %v; want ready, interval 5s, %v",
					row.Status, row.AppliedSpec, row.NextFireAt, at)
			}

			// MarkTasksFired: a fire sets doing on a row whose twin says doing.
			fired := insertWithStatus(t, db, "dup_fired", models.TaskReady)
			insertWithStatus(t, db, "dup_fired", models.TaskDoing)
			err = models.MarkTasksFired(ctx, db, []int64{fired}, at, at.Add(time.Minute), true)
			if row, _ := models.GetTask(ctx, db, fired); err == nil && (row.Status != models.TaskDoing || !row.LastFireAt.Valid || !row.LastFireAt.Time.Equal(at)) {
				t.Errorf("MarkTasksFired returned nil but the row says status %q last_fire_at %v; want doing, %v", row.Status, row.LastFireAt, at)
			}

			// FinishTaskRun: a run's end sets ready on a row whose twin says ready.
			doing := insertWithStatus(t, db, "dup_finish", models.TaskDoing)
			insertWithStatus(t, db, "dup_finish", models.TaskReady)
			err = models.FinishTaskRun(ctx, db, doing, models.TaskReady, models.RunSuccess, "")
			if row, _ := models.GetTask(ctx, db, doing); err == nil && (row.Status != models.TaskReady || row.LastStatus != models.RunSuccess) {
				t.Errorf("FinishTaskRun returned nil but the row says status %q last_status %q; want ready, success", row.Status, row.LastStatus)
			}
		})
	}
}

// rebuildIDs is the operator-run step that widens the id columns of a
// database made by the original DDL to schema.sql's types (a table
// rebuild, so not part of Migrate, which runs at every start).
func rebuildIDs(t *testing.T) func(ctx context.Context, db *models.DB) ([]string, error) {
	return func(ctx context.Context, db *models.DB) ([]string, error) {
		return models.Rebuild(ctx, db, modelstest.Schema(t))
	}
}

// Defect 6 (issue 9): execute_task.id stays int(11) after migrating the
// original DDL, while schema.sql says bigint(20): a busy cluster runs out
// of ids after 2^31 runs.
//
// Asserts: after Migrate and the rebuild step, every column of a
// database made by the original DDL has the type schema.sql gives it
// (execute_task.id bigint), and the rows are kept.
//
// Today: there is no rebuild step (the test fails saying so), and
// Migrate alone leaves execute_task.id int(11).
func TestRegress_OriginalIDsWidened(t *testing.T) {
	ctx := context.Background()
	db := originalDB(t)
	if _, err := db.Exec("INSERT INTO execute_task (task_id, status, trace_id) VALUES (1, 'success', 'before-migrate')"); err != nil {
		t.Fatal(err)
	}
	if _, err := models.Migrate(ctx, db, modelstest.Schema(t)); err != nil {
		t.Fatal(err)
	}
	if got := mysqlColumns(t, db)["execute_task.id"].Type; !strings.HasPrefix(got, "bigint") {
		t.Logf("after Migrate alone: execute_task.id is %s", got)
	}
	done, err := rebuildIDs(t)(ctx, db)
	if err != nil {
		t.Fatalf("rebuild: %v (done %q)", err, done)
	}
	t.Logf("rebuild did %q", done)

	got, want := mysqlColumns(t, db), mysqlColumns(t, modelstest.MySQL(t))
	if c := got["execute_task.id"]; !strings.HasPrefix(c.Type, "bigint") {
		t.Errorf("execute_task.id is %s after the rebuild; want bigint", c.Type)
	}
	for name, w := range want {
		if g, ok := got[name]; ok && g.Type != w.Type {
			t.Errorf("column %s is %s after the rebuild; schema.sql says %s", name, g.Type, w.Type)
		}
	}
	var trace string
	if err := db.Get(&trace, "SELECT trace_id FROM execute_task WHERE id = 1"); err != nil || trace != "before-migrate" {
		t.Errorf("run row after the rebuild: %q, %v", trace, err)
	}
	if tasks, err := models.ListTasks(ctx, db); err != nil || len(tasks) != 3 {
		t.Errorf("sample rows after the rebuild: %d, %v", len(tasks), err)
	}
}
