package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"taskrunner/models"
	"taskrunner/tasks"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/system"
)

// retention: a table with rows expired runs, deleted by system_retention
// while a burst of tasks on "* * * * * *" runs; the burst's lateness
// during the delete, and the delete rate.
func retention(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("retention", flag.ExitOnError)
	var c common
	c.flags(fs)
	rows := fs.Int("rows", 1_000_000, "expired execute_task rows to delete")
	n := fs.Int("tasks", 1000, "tasks of the burst")
	batch := fs.Int("batch", 1000, "[retention] batch_size")
	pause := fs.Duration("pause", 10*time.Millisecond, "[retention] pause")
	warmup := fs.Duration("warmup", 5*time.Second, "burst before the delete starts")
	_ = fs.Parse(args)

	open, err := c.fresh(ctx)
	if err != nil {
		return err
	}
	db, err := open()
	if err != nil {
		return err
	}
	began := time.Now()
	if err := insertExpired(ctx, db, *rows); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "inserted %d expired rows in %s\n", *rows, time.Since(began).Round(time.Second))
	tasksRows := make([]models.Task, *n)
	for i := range tasksRows {
		tasksRows[i] = models.Task{Key: fmt.Sprintf("burst_%d", i), Func: "noop", Trigger: "cron", Spec: "* * * * * *", IsValid: 1, Extra: `{"overlap":"allow"}`}
	}
	if err := models.InsertTasks(ctx, db, tasksRows); err != nil {
		return err
	}

	pool, err := open()
	if err != nil {
		return err
	}
	cfg := engine.DefaultConfig()
	e, err := newEngine(pool, c.logger(), cfg)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = e.Run(runCtx) }()
	select {
	case <-time.After(*warmup):
	case <-ctx.Done():
		return ctx.Err()
	}

	rcfg := system.DefaultConfig()
	rcfg.BatchSize, rcfg.Pause = *batch, *pause
	reg := tasks.NewRegistry()
	if err := system.Register(reg, db, rcfg); err != nil {
		return err
	}
	fn, _ := reg.Lookup(system.RetentionFunc)
	run := tasks.NewRun(65535)
	run.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	delBegan := time.Now().UTC()
	delErr := fn(runCtx, run)
	delEnded := time.Now().UTC()
	select { // two more seconds of burst after the delete
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	if delErr != nil {
		return fmt.Errorf("retention: %w", delErr)
	}
	var left int
	if err := db.GetContext(ctx, &left, "SELECT COUNT(*) FROM execute_task WHERE task_id > 1000000"); err != nil {
		return err
	}
	took := delEnded.Sub(delBegan)
	table(os.Stdout, fmt.Sprintf("retention: %d expired rows, batch %d, pause %s, %s", *rows, *batch, *pause, c.driver), [][2]string{
		{"delete took", took.Round(time.Millisecond).String()},
		{"delete rate", fmt.Sprintf("%.0f rows/s", float64(*rows-left)/took.Seconds())},
		{"expired rows left", fmt.Sprint(left)},
		{"run output", strings.ReplaceAll(strings.TrimSpace(run.OutputText()), "\n", "; ")},
	})
	// The burst's fires while the delete ran (every fire of the window
	// counts: the engine was warm before it began).
	from, to := delBegan.Add(time.Second).Truncate(time.Second), delEnded.Truncate(time.Second)
	if !to.After(from) {
		return fmt.Errorf("the delete took %s: too short to measure the burst during it (use more -rows)", took)
	}
	return reportBurst(ctx, db, *n, 1, "* * * * * * (during the delete)", from, from, to, 0, took, 0, "n/a", c.driver)
}

// insertExpired writes n finished runs created 60 days ago, of tasks
// that no longer exist (ids above a million), in statements of 2,000
// rows of literals.
func insertExpired(ctx context.Context, db *models.DB, n int) error {
	created := time.Now().UTC().Add(-60 * 24 * time.Hour).Format("2006-01-02 15:04:05")
	first := time.Now().UTC().Add(-61 * 24 * time.Hour)
	const per = 2000
	for done := 0; done < n; done += per {
		var sb strings.Builder
		sb.WriteString("INSERT INTO execute_task (task_id, status, trace_id, task_key, scheduled_at, attempt, source, create_at, output) VALUES ")
		for i := done; i < min(done+per, n); i++ {
			if i > done {
				sb.WriteByte(',')
			}
			task := 1_000_001 + i%1000
			at := first.Add(time.Duration(i/1000) * time.Second).Format("2006-01-02 15:04:05")
			fmt.Fprintf(&sb, "(%d,'success','00000000-0000-0000-0000-%012d','old_%d','%s',1,'schedule','%s','ok')", task, i, task, at, created)
		}
		if _, err := db.ExecContext(ctx, sb.String()); err != nil {
			return fmt.Errorf("insert expired rows: %w", err)
		}
	}
	return nil
}
