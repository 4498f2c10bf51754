package kinds

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite" // and the "sqlite" driver

	"taskrunner/libs/mysqlpool"
	"taskrunner/tasks"
)

// SQLArgs are a sql row's args: the statement's ? parameters, in order.
// Numbers arrive as int64 when whole, else float64.
type SQLArgs []any

// UnmarshalJSON takes an array of scalars; null gives none.
func (a *SQLArgs) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var items []any
	if err := dec.Decode(&items); err != nil {
		return fmt.Errorf("want an array of parameters, got %s", b)
	}
	for i, v := range items {
		switch x := v.(type) {
		case json.Number:
			if n, err := x.Int64(); err == nil {
				items[i] = n
			} else if f, err := x.Float64(); err == nil {
				items[i] = f
			} else {
				return fmt.Errorf("parameter %d: %v", i+1, err)
			}
		case string, bool, nil:
		default:
			return fmt.Errorf("parameter %d: want a string, number, boolean or null, got %T", i+1, v)
		}
	}
	*a = items
	return nil
}

// sqlOptions are the keys of extra the sql kind reads.
type sqlOptions struct {
	Datasource string // a name in config sql.datasources
	Statement  string // one statement, with ? for args
}

// SQL runs one statement (extra keys datasource, statement) with args as
// its parameters. A query records its row count and first rows, any
// other statement its rows affected. On a read_only datasource a
// statement that may write is refused, and what runs, runs in a
// read-only transaction that is rolled back.
func (k *Kinds) SQL(ctx context.Context, run *tasks.Run, args SQLArgs) error {
	var o sqlOptions
	if err := decodeExtra(run.Extra, map[string]any{"datasource": &o.Datasource, "statement": &o.Statement}); err != nil {
		return inputError(fmt.Errorf("sql: %w", err))
	}
	if o.Datasource == "" || strings.TrimSpace(o.Statement) == "" {
		return inputError(fmt.Errorf("sql: %w: keys \"datasource\" and \"statement\" are required", ErrBadExtra))
	}
	ds, toks, err := k.checkStatement(o.Datasource, "statement", o.Statement)
	if err != nil {
		return inputError(fmt.Errorf("sql: %w", err))
	}
	start := time.Now()
	tx, err := k.begin(ctx, o.Datasource, ds)
	if err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	defer tx.Rollback()
	if isQuery(toks) {
		err = k.query(ctx, run, tx, o.Statement, args)
	} else {
		var res sql.Result
		if res, err = tx.ExecContext(ctx, o.Statement, args...); err == nil {
			var n int64
			if n, err = res.RowsAffected(); err == nil {
				run.Printf("rows affected: %d\n", n)
			}
		}
	}
	if err == nil && !ds.ReadOnly {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("sql: %w", statementError(o.Datasource, err))
	}
	run.Printf("in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// checkStatement returns the datasource config names name, and the
// tokens of stmt (the extra key key) after checking them against it: one
// statement, and on a read_only datasource one that cannot write. Its
// errors are bad input.
func (k *Kinds) checkStatement(name, key, stmt string) (Datasource, []sqlToken, error) {
	ds, ok := k.cfg.SQL.Datasources[name]
	if !ok {
		return ds, nil, fmt.Errorf("%w %q in key \"datasource\": config sql.datasources has %s", ErrUnknownDatasource, name, k.datasourceNames())
	}
	toks := scanSQL(stmt, ds.Driver)
	if err := checkOneStatement(toks, key); err != nil {
		return ds, nil, err
	}
	if ds.ReadOnly {
		if err := checkReadOnly(toks, key, name); err != nil {
			return ds, nil, err
		}
	}
	return ds, toks, nil
}

// begin begins a transaction on the datasource: a read-only one on a
// read_only MySQL datasource (a read_only SQLite one has a read-only
// connection).
func (k *Kinds) begin(ctx context.Context, name string, ds Datasource) (*sqlx.Tx, error) {
	db, err := k.pool(ctx, name, ds)
	if err != nil {
		return nil, fmt.Errorf("datasource %q: %w", name, err)
	}
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: ds.ReadOnly && ds.Driver == "mysql"})
	if err != nil {
		return nil, fmt.Errorf("datasource %q: begin: %w", name, err)
	}
	return tx, nil
}

