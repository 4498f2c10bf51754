package models

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Dialect holds what differs between MySQL/MariaDB and SQLite. It is
// chosen once, when a pool is wrapped by Open, and travels with the pool
// and its transactions: no query checks the driver's name.
type Dialect struct {
	Name string // "mysql" or "sqlite"
	// sqlite: times are text in timeLayout (SQLite has no time type).
	sqlite     bool
	timeLayout string
	// insertNothing ends an INSERT that leaves a row already there alone.
	insertNothing string
	// keepUpdateAt is appended to the SET list of the engine's own writes
	// to task: MySQL then keeps update_at, which marks edits of the
	// definition only. SQLite's trigger already ignores those columns.
	keepUpdateAt string
	// fireIndex is the index hint of lookups by (task_id, scheduled_at):
	// past eq_range_index_dive_limit (200 values) MySQL estimates the
	// ranges from statistics and, on a fast-growing execute_task, scans
	// it all.
	fireIndex  string
	nullSafeEq string // NULL-safe equality
	// shareLock ends a SELECT whose rows must stay as read until the
	// statement commits: a locking read, whatever the isolation level.
	shareLock string
	nowUTC    string // the database's clock, UTC, as a time this package reads
	// finishRuns ends FinishRuns' upsert: only a row still running, owned
	// by the outcome's owner at its attempt, takes the outcome; status is
	// assigned last, as the others test its old value.
	finishRuns string
	// hourOf is the SQL of a time column cut to its hour, as text
	// "YYYY-MM-DD HH" (UTC, as every time is stored).
	hourOf func(col string) string
}

// sqliteTimeLayout is how times are stored in SQLite: UTC text that sorts
// in time order and matches the strftime defaults of schema_sqlite.sql.
const sqliteTimeLayout = "2006-01-02 15:04:05.000"

var (
	mysqlDialect = &Dialect{
		Name: "mysql", timeLayout: "2006-01-02 15:04:05.000000",
		insertNothing: " ON DUPLICATE KEY UPDATE id = id",
		keepUpdateAt:  ", update_at = update_at",
		fireIndex:     " FORCE INDEX (ux__execute_task__fire_shard)",
		nullSafeEq:    "<=>",
		shareLock:     " LOCK IN SHARE MODE",
		nowUTC:        "UTC_TIMESTAMP(6)",
		hourOf:        func(col string) string { return "DATE_FORMAT(" + col + ", '%Y-%m-%d %H')" },
		finishRuns: " ON DUPLICATE KEY UPDATE " + mysqlFenced("error", "VALUES(error)") + ", " + mysqlFenced("output", "VALUES(output)") + ", " +
			mysqlFenced("started_at", "COALESCE(VALUES(started_at), started_at)") + ", " + mysqlFenced("finished_at", "VALUES(finished_at)") + ", " +
			mysqlFenced("duration_ms", "VALUES(duration_ms)") + ", " + mysqlFenced("status", "VALUES(status)"),
	}
	sqliteDialect = &Dialect{
		Name: "sqlite", sqlite: true, timeLayout: sqliteTimeLayout,
		insertNothing: " ON CONFLICT DO NOTHING",
		nullSafeEq:    "IS",
		nowUTC:        "strftime('%Y-%m-%d %H:%M:%f', 'now')",
		hourOf:        func(col string) string { return "substr(" + col + ", 1, 13)" },
		finishRuns: ` ON CONFLICT (id) DO UPDATE SET error = excluded.error, output = excluded.output,
			started_at = COALESCE(excluded.started_at, execute_task.started_at), finished_at = excluded.finished_at,
			duration_ms = excluded.duration_ms, status = excluded.status
			WHERE execute_task.status = 'running' AND execute_task.owner = excluded.owner AND execute_task.attempt = excluded.attempt`,
	}
)

// mysqlFenced assigns v to col only when the row is still running under
// the outcome's owner and attempt.
func mysqlFenced(col, v string) string {
	return col + " = IF(status = 'running' AND owner = VALUES(owner) AND attempt = VALUES(attempt), " + v + ", " + col + ")"
}

// Querier is what every query function takes: a pool (*DB) or a
// transaction (*Tx), with its dialect.
type Querier interface {
	sqlx.ExtContext
	Dialect() *Dialect
}

// DB is a pool with its dialect.
type DB struct {
	*sqlx.DB
	d *Dialect
}

// Tx is a transaction with its pool's dialect.
type Tx struct {
	*sqlx.Tx
	d *Dialect
}

// Open wraps a pool opened by libs/mysqlpool or libs/sqlitedb, choosing
// its dialect from its driver.
func Open(db *sqlx.DB) (*DB, error) {
	switch db.DriverName() {
	case "mysql":
		return &DB{DB: db, d: mysqlDialect}, nil
	case "sqlite":
		return &DB{DB: db, d: sqliteDialect}, nil
	}
	return nil, fmt.Errorf("models: %w %q", ErrUnsupportedDriver, db.DriverName())
}

// Dialect returns the pool's dialect.
func (db *DB) Dialect() *Dialect { return db.d }

// Dialect returns the transaction's dialect.
func (tx *Tx) Dialect() *Dialect { return tx.d }

// Begin starts a transaction.
func (db *DB) Begin(ctx context.Context) (*Tx, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, d: db.d}, nil
}

// time converts t for a query parameter: UTC, and text on SQLite.
func (d *Dialect) time(t time.Time) any {
	t = t.UTC()
	if d.sqlite {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// nullTime is time for a time that may be unset (stored as NULL).
func (d *Dialect) nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.time(t)
}

// inList is how many values an IN list holds at most. From 1,000 values
// MariaDB turns the list into a temporary table joined to the query
// (in_predicate_conversion_threshold), which reads a whole index where
// the list would read one entry per value.
const inList = 500

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
func execIn(ctx context.Context, q Querier, query string, args ...any) (int64, error) {
	query, args, err := sqlx.In(query, args...)
	if err != nil {
		return 0, err
	}
	res, err := q.ExecContext(ctx, q.Rebind(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// selectIn is sqlx.SelectContext after expanding an IN (?) slice argument.
func selectIn(ctx context.Context, q Querier, dest any, query string, args ...any) error {
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
	d       *Dialect
	rows    int
	inRow   bool // a value of the current row is written
}

// newValuesBuilder starts a statement with head, sized for rows rows of
// about rowBytes each.
func newValuesBuilder(q Querier, head string, rows, rowBytes int) *valuesBuilder {
	b := &valuesBuilder{d: q.Dialect()}
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
	buf := append(b.scratch[:0], '\'')
	buf = t.UTC().AppendFormat(buf, b.d.timeLayout)
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

func (b *valuesBuilder) exec(ctx context.Context, q Querier) error {
	_, err := q.ExecContext(ctx, b.sb.String(), b.args...)
	return err
}
