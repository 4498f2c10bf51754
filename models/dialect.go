package models

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
)

// sqliteTimeLayout is how times are stored in SQLite: UTC text that sorts
// in time order and matches the strftime defaults of schema_sqlite.sql.
const sqliteTimeLayout = "2006-01-02 15:04:05.000"

func isSQLite(q sqlx.ExtContext) bool { return q.DriverName() == "sqlite" }

// dbTime converts t for a query parameter: UTC, and text on SQLite.
func dbTime(q sqlx.ExtContext, t time.Time) any {
	t = t.UTC()
	if isSQLite(q) {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// dbNullTime is dbTime for a time that may be unset (stored as NULL).
func dbNullTime(q sqlx.ExtContext, t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return dbTime(q, t)
}

// keepUpdateAt is appended to the SET list of the engine's own writes to
// task: MySQL then keeps update_at, which marks edits of the definition
// only. SQLite's trigger already ignores columns outside the definition.
func keepUpdateAt(q sqlx.ExtContext) string {
	if isSQLite(q) {
		return ""
	}
	return ", update_at = update_at"
}

// updateIgnore skips rows whose new status would collide with the original
// unique index (task_key, status) instead of failing the whole statement.
func updateIgnore(q sqlx.ExtContext) string {
	if isSQLite(q) {
		return "UPDATE OR IGNORE"
	}
	return "UPDATE IGNORE"
}

// chunks splits ids into slices of at most n, for IN lists.
func chunks[T any](ids []T, n int) [][]T {
	var out [][]T
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

// execIn runs a statement after expanding its IN (?) slice argument.
func execIn(ctx context.Context, q sqlx.ExtContext, query string, args ...any) error {
	query, args, err := sqlx.In(query, args...)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, q.Rebind(query), args...)
	return err
}

// selectIn is sqlx.SelectContext after expanding an IN (?) slice argument.
func selectIn(ctx context.Context, q sqlx.ExtContext, dest any, query string, args ...any) error {
	query, args, err := sqlx.In(query, args...)
	if err != nil {
		return err
	}
	return sqlx.SelectContext(ctx, q, dest, q.Rebind(query), args...)
}
