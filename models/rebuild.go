package models

import (
	"context"
	"fmt"
	"strings"
)

// intWidth ranks MySQL's integer types by their size in bytes.
var intWidth = map[string]int{"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "integer": 4, "bigint": 8}

// PendingRebuilds returns the statements that would widen the integer
// columns of the database that are narrower than schema.sql says, one
// ALTER TABLE per table: a database made by the original DDL keeps
// execute_task.id int(11), whose 2^31 ids last 60 hours at 10,000 runs a
// second. Migrate does not run them, as each rebuilds its table (see
// Rebuild); a start-up can warn with them. On SQLite there are none: an
// INTEGER is 64 bits.
func PendingRebuilds(ctx context.Context, db *DB, schemas Schemas) ([]string, error) {
	if db.d.sqlite {
		return nil, nil
	}
	s, err := parseMySQLSchema(schemas.MySQL)
	if err != nil {
		return nil, fmt.Errorf("schema.sql: %w", err)
	}
	var cols []struct {
		Table string `db:"TABLE_NAME"`
		Name  string `db:"COLUMN_NAME"`
		Type  string `db:"DATA_TYPE"`
	}
	if err := db.SelectContext(ctx, &cols, "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"); err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	var stmts []string
	for _, t := range s.tables {
		var widen []string
		for _, c := range t.columns {
			want := intWidth[c.typ()]
			if want == 0 {
				continue
			}
			for _, have := range cols {
				if strings.EqualFold(have.Table, t.name) && strings.EqualFold(have.Name, c.name) {
					if w := intWidth[strings.ToLower(have.Type)]; w != 0 && w < want {
						widen = append(widen, fmt.Sprintf("MODIFY COLUMN `%s` %s", c.name, c.def))
					}
				}
			}
		}
		if len(widen) > 0 {
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE `%s` %s", t.name, strings.Join(widen, ", ")))
		}
	}
	return stmts, nil
}

// Rebuild runs PendingRebuilds' statements and returns those it ran.
// Each rebuilds its table: MariaDB and MySQL change a column's type by
// copying every row into a new table, and the table takes no writes until
// the copy is done (reads go on); for a large execute_task that is
// minutes, during which every replica's claims and outcome writes wait.
// So it is never run by Migrate: an operator runs it (taskrunner migrate
// --rebuild) on their own schedule. The columns get schema.sql's
// definition, comment included. Nothing to do on SQLite.
func Rebuild(ctx context.Context, db *DB, schemas Schemas) ([]string, error) {
	stmts, err := PendingRebuilds(ctx, db, schemas)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return done, fmt.Errorf("rebuild: %s: %w", stmt, err)
		}
		done = append(done, stmt)
	}
	return done, nil
}
