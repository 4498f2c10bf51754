package kinds

import (
	"context"
	"errors"
	"strings"
	"testing"

	"taskrunner/models"
	"taskrunner/models/modelstest"
	"taskrunner/tasks"
)

// produceSetup is sqlSetup with a task database of the same kind, holding
// the target rows collect (no args), collect_eu (named args), disabled
// and positional; it returns the id of collect.
func produceSetup(t *testing.T, kind string) (*Kinds, *models.DB, int64) {
	t.Helper()
	k, _ := sqlSetup(t, kind)
	if kind == "mysql" {
		k.taskDB = modelstest.MySQL(t)
	} else {
		k.taskDB = modelstest.SQLite(t)
	}
	var collect int64
	for _, row := range []models.Task{
		{Key: "collect", IsValid: 1},
		{Key: "collect_eu", IsValid: 1, Args: `{"region":"eu"}`},
		{Key: "disabled", IsValid: 0},
		{Key: "positional", IsValid: 1, Args: "1,2"},
	} {
		row.Func, row.Trigger, row.Spec = "collect", "interval", "3600"
		id, err := models.InsertTask(context.Background(), k.taskDB, row)
		if err != nil {
			t.Fatal(err)
		}
		if row.Key == "collect" {
			collect = id
		}
	}
	return k, k.taskDB, collect
}

