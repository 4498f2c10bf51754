// Command taskrunner runs scheduled tasks defined as rows of the task table.
//
//	taskrunner [run]                                   run the daemon (APP_ENV selects conf/<env>/)
//	taskrunner migrate                                 create or upgrade the tables, then exit
//	taskrunner next --trigger T --spec S [-n 5] [--tz Z]  print a schedule's canonical form and next fire times
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // time zones work in a minimal image without /usr/share/zoneinfo

	"taskrunner/conf"
	"taskrunner/libs/logger"
	"taskrunner/libs/mysqlpool"
	"taskrunner/libs/phrase"
	"taskrunner/libs/sqlitedb"
	"taskrunner/libs/trigger"
	"taskrunner/models"
	"taskrunner/tasks"
	"taskrunner/tasks/cron"
	"taskrunner/tasks/date"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/interval"
)

//go:embed schema.sql
var schema string

//go:embed schema_sqlite.sql
var schemaSQLite string

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "taskrunner:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("taskrunner", flag.ContinueOnError)
	confDir := fs.String("conf", "conf", "configuration directory holding <APP_ENV>/*.toml")
	if err := fs.Parse(args); err != nil {
		return err
	}
	trigger.SetTextFunc(phrase.Parse)
	cmd, rest := "run", fs.Args()
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	env := os.Getenv("APP_ENV")
	if env == "" {
		env = "local"
	}
	switch cmd {
	case "next":
		return next(rest, *confDir, env, stdout)
	case "run", "migrate":
	default:
		return fmt.Errorf("unknown command %q: want run, migrate or next", cmd)
	}

	cfg, err := conf.Load(*confDir, env)
	if err != nil {
		return err
	}
	log, closer, err := logger.New(cfg.Logger)
	if err != nil {
		return err
	}
	defer closer.Close()
	log = log.With("app", cfg.Common.App.Name, "env", env)
	mysqlpool.SetLogger(log)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if cmd == "migrate" || cfg.Common.App.MigrateOnStart {
		if err := migrate(ctx, db, cfg, log); err != nil {
			return err
		}
	}
	if cmd == "migrate" {
		return nil
	}

	reg := tasks.NewRegistry()
	for _, register := range []func(*tasks.Registry) error{cron.Register, date.Register, interval.Register} {
		if err := register(reg); err != nil {
			return err
		}
	}
	s := cfg.Common.Scheduler
	eng, err := engine.New(engine.Config{
		SyncInterval: s.SyncInterval, FullSyncInterval: s.FullSyncInterval, ShutdownTimeout: s.ShutdownTimeout,
		MaxConcurrentRuns: s.MaxConcurrentRuns, OutputLimit: s.OutputLimit, Location: cfg.Location, Lease: s.Lease, ClaimAhead: s.ClaimAhead,
		Defaults: engine.Defaults{Misfire: s.Misfire, MisfireGrace: s.MisfireGrace, MisfireMax: s.MisfireMax, Overlap: s.Overlap},
	}, db, reg, log)
	if err != nil {
		return err
	}
	log.Info("started", "database", cfg.Common.App.Database, "functions", reg.Names(), "sync_interval", s.SyncInterval)
	return eng.Run(ctx)
}

// openDB connects, retrying with backoff while the database is
// unreachable, until ctx ends.
func openDB(ctx context.Context, cfg *conf.Config, log *slog.Logger) (*models.DB, error) {
	if cfg.Common.App.Database == "sqlite" {
		db, err := sqlitedb.Open(ctx, cfg.Common.App.SQLitePath)
		if err != nil {
			return nil, err
		}
		return models.Open(db)
	}
	wait := time.Second
	for {
		pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		db, err := mysqlpool.Open(pingCtx, cfg.MySQL)
		cancel()
		if err == nil {
			return models.Open(db)
		}
		log.Error("database unreachable, retrying", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil, errors.New("stopped while waiting for the database")
		case <-time.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// migrate upgrades the tables; a new local database gets the sample rows.
func migrate(ctx context.Context, db *models.DB, cfg *conf.Config, log *slog.Logger) error {
	done, err := models.Migrate(ctx, db, models.Schemas{MySQL: schema, SQLite: schemaSQLite})
	if err != nil {
		return err
	}
	for _, step := range done {
		log.Info("migrated", "step", step)
	}
	if len(done) > 0 && done[0] == "create table task" && cfg.Common.App.Database == "sqlite" {
		for _, t := range models.SampleTasks() {
			if _, err := models.InsertTask(ctx, db, t); err != nil {
				return err
			}
		}
		log.Info("new database: inserted the sample tasks", "count", len(models.SampleTasks()))
	}
	return nil
}

// next prints the canonical form and the next fire times of a spec.
func next(args []string, confDir, env string, stdout io.Writer) error {
	fs := flag.NewFlagSet("next", flag.ContinueOnError)
	kind := fs.String("trigger", "cron", "trigger kind: cron, interval, date or text")
	spec := fs.String("spec", "", "the spec, as in task.spec")
	n := fs.Int("n", 5, "how many fire times to print")
	tz := fs.String("tz", "", "IANA time zone (default: the configured one, else UTC)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	loc := time.UTC
	if *tz != "" {
		var err error
		if loc, err = time.LoadLocation(*tz); err != nil {
			return fmt.Errorf("--tz: unknown time zone %q", *tz)
		}
	} else if cfg, err := conf.Load(confDir, env); err == nil {
		loc = cfg.Location
	}
	now := time.Now()
	s, err := engine.ParseSchedule(*kind, *spec, loc, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s\n", s.Kind(), s.Spec())
	times := trigger.NextN(s, now, *n)
	if len(times) == 0 {
		fmt.Fprintln(stdout, "no fire time after now")
	}
	for _, t := range times {
		fmt.Fprintln(stdout, t.In(loc).Format("2006-01-02 15:04:05 Mon -0700 MST"))
	}
	return nil
}