// statementError words an error of a statement run on the datasource: a
// write the database refused as read-only (one the keyword check let
// through, such as a stored function that writes) is bad input.
func statementError(name string, err error) error {
	if refusedWrite(err) {
		return inputError(fmt.Errorf("%w %q: the database refused it: %v", ErrReadOnly, name, err))
	}
	return fmt.Errorf("datasource %q: %w", name, err)
}

// query records the row count and the first max_rows rows, tab-separated.
func (k *Kinds) query(ctx context.Context, run *tasks.Run, tx *sqlx.Tx, stmt string, args []any) error {
	var shown strings.Builder
	n := 0
	cols, err := eachRow(ctx, tx, stmt, args, func(_ []*sql.ColumnType, vals []any) bool {
		if n++; n > k.cfg.SQL.MaxRows {
			return true
		}
		for i, v := range vals {
			if i > 0 {
				shown.WriteByte('\t')
			}
			shown.WriteString(cell(v))
		}
		shown.WriteByte('\n')
		return true
	})
	if err != nil {
		return err
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name()
	}
	run.Printf("rows: %d\n%s\n%s", n, strings.Join(names, "\t"), shown.String())
	if n > k.cfg.SQL.MaxRows {
		run.Printf("... %d more rows\n", n-k.cfg.SQL.MaxRows)
	}
	return nil
}

// eachRow runs a query and calls f with each row's values, until f
// returns false; it returns the columns. vals is reused from row to row.
func eachRow(ctx context.Context, tx *sqlx.Tx, stmt string, args []any, f func(cols []*sql.ColumnType, vals []any) bool) ([]*sql.ColumnType, error) {
	rows, err := tx.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return cols, err
		}
		if !f(cols, vals) {
			return cols, rows.Close()
		}
	}
	return cols, rows.Err()
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

func (k *Kinds) datasourceNames() string {
	names := make([]string, 0, len(k.cfg.SQL.Datasources))
	for n := range k.cfg.SQL.Datasources {
		names = append(names, fmt.Sprintf("%q", n))
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// pool returns the datasource's pool, opening it on first use. A pool
// that fails to open is not kept: the next run tries again.
func (k *Kinds) pool(ctx context.Context, name string, ds Datasource) (*sqlx.DB, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if db, ok := k.pools[name]; ok {
		return db, nil
	}
	conns := ds.MaxOpenConns
	if conns == 0 {
		conns = 4
	}
	var db *sqlx.DB
	var err error
	switch ds.Driver {
	case "mysql":
		db, err = mysqlpool.Open(ctx, mysqlpool.Config{DSN: ds.DSN, MaxOpenConns: conns, MaxIdleConns: conns, ConnMaxLifetime: 5 * time.Minute})
	case "sqlite":
		db, err = openSQLite(ctx, ds.Path, ds.ReadOnly)
	default:
		err = fmt.Errorf("driver %q", ds.Driver)
	}
	if err != nil {
		return nil, err
	}
	k.pools[name] = db
	return db, nil
}

// openSQLite opens an existing database file (mode=rw: a wrong path is an
// error, not a new empty database). read-only connections have
// query_only set, so SQLite itself refuses writes.
func openSQLite(ctx context.Context, path string, readOnly bool) (*sqlx.DB, error) {
	q := url.Values{}
	q.Set("mode", "rw")
	q.Add("_pragma", "busy_timeout(10000)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	}
	db, err := sqlx.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one writer at a time is SQLite's rule
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return db, nil
}

// refusedWrite reports whether the database refused a write as read-only:
// one the keyword check let through (a stored function that writes).
func refusedWrite(err error) bool {
	var me *mysql.MySQLError
	var se *sqlite.Error
	switch {
	case errors.As(err, &me):
		return me.Number == 1792 // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
	case errors.As(err, &se):
		return se.Code()&0xff == 8 // SQLITE_READONLY, and its extended codes
	}
	return false
}