// producedArgs returns the args of the target's pending produced rows, in
// id order, and checks that each names its producer run.
func producedArgs(t *testing.T, db *models.DB, taskID int64) []string {
	t.Helper()
	runs, err := models.ListRuns(context.Background(), db, taskID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(runs) - 1; i >= 0; i-- { // ListRuns is newest first
		r := runs[i]
		if r.Status != models.RunPending {
			continue
		}
		if r.Source != models.SourceProduced || !strings.Contains(r.Extra, `"producer_run":42`) || !strings.Contains(r.Extra, `"producer_task":"users"`) {
			t.Fatalf("produced row %+v", r)
		}
		args, err := models.ProducedArgs(context.Background(), db, r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(args))
	}
	return out
}

func TestKinds_SQLProduce(t *testing.T) {
	modelstest.EachKind(t, func(t *testing.T, kind string) {
		k, db, collect := produceSetup(t, kind)
		ctx := context.Background()
		produce := func(extra map[string]any, args ...any) (string, error) {
			t.Helper()
			extra["target"] = cmpOr(extra["target"], "collect")
			extra["datasource"] = cmpOr(extra["datasource"], "ro")
			run := newRun(t, "users", extra, nil)
			err := k.SQLProduce(ctx, run, SQLArgs(args))
			return run.OutputText(), err
		}

		// One run per row, the row as named args; numbers stay numbers,
		// with parameters or without.
		out, err := produce(map[string]any{"query": "SELECT id, name FROM t WHERE name <> ? ORDER BY id"}, "old")
		if err != nil || !strings.Contains(out, "produced: 2\ndeduplicated: 0 (still queued)\ncut off: no (max_rows 1000)") {
			t.Fatalf("first run: %v\n%s", err, out)
		}
		if got := strings.Join(producedArgs(t, db, collect), " "); got != `{"id":1,"name":"a"} {"id":2,"name":"b"}` {
			t.Fatalf("produced %s", got)
		}

		// Rows still queued are not enqueued again.
		out, err = produce(map[string]any{"query": "SELECT id, name FROM t ORDER BY id"})
		if err != nil || !strings.Contains(out, "produced: 1\ndeduplicated: 2 (still queued)") {
			t.Fatalf("second run: %v\n%s", err, out)
		}
		if got := producedArgs(t, db, collect); len(got) != 3 || got[2] != `{"id":3,"name":"old"}` {
			t.Fatalf("produced %s", got)
		}

		// The bound: max_rows runs, and the output says it cut them off.
		modelstest.Exec(t, db, "UPDATE execute_task SET status = 'success'")
		out, err = produce(map[string]any{"query": "SELECT id, name FROM t ORDER BY id", "max_rows": 2})
		if err != nil || !strings.Contains(out, "produced: 2\n") || !strings.Contains(out, "cut off: yes, at max_rows 2") {
			t.Fatalf("bounded run: %v\n%s", err, out)
		}

		// The target's named args come first in its runs; the row's columns
		// follow (the engine joins them).
		out, err = produce(map[string]any{"query": "SELECT 7 AS uid", "target": "collect_eu"})
		if err != nil || !strings.Contains(out, "target: collect_eu") {
			t.Fatalf("collect_eu: %v\n%s", err, out)
		}
	})
}

// Input sql_produce cannot use fails the run, not retried, naming the key
// and value.
func TestKinds_SQLProduceBadInput(t *testing.T) {
	modelstest.EachKind(t, func(t *testing.T, kind string) {
		k, db, collect := produceSetup(t, kind)
		ctx := context.Background()
		for _, c := range []struct {
			name  string
			extra map[string]any
			is    error
			want  string
		}{
			{"no target", map[string]any{"datasource": "ro", "query": "SELECT 1"}, ErrBadExtra, `keys "datasource", "query" and "target" are required`},
			{"unknown target", map[string]any{"datasource": "ro", "query": "SELECT 1", "target": "nope"}, ErrBadTarget, `bad target task "nope" in key "target": no task row has that key`},
			{"disabled target", map[string]any{"datasource": "ro", "query": "SELECT 1", "target": "disabled"}, ErrBadTarget, `"disabled" in key "target": its row (id 3) is disabled (is_valid = 0)`},
			{"positional target", map[string]any{"datasource": "ro", "query": "SELECT 1", "target": "positional"}, ErrBadTarget, `has args "1,2"`},
			{"itself", map[string]any{"datasource": "ro", "query": "SELECT 1", "target": "users"}, ErrBadTarget, `"users" in key "target": a task cannot produce runs of itself`},
			{"unknown datasource", map[string]any{"datasource": "nope", "query": "SELECT 1", "target": "collect"}, ErrUnknownDatasource, `unknown datasource "nope" in key "datasource"`},
			{"write on read-only", map[string]any{"datasource": "ro", "query": "DELETE FROM t", "target": "collect"}, ErrReadOnly, `read-only datasource "ro": a statement starting with DELETE may write`},
			{"not a query", map[string]any{"datasource": "rw", "query": "DELETE FROM t", "target": "collect"}, ErrBadExtra, `key "query": want a query that returns rows`},
			{"two statements", map[string]any{"datasource": "rw", "query": "SELECT 1; SELECT 2", "target": "collect"}, ErrBadExtra, `key "query": one statement only`},
			{"max_rows over the cap", map[string]any{"datasource": "ro", "query": "SELECT 1", "target": "collect", "max_rows": 1001}, ErrBadExtra, `key "max_rows": want 1 to 1000 (config sql.produce_max_rows), got 1001`},
			{"max_rows a string", map[string]any{"datasource": "ro", "query": "SELECT 1", "target": "collect", "max_rows": "5"}, ErrBadExtra, `key "max_rows"`},
			{"columns of one name", map[string]any{"datasource": "ro", "query": "SELECT id, id FROM t", "target": "collect"}, ErrBadExtra, `column "id" appears twice`},
		} {
			t.Run(c.name, func(t *testing.T) {
				err := k.SQLProduce(ctx, newRun(t, "users", c.extra, nil), nil)
				if !errors.Is(err, c.is) || !errors.Is(err, tasks.ErrNoRetry) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("got %v, want %v with %q", err, c.is, c.want)
				}
			})
		}
		if runs, err := models.ListRuns(ctx, db, collect, 10); err != nil || len(runs) != 0 {
			t.Fatalf("bad input enqueued %d runs (%v)", len(runs), err)
		}
	})
}

func cmpOr(v any, def string) any {
	if v == nil {
		return def
	}
	return v
}
