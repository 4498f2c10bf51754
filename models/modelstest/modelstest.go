// Package modelstest gives tests a real, empty, migrated database: a MySQL
// database of their own (dropped at cleanup) and an SQLite file.
//
// TASKRUNNER_TEST_MYSQL_DSN names the server (default
// root@tcp(127.0.0.1:3306)/). When the variable is set, an unreachable
// server fails the test; when it is not, the MySQL half is skipped, so a
// laptop without MySQL can still run the suite. .ci/run always sets it.
package modelstest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"taskrunner/libs/mysqlpool"
	"taskrunner/libs/sqlitedb"
	"taskrunner/models"
)

// EnvMySQLDSN is the variable naming the test MySQL server.
const EnvMySQLDSN = "TASKRUNNER_TEST_MYSQL_DSN"

// Schema returns the project's schema files, schema.sql and
// schema_sqlite.sql.
func Schema(t testing.TB) models.Schemas {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(Root(t), name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return models.Schemas{MySQL: read("schema.sql"), SQLite: read("schema_sqlite.sql")}
}

// Root returns the directory holding go.mod.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// EmptyMySQL creates an empty database and returns its pool config.
func EmptyMySQL(t testing.TB) mysqlpool.Config {
	t.Helper()
	dsn, required := os.LookupEnv(EnvMySQLDSN)
	if !required {
		dsn = "root@tcp(127.0.0.1:3306)/"
	}
	base, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("%s: %v", EnvMySQLDSN, err)
	}
	base.DBName = ""
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := mysqlpool.Open(ctx, mysqlpool.Config{DSN: base.FormatDSN(), MaxOpenConns: 2, MaxIdleConns: 1, ConnMaxLifetime: time.Minute})
	if err != nil {
		if required {
			t.Fatalf("MySQL at %s: %v", EnvMySQLDSN, err)
		}
		t.Skipf("no MySQL (%v); set %s to require it", err, EnvMySQLDSN)
	}
	name := "tr_test_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Logf("drop %s: %v", name, err)
		}
		_ = admin.Close()
	})
	base.DBName = name
	return mysqlpool.Config{DSN: base.FormatDSN(), MaxOpenConns: 20, MaxIdleConns: 10, ConnMaxLifetime: time.Minute}
}

// Open opens a pool on cfg, closed at cleanup.
func Open(t testing.TB, cfg mysqlpool.Config) *models.DB {
	t.Helper()
	db, err := mysqlpool.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return wrap(t, db)
}

// wrap gives a pool its dialect.
func wrap(t testing.TB, db *sqlx.DB) *models.DB {
	t.Helper()
	m, err := models.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// MySQL returns a pool on a new database migrated to schema.sql.
func MySQL(t testing.TB) *models.DB {
	t.Helper()
	db := Open(t, EmptyMySQL(t))
	migrate(t, db)
	return db
}

// Pools returns n separate pools on one new migrated database, as n
// replicas would have: MySQL when kind is "mysql", else SQLite.
func Pools(t testing.TB, kind string, n int) []*models.DB {
	t.Helper()
	var open func() *models.DB
	if kind == "mysql" {
		cfg := EmptyMySQL(t)
		open = func() *models.DB { return Open(t, cfg) }
	} else {
		path := filepath.Join(t.TempDir(), "taskrunner.db")
		open = func() *models.DB {
			db, err := sqlitedb.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			return wrap(t, db)
		}
	}
	pools := make([]*models.DB, n)
	for i := range pools {
		pools[i] = open()
	}
	migrate(t, pools[0])
	return pools
}

// EachKind runs f as a subtest for "mysql" and "sqlite".
func EachKind(t *testing.T, f func(t *testing.T, kind string)) {
	t.Helper()
	for _, kind := range []string{"mysql", "sqlite"} {
		t.Run(kind, func(t *testing.T) { f(t, kind) })
	}
}

// EmptySQLite returns a new, empty SQLite database.
func EmptySQLite(t testing.TB) *models.DB {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), filepath.Join(t.TempDir(), "taskrunner.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return wrap(t, db)
}

// SQLite returns a new SQLite database migrated to schema_sqlite.sql.
func SQLite(t testing.TB) *models.DB {
	t.Helper()
	m := EmptySQLite(t)
	migrate(t, m)
	return m
}

func migrate(t testing.TB, db *models.DB) {
	t.Helper()
	if _, err := models.Migrate(context.Background(), db, Schema(t)); err != nil {
		t.Fatal(err)
	}
}

// Each runs f as a subtest on MySQL and on SQLite.
func Each(t *testing.T, f func(t *testing.T, db *models.DB)) {
	t.Helper()
	for _, kind := range []string{"mysql", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			if kind == "mysql" {
				f(t, MySQL(t))
			} else {
				f(t, SQLite(t))
			}
		})
	}
}

// Exec runs statements separated by ";\n" (a .sql file), failing the test on error.
func Exec(t testing.TB, db *models.DB, script string) {
	t.Helper()
	for _, stmt := range strings.Split(script, ";\n") {
		if strings.TrimSpace(stmt) == "" || strings.HasPrefix(strings.TrimSpace(stmt), "--") && !strings.Contains(stmt, "\n") {
			continue
		}
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%v\n%s", err, stmt)
		}
	}
}
