// Command bench measures the scheduler with the real engine, claims and
// history (the production code path, in-process), against MySQL or
// SQLite, and prints one table of results.
//
//	go run ./bench burst -tasks 1000 -duration 60s           # all due at the same instant, every second
//	go run ./bench burst -tasks 1000 -duration 60s -replicas 3
//	go run ./bench scale -rows 100000                         # start-up, idle and busy syncs
//	go run ./bench edit                                       # raw UPDATE to the first fire on the new schedule
//	go run ./bench retention -rows 1000000                    # delete expired history during a 1,000-task burst
//	go run ./bench api-edit                                   # PATCH through the API to applied on 3 replicas (Redis bus)
//	go run ./bench api-list -rows 100000                      # task list pages, server time
//	go run ./bench api-runs -runs 10000000                    # one task's run history pages, server time
//	go run ./bench backfill -fires 10000                      # Engine.Backfill throughput
//	go run ./bench queue -kind http -tasks 5000 -duration 30s # queued runs on in-process workers
//	go run ./bench queue -kind http -tasks 5000 -redis 127.0.0.1:6379
//	go run ./bench queue -kind http -tasks 50                 # idle workers: enqueue -> start latency
//	go run ./bench queue -kind shell -tasks 500               # /bin/true
//
// Lateness is execute_task.started_at - scheduled_at (for queued runs,
// enqueue -> start: they are handed to the queue at their fire time and
// started_at is set when a worker takes the row); missing and
// duplicate fires are counted from execute_task against the expected
// (task, fire time) pairs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"

	"taskrunner/bench/internal/procstat"
	"taskrunner/libs/mysqlpool"
	"taskrunner/libs/sqlitedb"
	"taskrunner/models"
	"taskrunner/tasks"
	"taskrunner/tasks/engine"
)

var schemaPath = "schema.sql"

var schemaSQLitePath = "schema_sqlite.sql"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench burst|scale|edit|retention|api-edit|api-list|api-runs|backfill|queue|rowfloor [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "burst":
		err = burst(ctx, os.Args[2:])
	case "scale":
		err = scale(ctx, os.Args[2:])
	case "edit":
		err = edit(ctx, os.Args[2:])
	case "retention":
		err = retention(ctx, os.Args[2:])
	case "api-edit":
		err = apiEdit(ctx, os.Args[2:])
	case "api-list":
		err = apiList(ctx, os.Args[2:])
	case "api-runs":
		err = apiRuns(ctx, os.Args[2:])
	case "backfill":
		err = backfill(ctx, os.Args[2:])
	case "queue":
		err = queueRun(ctx, os.Args[2:])
	case "rowfloor":
		err = rowFloor(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown scenario %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// common are the flags every scenario takes.
type common struct {
	driver string
	dsn    string
	dbName string
	log    string
	prof   string
	mprof  string
}

func (c *common) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.driver, "driver", "mysql", "mysql or sqlite")
	fs.StringVar(&c.dsn, "dsn", "root@tcp(127.0.0.1:3306)/", "MySQL server (database part ignored)")
	fs.StringVar(&c.dbName, "db", "taskrunner_bench", "database (MySQL, dropped first) or file (SQLite)")
	fs.StringVar(&c.log, "log", "error", "engine log level")
	fs.StringVar(&c.prof, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.StringVar(&c.mprof, "memprofile", "", "write a heap profile (allocations of the whole run) to this file")
}

// profile starts a CPU profile if asked; the returned func stops it and
// writes the heap profile if asked.
func (c *common) profile() (func(), error) {
	if c.mprof != "" {
		runtime.MemProfileRate = 64 << 10
	}
	stop := func() {
		if c.mprof == "" {
			return
		}
		if f, err := os.Create(c.mprof); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			_ = f.Close()
		}
	}
	if c.prof == "" {
		return stop, nil
	}
	f, err := os.Create(c.prof)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close(); stop() }, nil
}

