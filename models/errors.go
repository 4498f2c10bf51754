package models

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
)

var (
	// ErrTaskNotFound is returned when a task row does not exist.
	ErrTaskNotFound = errors.New("task not found")
	// ErrUnsupportedDriver is returned for a database driver other than mysql or sqlite.
	ErrUnsupportedDriver = errors.New("unsupported database driver")
	// ErrTokenRefused is returned when a worker registers with a missing,
	// unknown or revoked token.
	ErrTokenRefused = errors.New("worker token refused")
	// ErrTokenNotFound is returned for a worker token name without a row.
	ErrTokenNotFound = errors.New("worker token not found")
	// ErrTokenExists is returned when a worker token name is taken,
	// revoked tokens included.
	ErrTokenExists = errors.New("worker token name already exists")
	// ErrNoProducedArgs is returned for a produced run whose args cannot
	// be read: its extra is not what ProduceRuns wrote, or (for a retry)
	// its first attempt's row is gone.
	ErrNoProducedArgs = errors.New("produced args not found")
)

// IsConflict reports whether err is a transient conflict between
// concurrent writers (a deadlock, a lock wait timeout, SQLite busy), after
// which the same statement may simply be run again.
func IsConflict(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}

// mysqlPermanent are the MySQL/MariaDB errors that say a value of the
// statement cannot be stored: run again, it fails again.
var mysqlPermanent = map[uint16]bool{
	1048: true, // column cannot be null
	1062: true, // duplicate entry (but see fireKey)
	1264: true, // out of range value
	1265: true, // data truncated
	1292: true, // incorrect datetime (or other) value: a year past 9999 written as a literal
	1364: true, // field has no default value
	1366: true, // incorrect string value: bad UTF-8
	1406: true, // data too long
	1451: true, // a foreign key refers to the row
	1452: true, // a foreign key finds no row
	1690: true, // value out of range in an expression
	3140: true, // invalid JSON (MySQL)
	3819: true, // check constraint violated (MySQL)
	4025: true, // CONSTRAINT failed (MariaDB; its JSON columns are CHECK json_valid)
}

// mysqlTransient are the MySQL/MariaDB errors that say the server could
// not run the statement now.
var mysqlTransient = map[uint16]bool{
	1040: true, // too many connections
	1053: true, // server shutdown in progress
	1203: true, // too many connections for the user
	1205: true, // lock wait timeout
	1213: true, // deadlock
	1317: true, // query interrupted (KILL QUERY)
	1927: true, // connection killed (MariaDB)
	1969: true, // max_statement_time exceeded (MariaDB)
	2006: true, // server has gone away
	2013: true, // lost connection during query
	3024: true, // max_execution_time exceeded (MySQL)
}

// SQLite's primary result codes (modernc.org/sqlite's Error.Code() gives
// the extended code; its low byte is the primary one).
const (
	sqliteBusy       = 5
	sqliteLocked     = 6
	sqliteIOErr      = 10
	sqliteFull       = 13
	sqliteCantOpen   = 14
	sqliteTooBig     = 18
	sqliteConstraint = 19
	sqliteMismatch   = 20
)

// sqliteCode returns the primary result code of an SQLite error.
func sqliteCode(err error) (int, bool) {
	var e interface{ Code() int }
	if errors.As(err, &e) {
		return e.Code() & 0xff, true
	}
	return 0, false
}

// fireKey reports whether err is a duplicate of execute_task's fire key
// (task_id, scheduled_at, attempt): another claimant has that fire. It is
// how the cluster runs each fire once, not a value that cannot be stored.
func fireKey(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "ux__execute_task__fire'") ||
		strings.Contains(msg, "UNIQUE constraint failed: execute_task.task_id, execute_task.scheduled_at, execute_task.attempt")
}

// IsPermanent reports whether err says that a value of the statement
// cannot be stored — too long, bad UTF-8, out of range, an impossible
// date, NULL in a NOT NULL column, a broken foreign key or constraint,
// invalid JSON — so running it again fails again: the caller sets that
// row apart and records why, and the other rows proceed. A time past
// year 9999 fails in the MySQL driver before reaching the server ("year
// is not in the range [1, 9999]"), or as error 1292 when written as a
// literal; SQLite stores it (as text that sorts before every other year).
// A duplicate of the fire key is not permanent: the fire is another
// claimant's. An error that is neither permanent nor transient (a syntax
// error, a missing table) is the program's or the schema's.
func IsPermanent(err error) bool {
	if err == nil || fireKey(err) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return mysqlPermanent[me.Number]
	}
	if code, ok := sqliteCode(err); ok {
		return code == sqliteTooBig || code == sqliteConstraint || code == sqliteMismatch
	}
	return strings.Contains(err.Error(), "year is not in the range [1, 9999]")
}

// IsTransient reports whether err says the database could not run the
// statement now — a conflict (IsConflict), a dropped, refused or timed-out
// connection, too many connections, a server shutting down, a full or
// unreadable SQLite file — so the same statement may succeed later: the
// caller retries, within a bound that ends at shutdown. A context deadline
// is transient (the database was too slow); a cancelled context is not
// (the caller is stopping). After a dropped connection ("invalid
// connection") a write may or may not have been applied: retry only what
// is idempotent.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return mysqlTransient[me.Number]
	}
	if code, ok := sqliteCode(err); ok {
		switch code {
		case sqliteBusy, sqliteLocked, sqliteIOErr, sqliteFull, sqliteCantOpen:
			return true
		}
		return false
	}
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ETIMEDOUT),
		errors.As(err, &ne):
		return true
	}
	return IsConflict(err)
}
