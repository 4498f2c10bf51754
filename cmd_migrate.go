package main

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"taskrunner/models"
)

func newMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the tables, then exit",
		Long: `Create or upgrade the tables of the configured database, then exit. A new
SQLite database gets the sample tasks.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			a, err := open(ctx, g.confDir)
			if err != nil {
				return err
			}
			defer a.close()
			return migrate(ctx, a)
		},
	}
}

// migrate upgrades the tables; a new local database gets the sample rows.
func migrate(ctx context.Context, a *app) error {
	done, err := models.Migrate(ctx, a.db, models.Schemas{MySQL: schema, SQLite: schemaSQLite})
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
	return nil
}
