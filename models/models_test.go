package models_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

type columnInfo struct {
	Table    string  `db:"TABLE_NAME"`
	Name     string  `db:"COLUMN_NAME"`
	Type     string  `db:"COLUMN_TYPE"`
	Nullable string  `db:"IS_NULLABLE"`
	Default  *string `db:"COLUMN_DEFAULT"`
}

func mysqlColumns(t *testing.T, db *models.DB) map[string]columnInfo {
	t.Helper()
	var cols []columnInfo
	if err := db.Select(&cols, "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"); err != nil {
		t.Fatal(err)
	}
	out := map[string]columnInfo{}
	for _, c := range cols {
		out[c.Table+"."+c.Name] = c
	}
	return out
}

func mysqlIndexes(t *testing.T, db *models.DB) []string {
	t.Helper()
	var ix []string
	if err := db.Select(&ix, "SELECT DISTINCT CONCAT(TABLE_NAME, '.', INDEX_NAME, ' unique=', 1-NON_UNIQUE) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1"); err != nil {
		t.Fatal(err)
	}
	return ix
}

// A database made by the original framework's DDL, with its sample rows,
// ends up with the same columns and indexes as one made from schema.sql,
// and keeps its rows.
func TestMigrate_OriginalDDL(t *testing.T) {
	ctx := context.Background()
	orig := modelstest.Open(t, modelstest.EmptyMySQL(t))
	ddl, err := os.ReadFile("testdata/original.sql")
	if err != nil {
		t.Fatal(err)
	}
	modelstest.Exec(t, orig, string(ddl))
	origCols := mysqlColumns(t, orig)

	done, err := models.Migrate(ctx, orig, modelstest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 6 || !strings.HasPrefix(done[0], "ALTER TABLE `task` DROP INDEX `ux__task__task_key_status`, ADD COLUMN") ||
		!strings.HasSuffix(done[0], "ADD INDEX `ix__task__task_key` (`task_key`), ADD INDEX `ix__task__update_at` (`update_at`)") ||
		!strings.HasPrefix(done[1], "ALTER TABLE `execute_task`") || done[2] != "create table run_start" || done[3] != "create table replica" ||
		done[4] != "create table audit" || done[5] != "create table worker_token" {
		t.Errorf("want one ALTER per original table (task's dropping the original unique key), run_start, replica, audit and worker_token created, got %q", done)
	}
	again, err := models.Migrate(ctx, orig, modelstest.Schema(t))
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate: %q, %v; want nothing to do", again, err)
	}

	fresh := modelstest.MySQL(t)
	got, want := mysqlColumns(t, orig), mysqlColumns(t, fresh)
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("column %s missing after migrate", name)
			continue
		}
		if _, original := origCols[name]; original {
			continue // the original's own columns keep their types
		}
		if g.Type != w.Type || g.Nullable != w.Nullable || !slices.Equal(ptrSlice(g.Default), ptrSlice(w.Default)) {
			t.Errorf("column %s = %+v, want %+v", name, g, w)
		}
	}
	if g, w := mysqlIndexes(t, orig), mysqlIndexes(t, fresh); !slices.Equal(g, w) {
		t.Errorf("indexes after migrate:\n%q\nwant\n%q", g, w)
	}
	tasks, err := models.ListTasks(ctx, orig)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 3 || tasks[0].Key != "test_interval" || tasks[1].Args != `"guess","hello"` {
		t.Fatalf("sample rows after migrate: %+v", tasks)
	}
}

