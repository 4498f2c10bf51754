package kinds

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"taskrunner/libs/mysqlpool"
	"taskrunner/libs/sqlitedb"
	"taskrunner/models/modelstest"
	"taskrunner/tasks"
)

// sqlSetup returns kinds with datasources rw and ro on one database of
// the kind ("mysql" or "sqlite"), holding a table t of three rows, and a
// connection of the test's own to it.
func sqlSetup(t *testing.T, kind string) (*Kinds, *sqlx.DB) {
	t.Helper()
	ctx := context.Background()
	var db *sqlx.DB
	var rw, ro Datasource
	if kind == "mysql" {
		cfg := modelstest.EmptyMySQL(t)
		var err error
		if db, err = mysqlpool.Open(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		rw = Datasource{Driver: "mysql", DSN: cfg.DSN}
		mustExec(t, db, "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL)")
		// A function that writes: the keyword check cannot see into it.
		mustExec(t, db, "CREATE FUNCTION bump() RETURNS INT MODIFIES SQL DATA BEGIN INSERT INTO t (name) VALUES ('bumped'); RETURN 1; END")
	} else {
		path := filepath.Join(t.TempDir(), "data.db")
		var err error
		if db, err = sqlitedb.Open(ctx, path); err != nil {
			t.Fatal(err)
		}
		rw = Datasource{Driver: "sqlite", Path: path}
		mustExec(t, db, "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)")
	}
	t.Cleanup(func() { _ = db.Close() })
	mustExec(t, db, "INSERT INTO t (name) VALUES ('a'), ('b'), ('old')")
	ro = rw
	ro.ReadOnly = true
	k, _ := setup(t, func(c *Config) {
		c.SQL.Datasources = map[string]Datasource{"rw": rw, "ro": ro}
	})
	return k, db
}

func mustExec(t *testing.T, db *sqlx.DB, stmt string) {
	t.Helper()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func count(t *testing.T, db *sqlx.DB) int {
	t.Helper()
	var n int
	if err := db.Get(&n, "SELECT COUNT(*) FROM t"); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestKinds_SQL(t *testing.T) {
	modelstest.EachKind(t, func(t *testing.T, kind string) {
		k, db := sqlSetup(t, kind)
		ctx := context.Background()
		sqlRun := func(ds, stmt string, args ...any) (*tasks.Run, error) {
			run := newRun(t, "sql", map[string]any{"datasource": ds, "statement": stmt}, nil)
			return run, k.SQL(ctx, run, SQLArgs(args))
		}

		// Parameters are bound, never spliced into the statement.
		nasty := "x'); DROP TABLE t; -- $(id) `id`"
		run, err := sqlRun("rw", "INSERT INTO t (name) VALUES (?), (?)", nasty, int64(7))
		if err != nil || !strings.Contains(run.OutputText(), "rows affected: 2\n") {
			t.Fatalf("insert: %v\n%s", err, run.OutputText())
		}
		var name string
		if err := db.Get(&name, "SELECT name FROM t WHERE id = 4"); err != nil || name != nasty {
			t.Fatalf("stored %q, %v", name, err)
		}
		run, err = sqlRun("rw", "DELETE FROM t WHERE name IN (?, ?)", "old", "7")
		if err != nil || !strings.Contains(run.OutputText(), "rows affected: 2\n") || count(t, db) != 3 {
			t.Fatalf("delete: %v\n%s", err, run.OutputText())
		}
		run, err = sqlRun("ro", "SELECT id, name FROM t WHERE id <= ? ORDER BY id -- DELETE all", 2)
		if err != nil || !strings.Contains(run.OutputText(), "rows: 2\nid\tname\n1\ta\n2\tb\n") {
			t.Fatalf("select: %v\n%s", err, run.OutputText())
		}
		run, err = sqlRun("ro", "SELECT REPLACE(name, 'a', 'z'), 'DELETE FROM t; DROP' FROM t WHERE id = 1;")
		if err != nil || !strings.Contains(run.OutputText(), "z\tDELETE FROM t; DROP\n") {
			t.Fatalf("select with a function named like a write: %v\n%s", err, run.OutputText())
		}
		k.cfg.SQL.MaxRows = 1
		if run, err = sqlRun("rw", "SELECT name FROM t ORDER BY id"); err != nil || !strings.Contains(run.OutputText(), "rows: 3\nname\na\n... 2 more rows\n") {
			t.Fatalf("max_rows: %v\n%s", err, run.OutputText())
		}

		// The bad-input table: each refused, not retried, nothing written.
		for _, c := range []struct {
			ds, stmt string
			args     []any
			want     error
			msg      string
		}{
			{"nope", "SELECT 1", nil, ErrUnknownDatasource, `unknown datasource "nope" in key "datasource": config sql.datasources has "ro", "rw"`},
			{"", "SELECT 1", nil, ErrBadExtra, `keys "datasource" and "statement" are required`},
			{"rw", " ", nil, ErrBadExtra, `keys "datasource" and "statement" are required`},
			{"rw", "SELECT 1; DELETE FROM t", nil, ErrBadExtra, `one statement only, found DELETE after ";"`},
			{"ro", "DELETE FROM t", nil, ErrReadOnly, `write to a read-only datasource "ro": a statement starting with DELETE may write`},
			{"ro", "insert into t (name) values ('x')", nil, ErrReadOnly, "starting with INSERT"},
			{"ro", "UPDATE t SET name = 'x'", nil, ErrReadOnly, "starting with UPDATE"},
			{"ro", "CREATE TABLE u (id INT)", nil, ErrReadOnly, "starting with CREATE"},
			{"ro", "DROP TABLE t", nil, ErrReadOnly, "starting with DROP"},
			{"ro", "  /* hi */ TRUNCATE t", nil, ErrReadOnly, "starting with TRUNCATE"},
			{"ro", "WITH c AS (SELECT 1) DELETE FROM t", nil, ErrReadOnly, "contains DELETE"},
			{"ro", "SELECT * FROM t FOR UPDATE", nil, ErrReadOnly, "contains UPDATE"},
			{"ro", "SELECT name INTO @x FROM t LIMIT 1", nil, ErrReadOnly, "contains INTO"},
			{"ro", "SELECT 1 -- '\nINTO OUTFILE '/tmp/x'", nil, ErrReadOnly, "contains INTO"},
			{"ro", "SELECT `a`, \"b\", 'c\\' INSERT' FROM t", nil, ErrReadOnly, ""}, // \' ends no string in SQLite; MySQL reads it as one
		} {
			before := count(t, db)
			_, err := sqlRun(c.ds, c.stmt, c.args...)
			if c.msg == "" {
				if kind == "sqlite" && !errors.Is(err, ErrReadOnly) {
					t.Errorf("%s: %v, want refused on sqlite", c.stmt, err)
				}
				continue
			}
			if !errors.Is(err, c.want) || !errors.Is(err, tasks.ErrNoRetry) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s %q: err = %v\nwant %v with %q, not retried", c.ds, c.stmt, err, c.want, c.msg)
			}
			if count(t, db) != before {
				t.Errorf("%s: rows written", c.stmt)
			}
		}

		// What the keyword check lets through, the database refuses.
		if kind == "mysql" {
			_, err = sqlRun("ro", "SELECT bump()")
		} else {
			var pool *sqlx.DB
			if pool, err = k.pool(ctx, "ro", k.cfg.SQL.Datasources["ro"]); err != nil {
				t.Fatal(err)
			}
			_, err = pool.Exec("DELETE FROM t")
			if refusedWrite(err) {
				err = ErrReadOnly
			}
		}
		if !errors.Is(err, ErrReadOnly) || count(t, db) != 3 {
			t.Errorf("a write past the keyword check: %v, %d rows", err, count(t, db))
		}
		if kind == "mysql" {
			if _, err := sqlRun("rw", "SELECT bump()"); err != nil || count(t, db) != 4 {
				t.Errorf("bump on rw: %v, %d rows", err, count(t, db))
			}
		}
	})
}

func TestScanSQL(t *testing.T) {
	for _, c := range []struct {
		stmt, driver, want string
	}{
		{"select a, 'x;y' from `t;` -- drop\n where b = \"c\"", "mysql", "SELECT A FROM WHERE B"}, // `t;` is a name,
		{"SELECT 1 # ' hidden\n, 2", "mysql", "SELECT 1 2"},
		{"SELECT 1 # ' not a comment in sqlite\n, 2", "sqlite", "SELECT 1"},
		{"/*!50000 DELETE */ SELECT", "mysql", "50000 DELETE SELECT"},
		{"/*+ hint */ SELECT", "sqlite", "SELECT"},
		{"SELECT [a'b] FROM t", "sqlite", "SELECT FROM T"},
		{"SELECT 'it''s', 'a\\'b' , c", "mysql", "SELECT C"},
		{"SELECT 1--1", "mysql", "SELECT 1 1"},
	} {
		var got []string
		for _, tok := range scanSQL(c.stmt, c.driver) {
			if tok != "(" {
				got = append(got, string(tok))
			}
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("scanSQL(%q, %s) = %q, want %q", c.stmt, c.driver, strings.Join(got, " "), c.want)
		}
	}
}
