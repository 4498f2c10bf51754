package models_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"

	"taskrunner/libs/sqlitedb"
	"taskrunner/models"
	"taskrunner/models/modelstest"
)

type errorCase struct {
	name                 string
	err                  error
	permanent, transient bool
	number               uint16 // the MySQL error number err must carry, if any
}

func checkErrors(t *testing.T, cases []errorCase) {
	t.Helper()
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error provoked", c.name)
			continue
		}
		var me *mysql.MySQLError
		if c.number != 0 && (!errors.As(c.err, &me) || me.Number != c.number) {
			t.Errorf("%s: provoked %v, want MySQL error %d", c.name, c.err, c.number)
		}
		err := fmt.Errorf("write task 7: %w", c.err) // as callers wrap it
		if got := models.IsPermanent(err); got != c.permanent {
			t.Errorf("%s: IsPermanent(%v) = %v, want %v", c.name, c.err, got, c.permanent)
		}
		if got := models.IsTransient(err); got != c.transient {
			t.Errorf("%s: IsTransient(%v) = %v, want %v", c.name, c.err, got, c.transient)
		}
	}
}

// Errors of a row's values: each provoked on the database, through the
// package's own writes where one can provoke it.
func TestIsPermanent_RowValues(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		id := insertTask(t, db, "k")
		exec := func(query string, args ...any) error {
			_, err := db.ExecContext(ctx, query, args...)
			return err
		}
		y10k := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		at := time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)
		var cases []errorCase
		if db.Dialect().Name == "mysql" {
			y10kParam := models.SetTaskState(ctx, db, []int64{id}, models.TaskState{Status: models.TaskReady, NextFireAt: y10k})
			if me := (*mysql.MySQLError)(nil); errors.As(y10kParam, &me) {
				t.Errorf("a time.Time in year 10000 reached the server: %v", me)
			}
			_, claimY10k := models.ClaimRuns(ctx, db, []models.Claim{{TaskID: id, ScheduledAt: y10k, Attempt: 1, TraceID: "y", Owner: "o", StartedAt: at}})
			cases = []errorCase{
				// A time.Time parameter past 9999 fails in the driver, before the server.
				{"next_fire_at in year 10000, a parameter", y10kParam, true, false, 0},
				// The same time as a literal: MariaDB's 1292.
				{"scheduled_at in year 10000, a literal (1292)", claimY10k, true, false, 1292},
				{"data too long (1406)", exec("UPDATE task SET last_error = ? WHERE id = ?", strings.Repeat("x", 70000), id), true, false, 1406},
				{"incorrect string value (1366)", exec("UPDATE task SET last_error = ? WHERE id = ?", "a\xff\xfeb", id), true, false, 1366},
				{"out of range (1264)", exec("UPDATE task SET is_valid = ? WHERE id = ?", int64(1)<<40, id), true, false, 1264},
				{"column cannot be null (1048)", exec("UPDATE task SET task_key = NULL WHERE id = ?", id), true, false, 1048},
				{"duplicate primary key (1062)", exec("INSERT INTO task (id, task_key, `desc`, execute_func, `trigger`, spec, is_valid, status) VALUES (?, 'k', '', 'f', 'interval', '5', 1, 'ready')", id), true, false, 1062},
			}
		} else {
			var tooBig error
			if _, err := db.ExecContext(ctx, "SELECT zeroblob(2000000000)"); err != nil {
				tooBig = err
			}
			cases = []errorCase{
				{"string or blob too big", tooBig, true, false, 0},
				{"NOT NULL constraint", exec("UPDATE task SET task_key = NULL WHERE id = ?", id), true, false, 0},
				{"duplicate primary key", exec("INSERT INTO task (id, task_key, \"desc\", execute_func, \"trigger\", spec, is_valid, status) VALUES (?, 'k', '', 'f', 'interval', '5', 1, 'ready')", id), true, false, 0},
			}
			// SQLite stores what MySQL refuses: a year past 9999 is text.
			if err := models.SetTaskState(ctx, db, []int64{id}, models.TaskState{Status: models.TaskReady, NextFireAt: y10k}); err != nil {
				t.Errorf("SQLite refused next_fire_at in year 10000: %v", err)
			}
		}
		// A duplicate of the fire key is another claimant's fire: neither.
		fire := "INSERT INTO execute_task (task_id, status, trace_id, scheduled_at, attempt) VALUES (?, 'running', ?, ?, 1)"
		if err := exec(fire, id, "t1", at.Format("2006-01-02 15:04:05")); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, errorCase{"duplicate fire key", exec(fire, id, "t2", at.Format("2006-01-02 15:04:05")), false, false, 0})
		checkErrors(t, cases)
	})
}

