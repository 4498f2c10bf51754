package main

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"taskrunner/models"
	"taskrunner/tasks/system"
)

func newMigrateCmd(g *globals) *cobra.Command {
	var rebuild bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the tables, then exit",
		Long: `Create or upgrade the tables of the configured database, then exit. A new
SQLite database gets the sample tasks; any database without a
system_retention row gets one (the history cleanup, daily). Upgrading only adds tables, columns
and indexes (and drops the original DDL's UNIQUE (task_key, status)), so it
is quick and runs at every start.

--rebuild also widens integer columns narrower than schema.sql's, such as
execute_task.id int(11) in a database made by the original DDL (2^31 ids:
60 hours at 10,000 runs a second). That rebuilds the table: MySQL copies
every row, holding a lock on the table meanwhile, so run it when a pause
of the history is acceptable. The daemon warns at start while it is due.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			a, err := open(ctx, g.confDir)
			if err != nil {
				return err
			}
			defer a.close()
			if err := migrate(ctx, a); err != nil {
				return err
			}
			if !rebuild {
				return warnRebuilds(ctx, a)
			}
			done, err := models.Rebuild(ctx, a.db, schemas)
			for _, step := range done {
				a.log.Info("rebuilt", "step", step)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&rebuild, "rebuild", false, "also widen narrow id columns (rebuilds the tables concerned)")
	return cmd
}

// schemas are the two schema files, for Migrate and Rebuild.
var schemas = models.Schemas{MySQL: schema, SQLite: schemaSQLite}

// warnRebuilds logs the table rebuilds the database still needs.
func warnRebuilds(ctx context.Context, a *app) error {
	steps, err := models.PendingRebuilds(ctx, a.db, schemas)
	if err != nil {
		return err
	}
	for _, step := range steps {
		a.log.Warn("a column is narrower than schema.sql says; run `taskrunner migrate --rebuild` when a table rebuild is acceptable", "step", step)
	}
	return nil
}

// migrate upgrades the tables; a new local database gets the sample rows.
func migrate(ctx context.Context, a *app) error {
	done, err := models.Migrate(ctx, a.db, schemas)
	if err != nil {
		return err
	}
	for _, step := range done {
		a.log.Info("migrated", "step", step)
	}
	if len(done) > 0 && done[0] == "create table task" && a.cfg.Common.App.Database == "sqlite" {
		for _, t := range models.SampleTasks() {
			if _, err := models.InsertTask(ctx, a.db, t); err != nil {
				return err
			}
		}
		a.log.Info("new database: inserted the sample tasks", "count", len(models.SampleTasks()))
	}
	inserted, err := system.EnsureTask(ctx, a.db)
	if err != nil {
		return err
	}
	if inserted {
		a.log.Info("inserted the system task", "task_key", system.RetentionKey, "spec", system.RetentionSpec)
	}
	return nil
}
