package models

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// Migrate brings the database up to schema (the text of schema.sql):
// missing tables are created, and missing columns and indexes of existing
// tables are added. It never drops or changes anything, so it is safe to
// run at every start and on a database made by the original framework's
// DDL. schema.sql is the one definition: on SQLite the same columns are
// created with SQLite types.
func Migrate(ctx context.Context, db *DB, schema string) ([]string, error) {
	tables, err := parseSchema(schema)
	if err != nil {
		return nil, err
	}
	if db.d.sqlite {
		return migrateSQLite(ctx, db, tables)
	}
	return migrateMySQL(ctx, db, tables)
}

type schemaTable struct {
	name    string
	create  string // the CREATE TABLE statement as written
	columns []schemaColumn
	indexes []schemaIndex
}

type schemaColumn struct {
	name string
	def  string // MySQL definition after the name
}

type schemaIndex struct {
	name   string
	unique bool
	cols   []string
}

var (
	createRe = regexp.MustCompile("(?s)CREATE TABLE IF NOT EXISTS `(\\w+)` \\((.*?)\\n\\)[^;]*;")
	columnRe = regexp.MustCompile("^`(\\w+)` (.+?),?$")
	indexRe  = regexp.MustCompile("^(UNIQUE )?INDEX `(\\w+)`\\(([^)]*)\\)")
)

func parseSchema(schema string) ([]schemaTable, error) {
	var tables []schemaTable
	for _, m := range createRe.FindAllStringSubmatch(schema, -1) {
		t := schemaTable{name: m[1], create: m[0]}
		for _, line := range strings.Split(m[2], "\n") {
			line = strings.TrimSpace(line)
			if c := columnRe.FindStringSubmatch(line); c != nil {
				t.columns = append(t.columns, schemaColumn{name: c[1], def: c[2]})
			} else if ix := indexRe.FindStringSubmatch(line); ix != nil {
				var cols []string
				for _, c := range strings.Split(ix[3], ",") {
					cols = append(cols, strings.Trim(strings.TrimSpace(c), "`"))
				}
				t.indexes = append(t.indexes, schemaIndex{name: ix[2], unique: ix[1] != "", cols: cols})
			}
		}
		if len(t.columns) == 0 {
			return nil, fmt.Errorf("schema: table %s has no columns", t.name)
		}
		tables = append(tables, t)
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("schema: no CREATE TABLE IF NOT EXISTS statement found")
	}
	return tables, nil
}

func migrateMySQL(ctx context.Context, db *DB, tables []schemaTable) ([]string, error) {
	var done []string
	for _, t := range tables {
		var n int
		if err := db.GetContext(ctx, &n, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", t.name); err != nil {
			return done, fmt.Errorf("migrate %s: %w", t.name, err)
		}
		if n == 0 {
			if _, err := db.ExecContext(ctx, t.create); err != nil {
				return done, fmt.Errorf("migrate: create %s: %w", t.name, err)
			}
			done = append(done, "create table "+t.name)
			continue
		}
		var haveCols, haveIdx []string
		if err := db.SelectContext(ctx, &haveCols, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", t.name); err != nil {
			return done, fmt.Errorf("migrate %s: %w", t.name, err)
		}
		if err := db.SelectContext(ctx, &haveIdx, "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", t.name); err != nil {
			return done, fmt.Errorf("migrate %s: %w", t.name, err)
		}
		var adds []string
		for _, c := range t.columns {
			if !containsFold(haveCols, c.name) {
				adds = append(adds, fmt.Sprintf("ADD COLUMN `%s` %s", c.name, c.def))
			}
		}
		for _, ix := range t.indexes {
			if !containsFold(haveIdx, ix.name) {
				kind := "INDEX"
				if ix.unique {
					kind = "UNIQUE INDEX"
				}
				adds = append(adds, fmt.Sprintf("ADD %s `%s` (`%s`)", kind, ix.name, strings.Join(ix.cols, "`, `")))
			}
		}
		if len(adds) == 0 {
			continue
		}
		// One statement per table: at most one table rebuild.
		stmt := fmt.Sprintf("ALTER TABLE `%s` %s", t.name, strings.Join(adds, ", "))
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return done, fmt.Errorf("migrate: %s: %w", stmt, err)
		}
		done = append(done, stmt)
	}
	return done, nil
}

