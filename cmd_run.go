package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"syscall"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"taskrunner/api"
	"taskrunner/libs/notice"
	"taskrunner/libs/redispool"
	"taskrunner/models"
	"taskrunner/tasks"
	"taskrunner/tasks/alert"
	"taskrunner/tasks/cron"
	"taskrunner/tasks/date"
	"taskrunner/tasks/edits"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/interval"
	"taskrunner/tasks/kinds"
	"taskrunner/tasks/metrics"
	"taskrunner/tasks/system"
)

func newRunCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the scheduler daemon (the default command)",
		Long: `Run the scheduler daemon: apply the task table to the schedule, run each
fire once across all replicas and record it in execute_task, until SIGINT or
SIGTERM. With [app] migrate_on_start the tables are created or upgraded first.
With addr set in api.toml (the default in local only) it serves the HTTP API.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return daemon(g.confDir, cmd.OutOrStdout()) },
	}
}

// daemon runs the engine (and the API, when configured) until SIGINT or
// SIGTERM, then shuts it down. stdout gets the one-time sign-in line.
func daemon(confDir string, stdout io.Writer) error {
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
	reg, closeKinds, err := appRegistry(a)
	if err != nil {
		return err
	}
	defer closeKinds()
	m := metrics.New(a.db, metrics.Config{}, a.log)
	alerts, stopAlerts, err := startAlerts(a)
	if err != nil {
		return err
	}
	defer stopAlerts()
	tr, local, closeTr, err := openTransport(ctx, a)
	if err != nil {
		return err
	}
	defer closeTr()
	wc := a.cfg.Common.Worker
	if local && !wc.Embedded {
		return errors.New("common.toml: key \"worker.embedded\": false needs Redis (redis.toml addr): without it the queue is in this process, and only its embedded worker reads it")
	}
	eng, err := engine.New(a.cfg.Common.Scheduler, a.db, reg, a.log, engine.WithVersion(version),
		engine.WithObserver(m), engine.WithObserver(alerts), engine.WithQueue(tr, queuedByDefault))
	if err != nil {
		return err
	}
	var worker *engine.Worker
	if wc.Embedded {
		byQueue, err := engine.ParseQueues(wc.Queues, wc.Concurrency)
		if err != nil {
			return fmt.Errorf("common.toml: key \"worker.queues\": %w", err)
		}
		info := hostInfo()
		info["embedded"] = true
		worker, err = engine.NewWorker(a.cfg.Common.Scheduler, engine.WorkerConfig{Queues: byQueue, Prefetch: wc.Prefetch, Info: info}, a.db, reg, tr, a.log,
			engine.WithVersion(version), engine.WithObserver(m), engine.WithObserver(alerts))
		if err != nil {
			return err
		}
	}
	m.Watch(eng)
	a.log.Info("started", "version", version, "database", a.cfg.Common.App.Database, "functions", reg.Names(),
		"sync_interval", a.cfg.Common.Scheduler.SyncInterval)
	served := make(chan error, 1)
	if a.cfg.API.Addr != "" {
		if err := serveAPI(ctx, a, eng, editBus(ctx, a, eng), m.Handler(), stdout, served); err != nil {
			return err
		}
	} else {
		served <- nil
	}
	worked := make(chan error, 1)
	if worker != nil {
		go func() { worked <- worker.Run(ctx) }()
	} else {
		worked <- nil
	}
	err = eng.Run(ctx)
	if werr := <-worked; err == nil {
		err = werr
	}
	if apiErr := <-served; err == nil {
		err = apiErr
	}
	return err
}

// startAlerts starts the notifier (notice.toml's channels; none by
// default) and the alert rules that feed it. stop, called once the engine
// has stopped, sends what is queued within a deadline.
func startAlerts(a *app) (*alert.Alerts, func(), error) {
	n, err := notice.New(a.cfg.Notice, notice.WithLogger(a.log.With("service", "notice")))
	if err != nil {
		return nil, nil, err
	}
	alerts, err := alert.New(a.db, a.cfg.Alert, a.cfg.Common.Scheduler.Location, n, a.log)
	if err != nil {
		return nil, nil, err
	}
	n.Start()
	alerts.Start()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Notice.Timeout)
		defer cancel()
		if err := alerts.Stop(ctx); err != nil {
			a.log.Warn("alerts not all handled at shutdown", "error", err)
		}
		if err := n.Stop(ctx); err != nil {
			a.log.Warn("alerts not all sent at shutdown", "error", err)
		}
	}
	return alerts, stop, nil
}

// serveAPI listens on [api] addr (an address in use stops the start) and
// serves the API until ctx ends, reporting its end on done. With
// token_file set, the first start creates the local admin token and
// prints it once on stdout, not in the log.
func serveAPI(ctx context.Context, a *app, eng *engine.Engine, bus *edits.Bus, metricsHandler http.Handler, stdout io.Writer, done chan<- error) error {
	cfg := a.cfg.API
	if cfg.TokenFile != "" {
		tok, created, err := api.LocalToken(cfg.TokenFile)
		if err != nil {
			return fmt.Errorf("api token_file: %w", err)
		}
		cfg.Tokens = append(cfg.Tokens, tok)
		if created != "" {
			fmt.Fprintf(stdout, "API at http://%s: sign in with the header \"Authorization: Bearer %s\" "+
				"(admin; shown once, only its SHA-256 is kept in %s)\n", cfg.Addr, created, cfg.TokenFile)
			fmt.Fprintf(stdout, "Web console at http://%s/console/: sign in with the same token\n", cfg.Addr)
		} else {
			fmt.Fprintf(stdout, "Web console at http://%s/console/: sign in with the token printed at the first start "+
				"(delete %s for a new one)\n", cfg.Addr, cfg.TokenFile)
		}
	} else {
		fmt.Fprintf(stdout, "Web console at http://%s/console/: sign in with a token of api.toml\n", cfg.Addr)
	}
	opts := api.Options{Config: cfg, DB: a.db, Engine: eng, Log: a.log, Metrics: metricsHandler}
	if bus != nil {
		opts.Edited = bus.Publish
	}
	srv, err := api.New(opts)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	a.log.Info("api serving", "addr", l.Addr().String(), "tokens", len(cfg.Tokens))
	go func() { done <- srv.Serve(ctx, l) }()
	return nil
}

// editBus, with Redis configured, tells the other replicas of the edits
// made through this one's API, and applies theirs here. Without Redis,
// or when it does not answer at start, edits reach the other replicas at
// their next sync.
func editBus(ctx context.Context, a *app, eng *engine.Engine) *edits.Bus {
	if !a.cfg.Redis.Enabled() {
		return nil
	}
	rdb, err := redispool.Open(ctx, a.cfg.Redis)
	if err != nil {
		a.log.Warn("redis unreachable: API edits reach the other replicas at their next sync", "error", err)
		return nil
	}
	redispool.CheckServer(ctx, rdb, a.log) // warns of eviction or no persistence; never stops the start
	bus := edits.New(rdb, a.cfg.Redis.Prefix, uuid.NewString(), a.log)
	if err := bus.Listen(ctx, eng.Reload); err != nil {
		a.log.Warn("redis: edits of the other replicas are applied at the next sync", "error", err)
	}
	context.AfterFunc(ctx, func() { _ = rdb.Close() })
	return bus
}

// registry holds the task functions of tasks/cron, tasks/date and
// tasks/interval, the built-in kinds and the system tasks: the daemon runs
// them, and the CLI checks rows against them as the engine would (with
// builtin nil: the kinds and the system tasks with their default
// configuration, for their names and args; they are not run).
// appRegistry is the registry of the daemon and the workers: the
// functions of the binary, and the kinds configured by kinds.toml (their
// datasource pools released by close).
func appRegistry(a *app) (reg *tasks.Registry, close func(), err error) {
	builtin, err := kinds.New(a.cfg.Kinds, a.log, kinds.WithTaskDB(a.db))
	if err != nil {
		return nil, nil, err
	}
	if reg, err = registry(builtin, a.db, a.cfg.Common.Retention); err != nil {
		_ = builtin.Close()
		return nil, nil, err
	}
	return reg, func() { _ = builtin.Close() }, nil
}

func registry(builtin *kinds.Kinds, db *models.DB, retention system.Config) (*tasks.Registry, error) {
	if builtin == nil {
		var err error
		if builtin, err = kinds.New(kinds.DefaultConfig(), nil); err != nil {
			return nil, err
		}
		retention = system.DefaultConfig()
	}
	registerSystem := func(r *tasks.Registry) error { return system.Register(r, db, retention) }
	reg := tasks.NewRegistry()
	for _, register := range []func(*tasks.Registry) error{cron.Register, date.Register, interval.Register, builtin.Register, registerSystem} {
		if err := register(reg); err != nil {
			return nil, err
		}
	}
	return reg, nil
}