// The original DDL's UNIQUE (task_key, status) is gone after migrating,
// on MySQL and SQLite: two rows of one key and one status can be written
// (the engine refuses the second valid row itself, visibly).
func TestMigrate_OriginalUniqueKeyDropped(t *testing.T) {
	for _, kind := range []struct{ name, ddl string }{{"mysql", "testdata/original.sql"}, {"sqlite", "testdata/original_sqlite.sql"}} {
		t.Run(kind.name, func(t *testing.T) {
			ctx := context.Background()
			var db *models.DB
			if kind.name == "mysql" {
				db = modelstest.Open(t, modelstest.EmptyMySQL(t))
			} else {
				db = modelstest.EmptySQLite(t)
			}
			ddl, err := os.ReadFile(kind.ddl)
			if err != nil {
				t.Fatal(err)
			}
			modelstest.Exec(t, db, string(ddl))
			if _, err := models.InsertTask(ctx, db, models.Task{Key: "test_interval", Func: "f", Trigger: "interval", Spec: "5", IsValid: 1}); err == nil {
				t.Fatal("the original DDL took a second (test_interval, ready) row: the test proves nothing")
			}
			done, err := models.Migrate(ctx, db, modelstest.Schema(t))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(done, func(s string) bool {
				return strings.Contains(s, "DROP INDEX `ux__task__task_key_status`") || s == `DROP INDEX "ux__task__task_key_status"`
			}) {
				t.Errorf("migrate did not drop the original unique key: %q", done)
			}
			id, err := models.InsertTask(ctx, db, models.Task{Key: "test_interval", Func: "f", Trigger: "interval", Spec: "5", IsValid: 1})
			if err != nil {
				t.Fatalf("a second row of key test_interval, status ready: %v", err)
			}
			// The engine's write of a status another row of the key has.
			if err := models.SetTaskState(ctx, db, []int64{1, id}, models.TaskState{Status: models.TaskError, SchedError: "column task_key: taken"}); err != nil {
				t.Fatalf("both rows of one key set to one status: %v", err)
			}
			var n int
			if err := db.Get(&n, "SELECT COUNT(*) FROM task WHERE task_key = 'test_interval' AND status = 'error'"); err != nil || n != 2 {
				t.Fatalf("%d rows of the key in status error, %v; want 2", n, err)
			}
		})
	}
}

func ptrSlice(p *string) []string {
	if p == nil {
		return nil
	}
	return []string{*p}
}

func TestMigrate_SQLiteIdempotent(t *testing.T) {
	db := modelstest.SQLite(t)
	done, err := models.Migrate(context.Background(), db, modelstest.Schema(t))
	if err != nil || len(done) != 0 {
		t.Fatalf("second migrate: %q, %v; want nothing to do", done, err)
	}
}

