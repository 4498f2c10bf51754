package models

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// droppedIndexes are indexes of earlier schemas that Migrate drops, by
// table. ux__task__task_key_status is the original DDL's UNIQUE (task_key,
// status): the engine writes status, so two rows of one key would collide
// on it; ix__task__task_key replaces it.
//
// ux__execute_task__fire (task_id, scheduled_at, attempt) became
// ux__execute_task__fire_shard, with shard: a sharded or broadcast fire
// has a row per shard.
var droppedIndexes = map[string][]string{"task": {"ux__task__task_key_status"}, "execute_task": {"ux__execute_task__fire"}}

// Schemas are the texts of the two schema files: schema.sql for
// MySQL/MariaDB and schema_sqlite.sql for SQLite. They define the same
// tables; Migrate reads the one of the database's dialect.
type Schemas struct {
	MySQL  string // schema.sql
	SQLite string // schema_sqlite.sql
}

// Migrate brings the database up to its schema file: missing tables are
// created, and missing columns, indexes (and, on SQLite, triggers) of
// existing tables are added; the indexes of earlier schemas that get in
// the way (droppedIndexes) are dropped. It changes no column, so it is
// safe to run at every start and on a database made by the original
// framework's DDL; a column narrower than the schema says is widened only
// by Rebuild. It returns what it did, one line per step.
func Migrate(ctx context.Context, db *DB, schemas Schemas) ([]string, error) {
	if db.d.sqlite {
		s, err := parseSQLiteSchema(schemas.SQLite)
		if err != nil {
			return nil, fmt.Errorf("schema_sqlite.sql: %w", err)
		}
		return migrateSQLite(ctx, db, s)
	}
	s, err := parseMySQLSchema(schemas.MySQL)
	if err != nil {
		return nil, fmt.Errorf("schema.sql: %w", err)
	}
	return migrateMySQL(ctx, db, s)
}

// schema is a schema file, parsed.
type schema struct {
	tables   []schemaTable
	triggers []schemaTrigger // SQLite only
}

type schemaTable struct {
	name    string
	create  string // the CREATE TABLE statement as written
	columns []schemaColumn
	primary []string // primary key columns
	indexes []schemaIndex
}

type schemaColumn struct {
	name string
	def  string // the definition after the name, as written
}

type schemaIndex struct {
	name   string
	unique bool
	cols   []string
	create string // SQLite: the CREATE INDEX statement as written
}

type schemaTrigger struct {
	name, table string
	create      string
}

func (t *schemaTable) column(name string) (schemaColumn, bool) {
	for _, c := range t.columns {
		if strings.EqualFold(c.name, name) {
			return c, true
		}
	}
	return schemaColumn{}, false
}

var (
	mysqlTableRe   = regexp.MustCompile("(?s)CREATE TABLE IF NOT EXISTS `(\\w+)` \\((.*?)\\n\\)[^;]*;")
	mysqlColumnRe  = regexp.MustCompile("^`(\\w+)` (.+?),?$")
	mysqlIndexRe   = regexp.MustCompile("^(UNIQUE )?INDEX `(\\w+)`\\(([^)]*)\\)")
	mysqlPrimaryRe = regexp.MustCompile(`^PRIMARY KEY \(([^)]*)\)`)

	sqliteTableRe   = regexp.MustCompile(`(?s)CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);`)
	sqliteColumnRe  = regexp.MustCompile(`^"?(\w+)"? (.+?),?$`)
	sqliteIndexRe   = regexp.MustCompile(`CREATE (UNIQUE )?INDEX IF NOT EXISTS (\w+) ON (\w+) \(([^)]*)\);`)
	sqliteTriggerRe = regexp.MustCompile(`(?s)CREATE TRIGGER IF NOT EXISTS (\w+) [^\n]* ON (\w+)\nBEGIN\n.*?\nEND;`)
	sqliteConstrRe  = regexp.MustCompile(`^(PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY|CONSTRAINT)\b`)
)

