package models

import (
	"context"
	"strconv"
	"strings"
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

// inList is how many values an IN list holds at most. From 1,000 values
// MariaDB turns the list into a temporary table joined to the query
// (in_predicate_conversion_threshold), which reads a whole index where
// the list would read one entry per value.
const inList = 500

// fireIndex is the index hint of lookups by (task_id, scheduled_at):
// past eq_range_index_dive_limit (200 values) MySQL estimates the ranges
// from statistics and, on a fast-growing execute_task, scans it all.
func fireIndex(q sqlx.ExtContext) string {
	if isSQLite(q) {
		return ""
	}
	return " FORCE INDEX (ux__execute_task__fire)"
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

// valuesBuilder writes a multi-row statement. Numbers, times and NULLs
// the code itself produces go in as literals, and so does plain text that
// needs no escaping; other text goes in as a parameter. For 10,000 rows a
// second, a parameter per column cost more (boxing, the driver's
// conversion and escaping) than the statement.
type valuesBuilder struct {
	sb      strings.Builder
	scratch [40]byte
	args    []any
	sqlite  bool
	rows    int
	inRow   bool // a value of the current row is written
}

// newValuesBuilder starts a statement with head, sized for rows rows of
// about rowBytes each.
func newValuesBuilder(q sqlx.ExtContext, head string, rows, rowBytes int) *valuesBuilder {
	b := &valuesBuilder{sqlite: isSQLite(q)}
	b.sb.Grow(len(head) + rows*rowBytes + 256)
	b.sb.WriteString(head)
	return b
}

func (b *valuesBuilder) raw(s string) { b.sb.WriteString(s) }

// row starts a row of values; endRows closes the last one.
func (b *valuesBuilder) row() {
	if b.rows > 0 {
		b.raw("), (")
	} else {
		b.raw("(")
	}
	b.rows++
	b.inRow = false
}

func (b *valuesBuilder) endRows() {
	if b.rows > 0 {
		b.raw(")")
	}
}

// sep separates a value from the one before it in its row.
func (b *valuesBuilder) sep() {
	if b.inRow {
		b.raw(", ")
	}
	b.inRow = true
}

// lit writes a literal the code itself made: NULL, '{}', a number.
func (b *valuesBuilder) lit(s string) {
	b.sep()
	b.raw(s)
}

func (b *valuesBuilder) int(v int64) {
	b.sep()
	b.sb.Write(strconv.AppendInt(b.scratch[:0], v, 10))
}

// time writes t in UTC, or NULL for the zero time.
func (b *valuesBuilder) time(t time.Time) {
	if t.IsZero() {
		b.lit("NULL")
		return
	}
	b.sep()
	layout := "2006-01-02 15:04:05.000000"
	if b.sqlite {
		layout = sqliteTimeLayout
	}
	buf := append(b.scratch[:0], '\'')
	buf = t.UTC().AppendFormat(buf, layout)
	b.sb.Write(append(buf, '\''))
}

// word writes s as a literal when it is plain ASCII that needs no
// escaping in any SQL mode (ids, statuses, host names, most task keys),
// and as a parameter otherwise.
func (b *valuesBuilder) word(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(" _-.:/@", c) >= 0) {
			b.text(s)
			return
		}
	}
	b.sep()
	b.sb.WriteByte('\'')
	b.sb.WriteString(s)
	b.sb.WriteByte('\'')
}

// text passes s as a parameter.
func (b *valuesBuilder) text(s string) {
	b.sep()
	b.sb.WriteByte('?')
	b.args = append(b.args, s)
}

// nullText is text, with NULL for "".
func (b *valuesBuilder) nullText(s string) {
	if s == "" {
		b.lit("NULL")
		return
	}
	b.text(s)
}

func (b *valuesBuilder) exec(ctx context.Context, q sqlx.ExtContext) error {
	_, err := q.ExecContext(ctx, b.sb.String(), b.args...)
	return err
}