// seeded makes the scenario's database afresh with fresh, opens a pool
// on it (the caller closes it) and inserts rows; ids are their ids, in
// order.
func (c *common) seeded(ctx context.Context, rows []models.Task) (open func() (*models.DB, error), db *models.DB, ids []int64, err error) {
	if open, err = c.fresh(ctx); err != nil {
		return nil, nil, nil, err
	}
	if db, err = open(); err != nil {
		return nil, nil, nil, err
	}
	if err = models.InsertTasks(ctx, db, rows); err == nil {
		err = db.SelectContext(ctx, &ids, "SELECT id FROM task ORDER BY id")
	}
	if err != nil {
		_ = db.Close()
		return nil, nil, nil, err
	}
	return open, db, ids, nil
}

// fresh creates an empty migrated database and returns a way to open
// pools on it (one per replica).
func (c *common) fresh(ctx context.Context) (func() (*models.DB, error), error) {
	schema, err := os.ReadFile(schemaPath)
	if err != nil {
		return nil, fmt.Errorf("run from the repository root: %w", err)
	}
	schemaSQLite, err := os.ReadFile(schemaSQLitePath)
	if err != nil {
		return nil, fmt.Errorf("run from the repository root: %w", err)
	}
	var connect func() (*sqlx.DB, error)
	if c.driver == "sqlite" {
		path := c.dbName + ".db"
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(path + suffix)
		}
		connect = func() (*sqlx.DB, error) { return sqlitedb.Open(ctx, path) }
	} else {
		base, err := mysql.ParseDSN(c.dsn)
		if err != nil {
			return nil, err
		}
		base.DBName = ""
		admin, err := mysqlpool.Open(ctx, mysqlpool.Config{DSN: base.FormatDSN(), MaxOpenConns: 1})
		if err != nil {
			return nil, err
		}
		defer admin.Close()
		for _, q := range []string{"DROP DATABASE IF EXISTS " + c.dbName, "CREATE DATABASE " + c.dbName} {
			if _, err := admin.ExecContext(ctx, q); err != nil {
				return nil, err
			}
		}
		base.DBName = c.dbName
		cfg := mysqlpool.DefaultConfig()
		cfg.DSN = base.FormatDSN()
		connect = func() (*sqlx.DB, error) { return mysqlpool.Open(ctx, cfg) }
	}
	open := func() (*models.DB, error) {
		db, err := connect()
		if err != nil {
			return nil, err
		}
		return models.Open(db)
	}
	db, err := open()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := models.Migrate(ctx, db, models.Schemas{MySQL: string(schema), SQLite: string(schemaSQLite)}); err != nil {
		return nil, err
	}
	return open, nil
}

func (c *common) logger() *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.log))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// registry has the no-op function the benchmarks schedule.
func registry() *tasks.Registry {
	reg := tasks.NewRegistry()
	_ = reg.Add("noop", func(ctx context.Context, run *tasks.Run) error { return nil })
	return reg
}

// usage is CPU time and peak RSS of this process.
type usage struct {
	cpu  time.Duration
	peak int64 // bytes; 0 when it cannot be read
}

// readUsage reads this process's own figures. The peak is VmHWM, not
// ru_maxrss: under `go run` that one keeps the go tool's peak, which the
// bench process was exec'd from.
func readUsage() usage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	peak, _ := procstat.PeakRSS(os.Getpid())
	return usage{cpu: cpu, peak: peak}
}

// mb prints a peak RSS.
func mb(peak int64) string {
	if peak == 0 {
		return "not measured (no /proc/self/status)"
	}
	return fmt.Sprintf("%d MB", peak>>20)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// table prints rows of key/value pairs as a Markdown table.
func table(w io.Writer, title string, rows [][2]string) {
	fmt.Fprintf(w, "\n%s\n\n| metric | value |\n|---|---|\n", title)
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s |\n", r[0], r[1])
	}
}

// newEngine builds an engine as main.go does.
func newEngine(db *models.DB, log *slog.Logger, cfg engine.Config) (*engine.Engine, error) {
	return engine.New(cfg, db, registry(), log)
}