// parseMySQLSchema reads schema.sql: CREATE TABLE IF NOT EXISTS statements
// with one column, key or index per line.
func parseMySQLSchema(text string) (schema, error) {
	var s schema
	for _, m := range mysqlTableRe.FindAllStringSubmatch(text, -1) {
		t := schemaTable{name: m[1], create: m[0]}
		for _, line := range strings.Split(m[2], "\n") {
			line = strings.TrimSpace(line)
			if c := mysqlColumnRe.FindStringSubmatch(line); c != nil {
				t.columns = append(t.columns, schemaColumn{name: c[1], def: c[2]})
			} else if ix := mysqlIndexRe.FindStringSubmatch(line); ix != nil {
				t.indexes = append(t.indexes, schemaIndex{name: ix[2], unique: ix[1] != "", cols: splitColumns(ix[3])})
			} else if pk := mysqlPrimaryRe.FindStringSubmatch(line); pk != nil {
				t.primary = splitColumns(pk[1])
			}
		}
		s.tables = append(s.tables, t)
	}
	return s, s.check(text, len(s.tables))
}

// parseSQLiteSchema reads schema_sqlite.sql: CREATE TABLE IF NOT EXISTS
// statements with one column per line, then CREATE [UNIQUE] INDEX IF NOT
// EXISTS and CREATE TRIGGER IF NOT EXISTS statements.
func parseSQLiteSchema(text string) (schema, error) {
	var s schema
	for _, m := range sqliteTableRe.FindAllStringSubmatch(text, -1) {
		t := schemaTable{name: m[1], create: m[0]}
		for _, line := range strings.Split(m[2], "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "--") {
				continue
			}
			if sqliteConstrRe.MatchString(line) {
				if pk, ok := strings.CutPrefix(line, "PRIMARY KEY ("); ok {
					t.primary = splitColumns(strings.TrimRight(pk, "),"))
				}
				continue
			}
			if c := sqliteColumnRe.FindStringSubmatch(line); c != nil {
				t.columns = append(t.columns, schemaColumn{name: c[1], def: c[2]})
				if strings.Contains(strings.ToUpper(c[2]), "PRIMARY KEY") {
					t.primary = []string{c[1]}
				}
			}
		}
		s.tables = append(s.tables, t)
	}
	n := len(s.tables)
	for _, m := range sqliteIndexRe.FindAllStringSubmatch(text, -1) {
		t := s.table(m[3])
		if t == nil {
			return s, fmt.Errorf("index %s on %s: no such table above it", m[2], m[3])
		}
		t.indexes = append(t.indexes, schemaIndex{name: m[2], unique: m[1] != "", cols: splitColumns(m[4]), create: m[0]})
		n++
	}
	for _, m := range sqliteTriggerRe.FindAllStringSubmatch(text, -1) {
		if s.table(m[2]) == nil {
			return s, fmt.Errorf("trigger %s on %s: no such table above it", m[1], m[2])
		}
		s.triggers = append(s.triggers, schemaTrigger{name: m[1], table: m[2], create: m[0]})
		n++
	}
	return s, s.check(text, n)
}

// check fails a schema in which a statement was not understood (every
// line starting with CREATE must have been read) or a table has no column.
func (s *schema) check(text string, parsed int) error {
	creates := 0
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "CREATE ") {
			creates++
		}
	}
	if creates != parsed {
		return fmt.Errorf("%d CREATE statements, %d understood (the forms read are those of the file as shipped)", creates, parsed)
	}
	if len(s.tables) == 0 {
		return fmt.Errorf("no CREATE TABLE IF NOT EXISTS statement found")
	}
	for _, t := range s.tables {
		if len(t.columns) == 0 {
			return fmt.Errorf("table %s has no columns", t.name)
		}
	}
	return nil
}

func (s *schema) table(name string) *schemaTable {
	for i := range s.tables {
		if s.tables[i].name == name {
			return &s.tables[i]
		}
	}
	return nil
}

// splitColumns reads an index's column list: `a`, `b` or a, "b".
func splitColumns(list string) []string {
	var cols []string
	for _, c := range strings.Split(list, ",") {
		cols = append(cols, strings.Trim(strings.TrimSpace(c), "`\""))
	}
	return cols
}

