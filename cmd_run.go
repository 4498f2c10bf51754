package main

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"taskrunner/tasks"
	"taskrunner/tasks/cron"
	"taskrunner/tasks/date"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/interval"
)

func newRunCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the scheduler daemon (the default command)",
		Long: `Run the scheduler daemon: apply the task table to the schedule, run each
fire once across all replicas and record it in execute_task, until SIGINT or
SIGTERM. With [app] migrate_on_start the tables are created or upgraded first.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return daemon(g.confDir) },
	}
}

// daemon runs the engine until SIGINT or SIGTERM, then shuts it down.
func daemon(confDir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a, err := open(ctx, confDir)
	if err != nil {
		return err
	}
	defer a.close()
	if a.cfg.Common.App.MigrateOnStart {
		if err := migrate(ctx, a); err != nil {
			return err
		}
		if err := warnRebuilds(ctx, a); err != nil {
			return err
		}
	}
	reg := tasks.NewRegistry()
	for _, register := range []func(*tasks.Registry) error{cron.Register, date.Register, interval.Register} {
		if err := register(reg); err != nil {
			return err
		}
	}
	eng, err := engine.New(a.cfg.Common.Scheduler, a.db, reg, a.log, engine.WithVersion(version))
	if err != nil {
		return err
	}
	a.log.Info("started", "version", version, "database", a.cfg.Common.App.Database, "functions", reg.Names(),
		"sync_interval", a.cfg.Common.Scheduler.SyncInterval)
	return eng.Run(ctx)
}
