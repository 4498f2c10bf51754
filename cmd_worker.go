package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"taskrunner/tasks/engine"
	"taskrunner/tasks/metrics"
)

func newWorkerCmd(g *globals) *cobra.Command {
	var queues []string
	var concurrency, prefetch int
	var metricsAddr string
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
			set := cmd.Flags().Changed
			return runWorker(g.confDir, queues, concurrency, prefetch, metricsAddr, set("queues"), set("concurrency"), set("prefetch"), set("metrics-addr"))
		},
	}
	cmd.Flags().StringSliceVar(&queues, "queues", nil, `queues to read, "name" or "name:concurrency" (default: [worker] queues)`)
	cmd.Flags().IntVar(&concurrency, "concurrency", 0, "jobs of a queue run at once, unless its entry says (default: [worker] concurrency)")
	cmd.Flags().IntVar(&prefetch, "prefetch", 0, "jobs of a queue taken ahead of a free slot (default: [worker] prefetch)")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "", `serve Prometheus /metrics on this "host:port"; empty: none (default: [worker] metrics_addr)`)
	return cmd
}

// runWorker runs a standalone worker until SIGINT or SIGTERM.
func runWorker(confDir string, queues []string, concurrency, prefetch int, metricsAddr string, queuesSet, concurrencySet, prefetchSet, metricsSet bool) error {
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
	if !metricsSet {
		metricsAddr = wc.MetricsAddr
	} else if _, _, err := net.SplitHostPort(metricsAddr); metricsAddr != "" && err != nil {
		return usagef("--metrics-addr: want host:port (\":9101\"), got %q", metricsAddr)
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
	opts := []engine.Option{engine.WithVersion(version), engine.WithObserver(alerts)}
	if metricsAddr != "" {
		m := metrics.New(a.db, metrics.Config{}, a.log)
		stopMetrics, err := serveMetrics(metricsAddr, m.Handler(), a.log)
		if err != nil {
			return err
		}
		defer stopMetrics()
		opts = append(opts, engine.WithObserver(m))
	}
	w, err := engine.NewWorker(a.cfg.Common.Scheduler, engine.WorkerConfig{Queues: byQueue, Prefetch: prefetch, Info: hostInfo(), Join: workerJoin(a, wc.Token)},
		a.db, reg, tr, a.log, opts...)
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// serveMetrics serves h as /metrics on addr until the returned func is
// called. The address is bound before it returns: one in use is an error.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr (or [worker] metrics_addr) %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "error", err)
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