func migrateMySQL(ctx context.Context, db *DB, s schema) ([]string, error) {
	var done []string
	for _, t := range s.tables {
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
		var changes []string
		for _, name := range droppedIndexes[t.name] {
			if containsFold(haveIdx, name) {
				changes = append(changes, fmt.Sprintf("DROP INDEX `%s`", name))
			}
		}
		for _, c := range t.columns {
			if !containsFold(haveCols, c.name) {
				changes = append(changes, fmt.Sprintf("ADD COLUMN `%s` %s", c.name, c.def))
			}
		}
		for _, ix := range t.indexes {
			if !containsFold(haveIdx, ix.name) {
				kind := "INDEX"
				if ix.unique {
					kind = "UNIQUE INDEX"
				}
				changes = append(changes, fmt.Sprintf("ADD %s `%s` (`%s`)", kind, ix.name, strings.Join(ix.cols, "`, `")))
			}
		}
		if len(changes) == 0 {
			continue
		}
		// One statement per table: at most one table rebuild.
		stmt := fmt.Sprintf("ALTER TABLE `%s` %s", t.name, strings.Join(changes, ", "))
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return done, fmt.Errorf("migrate: %s: %w", stmt, err)
		}
		done = append(done, stmt)
	}
	return done, nil
}

// migrateSQLite runs the statements of schema_sqlite.sql that are needed:
// a new table is created with its indexes and triggers (one step, "create
// table"); an existing one loses its dropped indexes and gets its missing
// columns, indexes and triggers, one step each. SQLite's ADD COLUMN takes a constant default only, which
// every column added since the original DDL has.
func migrateSQLite(ctx context.Context, db *DB, s schema) ([]string, error) {
	var done []string
	for _, t := range s.tables {
		var haveCols, haveIdx, haveTrig []string
		if err := db.SelectContext(ctx, &haveCols, "SELECT name FROM pragma_table_info(?)", t.name); err != nil {
			return done, fmt.Errorf("migrate %s: %w", t.name, err)
		}
		created := len(haveCols) == 0
		if created {
			if _, err := db.ExecContext(ctx, t.create); err != nil {
				return done, fmt.Errorf("migrate: create %s: %w", t.name, err)
			}
			done = append(done, "create table "+t.name)
		}
		for _, c := range t.columns {
			if created || containsFold(haveCols, c.name) {
				continue
			}
			stmt := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %q %s", t.name, c.name, c.def)
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return done, fmt.Errorf("migrate: %s: %w", stmt, err)
			}
			done = append(done, stmt)
		}
		if err := db.SelectContext(ctx, &haveIdx, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", t.name); err != nil {
			return done, fmt.Errorf("migrate %s: %w", t.name, err)
		}
		if err := db.SelectContext(ctx, &haveTrig, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", t.name); err != nil {
			return done, fmt.Errorf("migrate %s: %w", t.name, err)
		}
		var stmts []string
		for _, name := range droppedIndexes[t.name] {
			if containsFold(haveIdx, name) {
				stmts = append(stmts, fmt.Sprintf("DROP INDEX %q", name))
			}
		}
		for _, ix := range t.indexes {
			if !containsFold(haveIdx, ix.name) {
				stmts = append(stmts, ix.create)
			}
		}
		for _, tr := range s.triggers {
			if tr.table == t.name && !containsFold(haveTrig, tr.name) {
				stmts = append(stmts, tr.create)
			}
		}
		for _, stmt := range stmts {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return done, fmt.Errorf("migrate: %s: %w", stmt, err)
			}
			if !created {
				done = append(done, firstLine(stmt))
			}
		}
	}
	return done, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// typ is the column's type name, lower case, without its width:
// "bigint", "varchar", "datetime", "integer".
func (c schemaColumn) typ() string {
	word, _, _ := strings.Cut(strings.ToLower(c.def), " ")
	word, _, _ = strings.Cut(word, "(")
	return word
}
