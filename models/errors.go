package models

import (
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
)

var (
	// ErrTaskNotFound is returned when a task row does not exist.
	ErrTaskNotFound = errors.New("task not found")
	// ErrUnsupportedDriver is returned for a database driver other than mysql or sqlite.
	ErrUnsupportedDriver = errors.New("unsupported database driver")
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
