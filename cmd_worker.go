package main

import (
	"context"
	"errors"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"taskrunner/tasks/engine"
)

func newWorkerCmd(g *globals) *cobra.Command {
	var queues []string
	var concurrency, prefetch int
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker: take queued runs from Redis and run them",
		Long: `Run only the consumer side of the queue, on any machine that reaches Redis
and the database: take the runs queued on --queues, run them (the generic
kinds and the Go functions built into this binary), record their outcomes,
until SIGINT or SIGTERM. On SIGTERM it takes no more jobs, gives those in
hand shutdown_timeout ([scheduler] of common.toml) to finish, and records
the ones it cuts off as interrupted.

It registers in the replica table as kind worker, presenting the token of
[worker] token in common.toml (or TASKRUNNER_COMMON_WORKER_TOKEN), made by
'taskrunner tokens add'. It needs Redis (redis.toml): without it the
queue lives inside each daemon.`,
		Example: `  taskrunner worker --queues default,reports --concurrency 16
  taskrunner worker --queues default:32,slow:2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorker(g.confDir, queues, concurrency, prefetch, cmd.Flags().Changed("queues"), cmd.Flags().Changed("concurrency"), cmd.Flags().Changed("prefetch"))
		},
	}
	cmd.Flags().StringSliceVar(&queues, "queues", nil, `queues to read, "name" or "name:concurrency" (default: [worker] queues)`)
	cmd.Flags().IntVar(&concurrency, "concurrency", 0, "jobs of a queue run at once, unless its entry says (default: [worker] concurrency)")
	cmd.Flags().IntVar(&prefetch, "prefetch", 0, "jobs of a queue taken ahead of a free slot (default: [worker] prefetch)")
	return cmd
}

// runWorker runs a standalone worker until SIGINT or SIGTERM.
func runWorker(confDir string, queues []string, concurrency, prefetch int, queuesSet, concurrencySet, prefetchSet bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a, err := open(ctx, confDir)
	if err != nil {
		return err
	}
	defer a.close()
	wc := a.cfg.Common.Worker
	if !queuesSet {
		queues = wc.Queues
	}
	if !concurrencySet {
		concurrency = wc.Concurrency
	} else if concurrency < 1 || concurrency > 10000 {
		return usagef("--concurrency: want 1 to 10000, got %d", concurrency)
	}
	if !prefetchSet {
		prefetch = wc.Prefetch
	} else if prefetch < 0 || prefetch > 10000 {
		return usagef("--prefetch: want 0 to 10000, got %d", prefetch)
	}
	byQueue, err := engine.ParseQueues(queues, concurrency)
	if err != nil {
		return usagef("--queues: %v", err)
	}
	if !a.cfg.Redis.Enabled() {
		return errors.New("taskrunner worker needs Redis: redis.toml addr (or addrs) is empty, so queued runs stay inside each daemon, run by its embedded worker")
	}
	tr, _, closeTr, err := openTransport(ctx, a)
	if err != nil {
		return err
	}
	defer closeTr()
	reg, closeKinds, err := appRegistry(a)
	if err != nil {
		return err
	}
	defer closeKinds()
	// The worker records its runs' outcomes, so it is the one to alert
	// on them (notice.toml, as a daemon).
	alerts, stopAlerts, err := startAlerts(a)
	if err != nil {
		return err
	}
	defer stopAlerts()
	go func() { // task rows edited since are read again, as a daemon's syncs make it
		t := time.NewTicker(a.cfg.Common.Scheduler.SyncInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				alerts.Reread()
			}
		}
	}()
	w, err := engine.NewWorker(a.cfg.Common.Scheduler, engine.WorkerConfig{Queues: byQueue, Prefetch: prefetch, Info: hostInfo(), Join: workerJoin(a, wc.Token)},
		a.db, reg, tr, a.log, engine.WithVersion(version), engine.WithObserver(alerts))
	if err != nil {
		return err
	}
	return w.Run(ctx)
}