// Errors of the database being unreachable, slow or busy: provoked where
// one can, the others as the driver returns them.
func TestIsTransient_Database(t *testing.T) {
	t.Run("mysql", func(t *testing.T) {
		ctx := context.Background()
		cfg := modelstest.EmptyMySQL(t)
		dsn, err := mysql.ParseDSN(cfg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		if dsn.Params == nil {
			dsn.Params = map[string]string{}
		}
		dsn.Params["innodb_lock_wait_timeout"] = "1"
		cfg.DSN = dsn.FormatDSN()
		db := modelstest.Open(t, cfg)
		if _, err := models.Migrate(ctx, db, modelstest.Schema(t)); err != nil {
			t.Fatal(err)
		}
		a, b := insertTask(t, db, "a"), insertTask(t, db, "b")

		dsn.ReadTimeout = 300 * time.Millisecond
		cfg.DSN = dsn.FormatDSN()
		_, readTimeout := modelstest.Open(t, cfg).ExecContext(ctx, "SELECT SLEEP(1)")

		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var connID int64
		if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&connID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, fmt.Sprint("KILL ", connID)); err != nil {
			t.Fatal(err)
		}
		_, killed := conn.ExecContext(ctx, "SELECT 1")
		_ = conn.Close()

		dsn.Addr = "127.0.0.1:1"
		down, err := sqlx.Open("mysql", dsn.FormatDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer down.Close()
		_, refused := down.ExecContext(ctx, "SELECT 1")

		// Lock wait timeout: a transaction holds the row.
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE task SET spec = '6' WHERE id = ?", a); err != nil {
			t.Fatal(err)
		}
		_, lockWait := db.ExecContext(ctx, "UPDATE task SET spec = '7' WHERE id = ?", a)
		_ = tx.Rollback()

		checkErrors(t, []errorCase{
			{"read timeout", readTimeout, false, true, 0},
			{"connection killed", killed, false, true, 0},
			{"connection refused", refused, false, true, 0},
			{"lock wait timeout (1205)", lockWait, false, true, 1205},
			{"deadlock (1213)", deadlock(t, db, a, b), false, true, 1213},
		})
	})
	t.Run("sqlite", func(t *testing.T) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "taskrunner.db")
		raw, err := sqlitedb.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		db, err := models.Open(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := models.Migrate(ctx, db, modelstest.Schema(t)); err != nil {
			t.Fatal(err)
		}
		id := insertTask(t, db, "a")
		// Another process that does not wait for the lock.
		other, err := sqlx.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE task SET spec = '6' WHERE id = ?", id); err != nil {
			t.Fatal(err)
		}
		_, busy := other.ExecContext(ctx, "UPDATE task SET spec = '7' WHERE id = ?", id)
		_ = tx.Rollback()
		checkErrors(t, []errorCase{{"database is locked (SQLITE_BUSY)", busy, false, true, 0}})
	})
	t.Run("returned by drivers", func(t *testing.T) {
		_, dialTimeout := (&net.Dialer{Timeout: time.Nanosecond}).Dial("tcp", "127.0.0.1:3306")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		checkErrors(t, []errorCase{
			{"i/o timeout", dialTimeout, false, true, 0},
			{"bad connection", driver.ErrBadConn, false, true, 0},
			{"server has gone away (2006)", &mysql.MySQLError{Number: 2006}, false, true, 0},
			{"lost connection (2013)", &mysql.MySQLError{Number: 2013}, false, true, 0},
			{"too many connections (1040)", &mysql.MySQLError{Number: 1040}, false, true, 0},
			{"statement deadline", context.DeadlineExceeded, false, true, 0},
			{"foreign key (1452)", &mysql.MySQLError{Number: 1452}, true, false, 0},
			{"foreign key (1451)", &mysql.MySQLError{Number: 1451}, true, false, 0},
			{"invalid JSON (3140)", &mysql.MySQLError{Number: 3140}, true, false, 0},
			{"syntax error (1064): the program's", &mysql.MySQLError{Number: 1064}, false, false, 0},
			{"caller stopping", ctx.Err(), false, false, 0},
		})
	})
}

// deadlock provokes one: two transactions each lock a row the other then
// updates. InnoDB rolls one back with 1213, which it returns.
func deadlock(t *testing.T, db *models.DB, a, b int64) error {
	t.Helper()
	ctx := context.Background()
	tx1, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback()
	tx2, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback()
	for _, s := range []struct {
		tx *models.Tx
		id int64
	}{{tx1, a}, {tx2, b}} {
		if _, err := s.tx.ExecContext(ctx, "UPDATE task SET spec = '8' WHERE id = ?", s.id); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg   sync.WaitGroup
		errs [2]error
	)
	wg.Go(func() { _, errs[0] = tx1.ExecContext(ctx, "UPDATE task SET spec = '9' WHERE id = ?", b) })
	wg.Go(func() { _, errs[1] = tx2.ExecContext(ctx, "UPDATE task SET spec = '9' WHERE id = ?", a) })
	wg.Wait()
	for _, err := range errs {
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1213 {
			return err
		}
	}
	t.Errorf("no deadlock: %v", errs)
	return nil
}