// sqliteLayout lists an SQLite database's columns (with type, NOT NULL,
// default and primary key), indexes and triggers, one string each.
func sqliteLayout(t *testing.T, db *models.DB) []string {
	t.Helper()
	var out []string
	err := db.Select(&out, `SELECT m.name || '.' || c.name || ' ' || c.type || ' notnull=' || c."notnull" || ' default=' || COALESCE(c.dflt_value, '-') || ' pk=' || c.pk
		FROM sqlite_master m JOIN pragma_table_info(m.name) c WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
		UNION ALL SELECT type || ' ' || tbl_name || '.' || name FROM sqlite_master WHERE type IN ('index', 'trigger') AND name NOT LIKE 'sqlite_%'
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// An SQLite database of the original layout gets the columns, indexes and
// triggers of schema_sqlite.sql, and keeps its rows.
func TestMigrate_SQLiteOriginal(t *testing.T) {
	ctx := context.Background()
	orig := modelstest.EmptySQLite(t)
	ddl, err := os.ReadFile("testdata/original_sqlite.sql")
	if err != nil {
		t.Fatal(err)
	}
	modelstest.Exec(t, orig, string(ddl))
	done, err := models.Migrate(ctx, orig, modelstest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(done, `ALTER TABLE task ADD COLUMN "next_fire_at" DATETIME`) || !slices.Contains(done, "create table run_start") ||
		!slices.ContainsFunc(done, func(s string) bool { return strings.HasPrefix(s, "CREATE TRIGGER IF NOT EXISTS task_update_at") }) {
		t.Errorf("migrate did %q", done)
	}
	again, err := models.Migrate(ctx, orig, modelstest.Schema(t))
	if err != nil || len(again) != 0 {
		t.Fatalf("second migrate: %q, %v; want nothing to do", again, err)
	}
	// The original's own create_at and update_at keep their default
	// (CURRENT_TIMESTAMP); all else is as on a new database.
	own := func(c string) bool { return strings.Contains(c, ".create_at ") || strings.Contains(c, ".update_at ") }
	got := slices.DeleteFunc(sqliteLayout(t, orig), own)
	want := slices.DeleteFunc(sqliteLayout(t, modelstest.SQLite(t)), own)
	if !slices.Equal(got, want) {
		t.Errorf("layout after migrate:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tasks, err := models.ListTasks(ctx, orig)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 3 || tasks[0].Key != "test_interval" || tasks[1].Args != `"guess","hello"` || !tasks[2].UpdateAt.Equal(time.Date(2020, 4, 24, 18, 46, 15, 0, time.UTC)) {
		t.Fatalf("sample rows after migrate: %+v", tasks)
	}
}

func insertTask(t *testing.T, db *models.DB, key string) int64 {
	t.Helper()
	id, err := models.InsertTask(context.Background(), db, models.Task{
		Key: key, Desc: key, Func: "f", Trigger: "interval", Spec: "5", IsValid: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Two claimants asking for the same fires: each fire goes to exactly one.
func TestClaimRuns(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a, b := insertTask(t, db, "a"), insertTask(t, db, "b")
		at := time.Date(2026, 1, 1, 0, 0, 5, 123456000, time.UTC)
		claims := func(owner string) []models.Claim {
			var cs []models.Claim
			for _, id := range []int64{a, b} {
				cs = append(cs, models.Claim{TaskID: id, ScheduledAt: at, Attempt: 1, Source: models.SourceSchedule,
					TraceID: owner + modelstestID(id), Owner: owner, StartedAt: at})
			}
			return cs
		}
		first, err := models.ClaimRuns(ctx, db, claims("one"))
		if err != nil {
			t.Fatal(err)
		}
		second, err := models.ClaimRuns(ctx, db, claims("two"))
		if err != nil {
			t.Fatal(err)
		}
		if first[0] == 0 || first[1] == 0 || second[0] != 0 || second[1] != 0 {
			t.Fatalf("first claimant got %v, second %v; want all to the first", first, second)
		}
		stale, err := models.FinishRun(ctx, db, models.Outcome{ID: first[0], Owner: "two", Attempt: 1, Finish: models.Finish{Status: models.RunFailed, FinishedAt: at}})
		if err != nil || stale {
			t.Fatalf("finish by a claimant that does not own the run: %v %v; want no change", stale, err)
		}
		ok, err := models.FinishRun(ctx, db, models.Outcome{ID: first[0], Owner: "one", Attempt: 1, Finish: models.Finish{Status: models.RunSuccess, Output: "hi", FinishedAt: at.Add(time.Second), Duration: time.Second}})
		if err != nil || !ok {
			t.Fatalf("finish: %v %v", ok, err)
		}
		again, err := models.FinishRun(ctx, db, models.Outcome{ID: first[0], Owner: "one", Attempt: 1, Finish: models.Finish{Status: models.RunFailed, FinishedAt: at}})
		if err != nil || again {
			t.Fatalf("finishing a finished run: %v %v; want no change", again, err)
		}
		runs, err := models.ListRuns(ctx, db, a, 10)
		if err != nil || len(runs) != 1 {
			t.Fatalf("runs %+v %v", runs, err)
		}
		r := runs[0]
		if r.Status != models.RunSuccess || r.Output != "hi" || !r.ScheduledAt.Time.Equal(at.Truncate(time.Millisecond)) && !r.ScheduledAt.Time.Equal(at) || r.DurationMS.Int64 != 1000 {
			t.Fatalf("run row %+v", r)
		}
	})
}

func modelstestID(id int64) string { return time.Unix(id, 0).UTC().Format("150405") }

// The engine's own writes leave update_at alone, so a sync only sees
// edits of the definition.
func TestEngineWritesKeepUpdateAt(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		id := insertTask(t, db, "k")
		// Age the row so a moved update_at would show.
		if _, err := db.Exec("UPDATE task SET update_at = '2020-01-01 00:00:00' WHERE id = ?", id); err != nil {
			t.Fatal(err)
		}
		before, _ := models.GetTask(ctx, db, id)
		now := time.Now().UTC()
		if err := models.SetTaskState(ctx, db, []int64{id}, models.TaskState{Status: models.TaskReady, AppliedSpec: "interval 5s", NextFireAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := models.MarkTasksFired(ctx, db, []int64{id}, now, now.Add(5*time.Second), true); err != nil {
			t.Fatal(err)
		}
		if err := models.FinishTaskRun(ctx, db, id, models.TaskReady, models.RunSuccess, ""); err != nil {
			t.Fatal(err)
		}
		after, _ := models.GetTask(ctx, db, id)
		if !after.UpdateAt.Equal(before.UpdateAt) {
			t.Fatalf("update_at moved from %v to %v", before.UpdateAt, after.UpdateAt)
		}
		if after.AppliedSpec != "interval 5s" || after.Status != models.TaskReady || after.LastStatus != models.RunSuccess || !after.LastFireAt.Valid {
			t.Fatalf("state not written: %+v", after)
		}
		changed, err := models.ListTasksUpdatedSince(ctx, db, before.UpdateAt.Add(time.Second))
		if err != nil || len(changed) != 0 {
			t.Fatalf("changed since: %d rows, %v", len(changed), err)
		}
		// A user's edit moves it.
		if _, err := db.Exec("UPDATE task SET spec = '10' WHERE id = ?", id); err != nil {
			t.Fatal(err)
		}
		changed, err = models.ListTasksUpdatedSince(ctx, db, before.UpdateAt.Add(time.Second))
		if err != nil || len(changed) != 1 {
			t.Fatalf("after an edit, changed since: %d rows, %v", len(changed), err)
		}
		st, err := models.GetTaskStats(ctx, db)
		if err != nil || st.Count != 1 || st.Now.Sub(time.Now()).Abs() > time.Minute {
			t.Fatalf("stats %+v %v", st, err)
		}
	})
}

// A replica records the runs it lets go in one run_start row; which runs
// of a dead replica started is read back from it, and the rows go once
// their runs are recorded.
func TestRunStart(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		at := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)
		ids := []int64{7, 3, 4, 5, 12, 9, 10, 11, 5}
		register(t, db, "a", models.KindReplica, at)
		register(t, db, "b", models.KindReplica, at)
		first, ok, err := models.StartRuns(ctx, db, "a", ids, at)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		var stored string
		if err := db.Get(&stored, "SELECT run_ids FROM run_start WHERE id = ?", first); err != nil || stored != "3-5,7,9-12" {
			t.Fatalf("run_ids %q, %v", stored, err)
		}
		if _, ok, err := models.StartRuns(ctx, db, "b", []int64{6}, at); err != nil || !ok {
			t.Fatal(ok, err)
		}
		got, err := models.StartedRuns(ctx, db, "a", []int64{2, 3, 5, 6, 8, 9, 12, 13})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int64]time.Time{3: at, 5: at, 9: at, 12: at}; !maps.EqualFunc(got, want, time.Time.Equal) {
			t.Fatalf("started of a: %v, want %v", got, want)
		}
		if got, _ := models.StartedRuns(ctx, db, "b", []int64{5, 6}); len(got) != 1 || !got[6].Equal(at) {
			t.Fatalf("started of b: %v", got)
		}

		// b still has a running row: its run_start row stays; a's goes.
		task := insertTask(t, db, "k")
		if _, err := models.ClaimRuns(ctx, db, []models.Claim{{TaskID: task, ScheduledAt: at, Attempt: 1, TraceID: "t1", Owner: "b", StartedAt: at}}); err != nil {
			t.Fatal(err)
		}
		if err := models.ForgetRunStarts(ctx, db); err != nil {
			t.Fatal(err)
		}
		var owners []string
		if err := db.Select(&owners, "SELECT owner FROM run_start ORDER BY owner"); err != nil || !slices.Equal(owners, []string{"b"}) {
			t.Fatalf("left: %v %v", owners, err)
		}
		if err := models.EndRunStart(ctx, db, first); err != nil {
			t.Fatal(err)
		}
	})
}

// Outcomes are written in one statement per batch; a row closed meanwhile
// (lost, cancelled) keeps what it says.
func TestFinishRuns(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a, b := insertTask(t, db, "a"), insertTask(t, db, "b")
		at := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)
		ids, err := models.ClaimRuns(ctx, db, []models.Claim{
			{TaskID: a, ScheduledAt: at, Attempt: 1, TraceID: "ta", Owner: "o", StartedAt: at},
			{TaskID: b, ScheduledAt: at, Attempt: 1, TraceID: "tb", Owner: "o", StartedAt: at},
		})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := models.CloseRun(ctx, db, ids[1], models.RunRunning, models.RunLost, "gone", at, time.Time{}); !ok || err != nil {
			t.Fatalf("close: %v %v", ok, err)
		}
		err = models.FinishRuns(ctx, db, []models.Outcome{
			{ID: ids[1], TaskID: b, TraceID: "tb", Owner: "o", Attempt: 1, Finish: models.Finish{Status: models.RunSuccess, StartedAt: at, FinishedAt: at.Add(time.Second), Duration: time.Second}},
			{ID: ids[0], TaskID: a, TraceID: "ta", Owner: "o", Attempt: 1, Finish: models.Finish{Status: models.RunFailed, Error: "it broke", Output: "out", StartedAt: at.Add(time.Millisecond), FinishedAt: at.Add(2 * time.Second), Duration: 2 * time.Second}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ra, _ := models.GetRun(ctx, db, ids[0])
		rb, _ := models.GetRun(ctx, db, ids[1])
		if ra.Status != models.RunFailed || ra.Error != "it broke" || ra.Output != "out" || ra.DurationMS.Int64 != 2000 ||
			!ra.StartedAt.Time.Equal(at.Add(time.Millisecond)) || ra.TraceID != "ta" || ra.TaskID != a {
			t.Fatalf("finished row %+v", ra)
		}
		if rb.Status != models.RunLost || rb.Error != "gone" || rb.StartedAt.Valid {
			t.Fatalf("closed row changed: %+v", rb)
		}
		var n int
		if err := db.Get(&n, "SELECT COUNT(*) FROM execute_task"); err != nil || n != 2 {
			t.Fatalf("%d rows, %v", n, err)
		}
	})
}

// Text in a claim or an outcome is stored as given, whatever it holds:
// plain words go in as literals, anything else as parameters.
func TestClaimText(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		at := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)
		keys := []string{"plain_key-1.2:x/y@z", `it's a \ key`, "x'); DROP TABLE task; --", "任务 每天", ""}
		var claims []models.Claim
		for i, k := range keys {
			claims = append(claims, models.Claim{TaskID: insertTask(t, db, fmt.Sprint("k", i)), TaskKey: k, ScheduledAt: at, Attempt: 1,
				TraceID: fmt.Sprint("trace'", i), Owner: `own"er`, Host: "host\\1", Source: models.SourceSchedule, StartedAt: at})
		}
		ids, err := models.ClaimRuns(ctx, db, claims)
		if err != nil {
			t.Fatal(err)
		}
		var outs []models.Outcome
		for i, id := range ids {
			outs = append(outs, models.Outcome{ID: id, TaskID: claims[i].TaskID, TraceID: claims[i].TraceID, Owner: claims[i].Owner, Attempt: 1,
				Finish: models.Finish{Status: models.RunFailed, Error: keys[i], Output: "out: " + keys[i], FinishedAt: at}})
		}
		if err := models.FinishRuns(ctx, db, outs); err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			r, err := models.GetRun(ctx, db, id)
			if err != nil {
				t.Fatal(err)
			}
			if r.TaskKey != keys[i] || r.TraceID != claims[i].TraceID || r.Owner != `own"er` || r.Host != "host\\1" ||
				string(r.Error) != keys[i] || string(r.Output) != "out: "+keys[i] || r.Status != models.RunFailed {
				t.Errorf("row %d: %+v", i, r)
			}
		}
	})
}