func migrateSQLite(ctx context.Context, db *DB, tables []schemaTable) ([]string, error) {
	var done []string
	for _, t := range tables {
		var have []string
		if err := db.SelectContext(ctx, &have, "SELECT name FROM pragma_table_info(?)", t.name); err != nil {
			return done, fmt.Errorf("migrate %s: %w", t.name, err)
		}
		if len(have) == 0 {
			defs := make([]string, len(t.columns))
			for i, c := range t.columns {
				defs[i] = `"` + c.name + `" ` + sqliteColumn(c.def)
			}
			stmt := fmt.Sprintf("CREATE TABLE %q (%s)", t.name, strings.Join(defs, ", "))
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return done, fmt.Errorf("migrate: %s: %w", stmt, err)
			}
			done = append(done, "create table "+t.name)
		} else {
			for _, c := range t.columns {
				if containsFold(have, c.name) {
					continue
				}
				stmt := fmt.Sprintf("ALTER TABLE %q ADD COLUMN %q %s", t.name, c.name, sqliteColumn(c.def))
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					return done, fmt.Errorf("migrate: %s: %w", stmt, err)
				}
				done = append(done, stmt)
			}
		}
		for _, ix := range t.indexes {
			kind := "INDEX"
			if ix.unique {
				kind = "UNIQUE INDEX"
			}
			stmt := fmt.Sprintf("CREATE %s IF NOT EXISTS %q ON %q (\"%s\")", kind, ix.name, t.name, strings.Join(ix.cols, `", "`))
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return done, fmt.Errorf("migrate: %s: %w", stmt, err)
			}
		}
	}
	// SQLite has no ON UPDATE: this trigger moves update_at when a user
	// edits the definition, and not when the engine writes its state.
	const trig = `CREATE TRIGGER IF NOT EXISTS task_update_at AFTER UPDATE OF task_key, "desc", execute_func, "trigger", spec, args, is_valid, extra ON task
BEGIN UPDATE task SET update_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id; END`
	if _, err := db.ExecContext(ctx, trig); err != nil {
		return done, fmt.Errorf("migrate: update_at trigger: %w", err)
	}
	return done, nil
}

var (
	mysqlDefaultRe = regexp.MustCompile(`DEFAULT (\('[^']*'\)|'[^']*'|-?\d+|NULL|CURRENT_TIMESTAMP(\(\d\))?)`)
	mysqlNowSQLite = `(strftime('%Y-%m-%d %H:%M:%f', 'now'))`
)

// sqliteColumn translates a MySQL column definition of schema.sql to SQLite.
func sqliteColumn(def string) string {
	lower := strings.ToLower(def)
	if strings.Contains(lower, "auto_increment") {
		return "INTEGER PRIMARY KEY AUTOINCREMENT"
	}
	var typ string
	switch {
	case strings.HasPrefix(lower, "int"), strings.HasPrefix(lower, "bigint"):
		typ = "INTEGER"
	case strings.HasPrefix(lower, "datetime"), strings.HasPrefix(lower, "timestamp"):
		typ = "DATETIME"
	default:
		typ = "TEXT"
	}
	out := typ
	if strings.Contains(def, "NOT NULL") {
		out += " NOT NULL"
	}
	if m := mysqlDefaultRe.FindStringSubmatch(def); m != nil {
		switch v := m[1]; {
		case v == "NULL":
		case strings.HasPrefix(v, "CURRENT_TIMESTAMP"):
			out += " DEFAULT " + mysqlNowSQLite
		default:
			out += " DEFAULT " + strings.TrimSuffix(strings.TrimPrefix(v, "("), ")")
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
