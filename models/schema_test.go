package models

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func readSchemas(t *testing.T) (mysql, sqlite schema) {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile("../" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	mysql, err := parseMySQLSchema(read("schema.sql"))
	if err != nil {
		t.Fatalf("schema.sql: %v", err)
	}
	sqlite, err = parseSQLiteSchema(read("schema_sqlite.sql"))
	if err != nil {
		t.Fatalf("schema_sqlite.sql: %v", err)
	}
	return mysql, sqlite
}

// sqliteTypes are the SQLite types a MySQL type may be written as.
var sqliteTypes = map[string][]string{
	"tinyint": {"integer"}, "smallint": {"integer"}, "mediumint": {"integer"}, "int": {"integer"}, "bigint": {"integer"},
	"datetime": {"datetime", "text"}, "timestamp": {"datetime", "text"},
	"char": {"text"}, "varchar": {"text"}, "text": {"text"}, "mediumtext": {"text"}, "longtext": {"text"},
}

var defaultRe = regexp.MustCompile(`(?i)DEFAULT (\('[^']*'\)|'[^']*'|-?\d+|NULL|CURRENT_TIMESTAMP(\(\d\))?|\(strftime\([^)]*\)\))`)

// columnDefault is the column's default, normalised across the two
// dialects: "" for none (or NULL), "now" for the current time, else the
// literal as written in SQL.
func columnDefault(def string) string {
	m := defaultRe.FindStringSubmatch(def)
	if m == nil {
		return ""
	}
	switch v := m[1]; {
	case strings.EqualFold(v, "NULL"):
		return ""
	case strings.HasPrefix(strings.ToUpper(v), "CURRENT_TIMESTAMP"), strings.Contains(v, "'now'"):
		return "now"
	case strings.HasPrefix(v, "('"):
		return strings.TrimSuffix(strings.TrimPrefix(v, "("), ")")
	default:
		return v
	}
}

// noUpdateTrigger are the ON UPDATE columns of schema.sql that SQLite
// leaves at their insert time: nothing reads execute_task.update_at, and
// a trigger would double the writes of every batch of outcomes.
var noUpdateTrigger = map[string]bool{"execute_task.update_at": true}

func has(def, word string) bool { return strings.Contains(strings.ToUpper(def), word) }

// schema.sql and schema_sqlite.sql define the same tables: the same
// columns in the same order, with compatible types, the same NOT NULL,
// defaults, auto-increment and primary key, the same indexes; and what
// MySQL does with ON UPDATE, an SQLite trigger does.
func TestSchemas_Equivalent(t *testing.T) {
	my, lite := readSchemas(t)
	names := func(s schema) []string {
		var out []string
		for _, t := range s.tables {
			out = append(out, t.name)
		}
		return out
	}
	if g, w := names(lite), names(my); !slices.Equal(g, w) {
		t.Fatalf("tables: schema_sqlite.sql has %q, schema.sql %q", g, w)
	}
	for i, mt := range my.tables {
		lt := lite.tables[i]
		t.Run(mt.name, func(t *testing.T) {
			var mc, lc []string
			for _, c := range mt.columns {
				mc = append(mc, c.name)
			}
			for _, c := range lt.columns {
				lc = append(lc, c.name)
			}
			if !slices.Equal(lc, mc) {
				t.Fatalf("columns: schema_sqlite.sql has %q, schema.sql %q", lc, mc)
			}
			for j, m := range mt.columns {
				l := lt.columns[j]
				if ok := sqliteTypes[m.typ()]; !slices.Contains(ok, l.typ()) {
					t.Errorf("column %s: %s in schema.sql, %s in schema_sqlite.sql (want one of %q)", m.name, m.typ(), l.typ(), ok)
				}
				if has(m.def, "NOT NULL") != has(l.def, "NOT NULL") {
					t.Errorf("column %s: NOT NULL differs: %q / %q", m.name, m.def, l.def)
				}
				if has(m.def, "AUTO_INCREMENT") != has(l.def, "AUTOINCREMENT") {
					t.Errorf("column %s: auto-increment differs: %q / %q", m.name, m.def, l.def)
				}
				if md, ld := columnDefault(m.def), columnDefault(l.def); md != ld {
					t.Errorf("column %s: default %q in schema.sql, %q in schema_sqlite.sql", m.name, md, ld)
				}
				if has(m.def, "ON UPDATE") && !noUpdateTrigger[mt.name+"."+m.name] {
					found := false
					for _, tr := range lite.triggers {
						found = found || tr.table == mt.name && strings.Contains(tr.create, "SET "+m.name+" = ")
					}
					if !found {
						t.Errorf("column %s: ON UPDATE in schema.sql, no trigger setting it in schema_sqlite.sql", m.name)
					}
				}
			}
			if !slices.Equal(lt.primary, mt.primary) {
				t.Errorf("primary key: schema_sqlite.sql %q, schema.sql %q", lt.primary, mt.primary)
			}
			if !slices.EqualFunc(lt.indexes, mt.indexes, func(a, b schemaIndex) bool {
				return a.name == b.name && a.unique == b.unique && slices.Equal(a.cols, b.cols)
			}) {
				t.Errorf("indexes:\nschema_sqlite.sql %s\nschema.sql        %s", indexList(lt.indexes), indexList(mt.indexes))
			}
		})
	}
}

func indexList(ixs []schemaIndex) string {
	var out []string
	for _, ix := range ixs {
		u := ""
		if ix.unique {
			u = "unique "
		}
		out = append(out, u+ix.name+"("+strings.Join(ix.cols, ", ")+")")
	}
	return strings.Join(out, "; ")
}

// A statement the parsers do not understand fails the schema instead of
// being skipped.
func TestParseSchema_Unknown(t *testing.T) {
	if _, err := parseSQLiteSchema("CREATE TABLE IF NOT EXISTS a (\n  x INTEGER\n);\nCREATE INDEX ix ON a (x);\n"); err == nil {
		t.Error("an index without IF NOT EXISTS was skipped silently")
	}
	if _, err := parseMySQLSchema("CREATE TABLE `a` (\n  `x` int\n);\n"); err == nil {
		t.Error("a table without IF NOT EXISTS was skipped silently")
	}
}
