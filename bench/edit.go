package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"taskrunner/bench/internal/procstat"
	"taskrunner/models"
	"taskrunner/tasks/engine"
)

// edit: a raw SQL UPDATE of a row's schedule, to the first fire on the
// new schedule, with a given sync interval; and the idle cost of syncing.
func edit(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("edit", flag.ExitOnError)
	var c common
	c.flags(fs)
	interval := fs.Duration("sync", time.Second, "sync interval")
	tries := fs.Int("tries", 10, "edits to measure")
	rows := fs.Int("rows", 1000, "other rows in the table")
	_ = fs.Parse(args)

	open, err := c.fresh(ctx)
	if err != nil {
		return err
	}
	db, err := open()
	if err != nil {
		return err
	}
	var others []models.Task
	for i := range *rows {
		others = append(others, models.Task{Key: fmt.Sprintf("other_%d", i), Func: "noop", Trigger: "cron", Spec: "0 0 1 1 *", IsValid: 1})
	}
	if err := models.InsertTasks(ctx, db, others); err != nil {
		return err
	}
	id, err := models.InsertTask(ctx, db, models.Task{Key: "edited", Func: "noop", Trigger: "cron", Spec: "0 0 1 1 *", IsValid: 1})
	if err != nil {
		return err
	}
	cfg := engine.DefaultConfig()
	cfg.SyncInterval = *interval
	e, err := newEngine(db, c.logger(), cfg)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { _ = e.Run(runCtx); close(done) }()
	time.Sleep(2 * *interval)

	// Idle cost: CPU over a quiet stretch.
	server := procstat.StartServerCPU(c.driver, c.dsn)
	u0, w0 := readUsage(), time.Now()
	time.Sleep(10 * *interval)
	idleCPU := float64(readUsage().cpu-u0.cpu) / float64(time.Since(w0))
	idleServerCPU := server.Stop()

	var lags []time.Duration
	for i := range *tries {
		// Each edit picks a schedule the row did not have: every second
		// with a different seconds list, so the first fire is within 1 s.
		spec := fmt.Sprintf("%d-59/%d * * * * *", i%2, 1+i%2)
		edited := time.Now().UTC()
		if _, err := db.ExecContext(ctx, "UPDATE task SET spec = ? WHERE id = ?", spec, id); err != nil {
			return err
		}
		var first time.Time
		for deadline := edited.Add(3 * *interval); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var at []time.Time
			if err := db.SelectContext(ctx, &at, "SELECT started_at FROM execute_task WHERE task_id = ? AND started_at > ? ORDER BY id LIMIT 1", id, edited); err != nil {
				return err
			}
			if len(at) > 0 {
				first = at[0]
				break
			}
		}
		if first.IsZero() {
			return fmt.Errorf("edit %d: no run within %s", i, 3**interval)
		}
		lags = append(lags, first.Sub(edited))
		if _, err := db.ExecContext(ctx, "UPDATE task SET spec = '0 0 1 1 *' WHERE id = ?", id); err != nil {
			return err
		}
		time.Sleep(2 * *interval)
	}
	cancel()
	<-done
	slices.Sort(lags)
	table(os.Stdout, fmt.Sprintf("edit: raw UPDATE of spec to the first fire on the new schedule, sync every %s, %d rows, %s", *interval, *rows+1, c.driver), [][2]string{
		{"edits", fmt.Sprint(len(lags))},
		{"UPDATE to first fire, median", ms(lags[len(lags)/2])},
		{"UPDATE to first fire, max", ms(lags[len(lags)-1])},
		{"idle CPU (engine)", fmt.Sprintf("%.2f%% of one core", 100*idleCPU)},
		{"idle CPU (database server)", idleServerCPU},
	})
	return nil
}
