package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"taskrunner/bench/internal/procstat"
	"taskrunner/models"
	"taskrunner/tasks/engine"
)

// backfill: the fire times of a task over a past range, one after
// another with no pause (Engine.Backfill, every = 0): each claimed,
// run and recorded as a run of its own fire time.
func backfill(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backfill", flag.ExitOnError)
	var c common
	c.flags(fs)
	ownDB(fs, "taskrunner_bench_api")
	fires := fs.Int("fires", 10000, "fire times to backfill (the task runs every second)")
	overlap := fs.String("overlap", "", "the task's overlap option (forbid, allow, replace); empty: the default, forbid")
	_ = fs.Parse(args)

	open, err := c.fresh(ctx)
	if err != nil {
		return err
	}
	db, err := open()
	if err != nil {
		return err
	}
	defer db.Close()
	const key = "backfilled"
	extra := "{}"
	if *overlap != "" {
		extra = fmt.Sprintf(`{"overlap":%q}`, *overlap)
	}
	if _, err := models.InsertTask(ctx, db, models.Task{Key: key, Func: "noop", Trigger: "interval", Spec: "1", IsValid: 1, Extra: extra}); err != nil {
		return err
	}
	e, err := newEngine(db, c.logger(), engine.DefaultConfig())
	if err != nil {
		return err
	}
	if err := e.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = e.Shutdown() }()
	if err := e.SyncOnce(ctx); err != nil {
		return err
	}
	// A range that ended an hour ago; the task also fires every second
	// on its live schedule meanwhile, as it would in the daemon.
	to := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	from := to.Add(-time.Duration(*fires-1) * time.Second)

	server := procstat.StartServerCPU(c.driver, c.dsn)
	u0, t0 := readUsage(), time.Now()
	rep, err := e.Backfill(ctx, key, from, to, 0)
	took := time.Since(t0)
	u1 := readUsage()
	serverCPU := server.Stop()
	if err != nil {
		return err
	}
	var ok int
	if err := db.GetContext(ctx, &ok, "SELECT COUNT(*) FROM execute_task WHERE source = ? AND status = ? AND scheduled_at BETWEEN ? AND ?",
		models.SourceBackfill, models.RunSuccess, from, to); err != nil {
		return err
	}
	table(os.Stdout, fmt.Sprintf("backfill: %d fire times of an interval \"1\" task, extra %s, every = 0, %s", *fires, extra, c.driver), [][2]string{
		{"fire times in the range / started / taken / skipped", fmt.Sprintf("%d / %d / %d / %d", len(rep.Plan.Times), rep.Started, rep.Taken, rep.Skipped)},
		{"recorded success (source backfill)", fmt.Sprint(ok)},
		{"took", fmt.Sprintf("%s (plan included)", took.Round(time.Millisecond))},
		{"throughput", fmt.Sprintf("%.0f fire times/s (%s each), skipped ones included: %.0f/s", float64(rep.Started)/took.Seconds(),
			ms2(took/time.Duration(max(rep.Started, 1))), float64(len(rep.Plan.Times))/took.Seconds())},
		{"CPU (engine)", fmt.Sprintf("%.0f%% of one core", 100*float64(u1.cpu-u0.cpu)/float64(took))},
		{"CPU (database server)", serverCPU},
		{"peak RSS", mb(u1.peak)},
	})
	return nil
}
