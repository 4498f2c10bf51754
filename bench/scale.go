package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"taskrunner/bench/internal/procstat"
	"taskrunner/models"
	"taskrunner/tasks/engine"
)

// scale: many rows of mixed kinds; start-up, idle syncs, a sync after an
// edit of many rows.
func scale(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	var c common
	c.flags(fs)
	n := fs.Int("rows", 100000, "rows")
	changed := fs.Int("changed", 1000, "rows edited before the busy sync")
	_ = fs.Parse(args)

	open, err := c.fresh(ctx)
	if err != nil {
		return err
	}
	db, err := open()
	if err != nil {
		return err
	}
	// Mixed rows across an hour: cron on each minute, intervals of 1..60
	// min, dates spread over the next hour.
	now := time.Now().UTC()
	rows := make([]models.Task, *n)
	for i := range rows {
		t := models.Task{Key: fmt.Sprintf("scale_%d", i), Func: "noop", IsValid: 1}
		switch i % 3 {
		case 0:
			t.Trigger, t.Spec = "cron", fmt.Sprintf("%d * * * *", i%60)
		case 1:
			t.Trigger, t.Spec = "interval", fmt.Sprintf("%dm", 1+i%60)
		case 2:
			t.Trigger, t.Spec = "date", now.Add(time.Duration(60+i%3600)*time.Second).Format("2006-01-02 15:04:05")
		}
		rows[i] = t
	}
	if err := models.InsertTasks(ctx, db, rows); err != nil {
		return err
	}
	// Age the rows, as in a table edited more than a minute ago.
	if _, err := db.ExecContext(ctx, "UPDATE task SET update_at = ?", now.Add(-time.Hour)); err != nil {
		return err
	}

	cfg := engine.DefaultConfig()
	cfg.SyncInterval, cfg.FullSyncInterval = 10*time.Second, time.Hour
	e, err := newEngine(db, c.logger(), cfg)
	if err != nil {
		return err
	}
	if err := e.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = e.Shutdown() }()

	server := procstat.StartServerCPU(c.driver, c.dsn)
	cpu0 := readUsage().cpu
	t0 := time.Now()
	if err := e.SyncOnce(ctx); err != nil {
		return err
	}
	startup := time.Since(t0)
	first := e.LastSync()
	peakAfterStart := readUsage().peak

	idle := make([]time.Duration, 11)
	var idleRead int
	for i := range idle {
		t := time.Now()
		if err := e.SyncOnce(ctx); err != nil {
			return err
		}
		idle[i] = time.Since(t)
		idleRead = e.LastSync().Read
	}
	slices.Sort(idle)

	if _, err := db.ExecContext(ctx, "UPDATE task SET spec = '*/5 * * * *', `trigger` = 'cron' WHERE id <= ?", *changed); err != nil {
		return err
	}
	t1 := time.Now()
	if err := e.SyncOnce(ctx); err != nil {
		return err
	}
	busy := time.Since(t1)
	engineCPU := float64(readUsage().cpu-cpu0) / float64(time.Since(t0))
	serverCPU := server.Stop()
	busyRep := e.LastSync()
	if busyRep.Changed != *changed {
		return errors.New("busy sync did not see every edit")
	}
	table(os.Stdout, fmt.Sprintf("scale: %d rows (cron, interval, date across an hour), %s", *n, c.driver), [][2]string{
		{"start to fully scheduled (first sync)", ms(startup)},
		{"schedules (gocron jobs) / rows", fmt.Sprintf("%d / %d", first.Groups, first.Tasks)},
		{"peak RSS after start", mb(peakAfterStart)},
		{"idle sync, median of 11", ms(idle[5])},
		{"idle sync, max", ms(idle[10])},
		{"rows read by an idle sync", fmt.Sprint(idleRead)},
		{fmt.Sprintf("sync after %d rows changed", *changed), ms(busy)},
		{"rows read / changed by it", fmt.Sprintf("%d / %d", busyRep.Read, busyRep.Changed)},
		{"CPU (engine), first sync to the end of the busy sync", fmt.Sprintf("%.0f%% of one core", 100*engineCPU)},
		{"CPU (database server), the same span", serverCPU},
		{"peak RSS", mb(readUsage().peak)},
	})
	return nil
}