// A database migrated from the original DDL keeps execute_task.id
// int(11): PendingRebuilds names the ALTER that widens it, Rebuild runs
// it, and the rows stay.
func TestRebuild_OriginalDDL(t *testing.T) {
	ctx := context.Background()
	db := modelstest.Open(t, modelstest.EmptyMySQL(t))
	ddl, err := os.ReadFile("testdata/original.sql")
	if err != nil {
		t.Fatal(err)
	}
	modelstest.Exec(t, db, string(ddl))
	if _, err := models.Migrate(ctx, db, modelstest.Schema(t)); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)
	ids, err := models.ClaimRuns(ctx, db, []models.Claim{
		{TaskID: 1, TaskKey: "test_interval", ScheduledAt: at, Attempt: 1, TraceID: "t1", Owner: "o", StartedAt: at},
		{TaskID: 2, TaskKey: "test_date", ScheduledAt: at, Attempt: 1, TraceID: "t2", Owner: "o", StartedAt: at},
	})
	if err != nil {
		t.Fatal(err)
	}
	dataType := func() string {
		var typ string
		if err := db.Get(&typ, "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'execute_task' AND COLUMN_NAME = 'id'"); err != nil {
			t.Fatal(err)
		}
		return typ
	}
	if typ := dataType(); typ != "int" {
		t.Fatalf("execute_task.id is %s after Migrate; Migrate must not rebuild", typ)
	}

	pending, err := models.PendingRebuilds(ctx, db, modelstest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || !strings.HasPrefix(pending[0], "ALTER TABLE `execute_task` MODIFY COLUMN `id` bigint(20) NOT NULL AUTO_INCREMENT") {
		t.Fatalf("pending rebuilds %q; want execute_task.id widened, alone", pending)
	}
	done, err := models.Rebuild(ctx, db, modelstest.Schema(t))
	if err != nil || !slices.Equal(done, pending) {
		t.Fatalf("rebuild did %q, %v; want %q", done, err, pending)
	}
	if typ := dataType(); typ != "bigint" {
		t.Fatalf("execute_task.id is %s after Rebuild", typ)
	}
	for i, id := range ids {
		r, err := models.GetRun(ctx, db, id)
		if err != nil || r.TraceID != fmt.Sprint("t", i+1) {
			t.Fatalf("run %d after rebuild: %+v, %v", id, r, err)
		}
	}
	if again, err := models.PendingRebuilds(ctx, db, modelstest.Schema(t)); err != nil || len(again) != 0 {
		t.Fatalf("pending after rebuild: %q, %v", again, err)
	}
	// A new database, on either kind, has nothing to rebuild.
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		if p, err := models.PendingRebuilds(ctx, db, modelstest.Schema(t)); err != nil || len(p) != 0 {
			t.Fatalf("pending on a new database: %q, %v", p, err)
		}
	})
}
