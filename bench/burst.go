package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"taskrunner/bench/internal/procstat"
	"taskrunner/models"
	"taskrunner/tasks/engine"
)

// burst: N tasks on "* * * * * *", all due at the same instant every
// second, on R replicas, for a duration.
func burst(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("burst", flag.ExitOnError)
	var c common
	c.flags(fs)
	n := fs.Int("tasks", 1000, "tasks")
	replicas := fs.Int("replicas", 1, "in-process replicas, each with its own pool")
	duration := fs.Duration("duration", 60*time.Second, "how long")
	spec := fs.String("spec", "* * * * * *", "cron spec of every task")
	ahead := fs.Duration("claim-ahead", 800*time.Millisecond, "claim_ahead: claim this long before the fire time")
	maxRuns := fs.Int("max-concurrent", 0, "max_concurrent_runs of each replica (0: the daemon's default)")
	warmup := fs.Duration("warmup", 5*time.Second, "fires in this first span are counted for missing and duplicates, and their lateness reported apart")
	_ = fs.Parse(args)

	open, err := c.fresh(ctx)
	if err != nil {
		return err
	}
	db, err := open()
	if err != nil {
		return err
	}
	rows := make([]models.Task, *n)
	for i := range rows {
		rows[i] = models.Task{Key: fmt.Sprintf("burst_%d", i), Func: "noop", Trigger: "cron", Spec: *spec, IsValid: 1, Extra: `{"overlap":"allow"}`}
	}
	if err := models.InsertTasks(ctx, db, rows); err != nil {
		return err
	}

	log := c.logger()
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var engines []*engine.Engine
	for range *replicas {
		pool, err := open()
		if err != nil {
			cancel()
			return err
		}
		cfg := engine.DefaultConfig()
		cfg.SyncInterval, cfg.ClaimAhead = 10*time.Second, *ahead
		if *maxRuns > 0 {
			cfg.MaxConcurrentRuns = *maxRuns
		}
		e, err := newEngine(pool, log, cfg)
		if err != nil {
			cancel()
			return err
		}
		engines = append(engines, e)
		wg.Add(1)
		go func() { defer wg.Done(); _ = e.Run(runCtx) }()
	}
	stopProfile, err := c.profile()
	if err != nil {
		cancel()
		return err
	}
	server := procstat.StartServerCPU(c.driver, c.dsn)
	before := readUsage()
	began := time.Now().UTC()
	select {
	case <-time.After(*duration):
	case <-ctx.Done():
	}
	ended := time.Now().UTC()
	after := readUsage()
	serverCPU := server.Stop()
	stopProfile()
	cancel()
	wg.Wait()

	// Fire times from 2 s after the start to 2 s before the end: every
	// replica was up for all of them. The first warm-up seconds (the
	// engine starting: connections opened, the first claims on a cold
	// table) are counted but their lateness is reported apart.
	from, to := began.Add(2*time.Second).Truncate(time.Second), ended.Add(-2*time.Second).Truncate(time.Second)
	steady := began.Add(*warmup).Truncate(time.Second)
	if steady.Before(from) {
		steady = from
	}
	return reportBurst(ctx, db, *n, *replicas, *spec, from, steady, to, after.cpu-before.cpu, ended.Sub(began), after.peak, serverCPU, c.driver)
}

func reportBurst(ctx context.Context, db *models.DB, n, replicas int, spec string, from, steady, to time.Time, cpu, wall time.Duration, peak int64, serverCPU, driver string) error {
	var runs []struct {
		Sched   time.Time `db:"scheduled_at"`
		Started time.Time `db:"started_at"`
	}
	if err := db.SelectContext(ctx, &runs, "SELECT scheduled_at, started_at FROM execute_task WHERE attempt = 1 AND status = 'success' AND scheduled_at BETWEEN ? AND ?", from, to); err != nil {
		return err
	}
	var late []time.Duration
	var warmLate time.Duration
	for _, r := range runs {
		if r.Sched.Before(steady) {
			warmLate = max(warmLate, r.Started.Sub(r.Sched))
		} else {
			late = append(late, r.Started.Sub(r.Sched))
		}
	}
	slices.Sort(late)
	var pairs, dup, other int
	if err := db.GetContext(ctx, &pairs, "SELECT COUNT(*) FROM (SELECT DISTINCT task_id, scheduled_at FROM execute_task WHERE attempt = 1 AND scheduled_at BETWEEN ? AND ?) p", from, to); err != nil {
		return err
	}
	if err := db.GetContext(ctx, &dup, "SELECT COUNT(*) FROM (SELECT task_id FROM execute_task WHERE attempt = 1 AND scheduled_at BETWEEN ? AND ? GROUP BY task_id, scheduled_at HAVING COUNT(*) > 1) p", from, to); err != nil {
		return err
	}
	if err := db.GetContext(ctx, &other, "SELECT COUNT(*) FROM execute_task WHERE status <> 'success' AND scheduled_at BETWEEN ? AND ?", from, to); err != nil {
		return err
	}
	seconds := int(to.Sub(from)/time.Second) + 1
	expected := n * seconds
	table(os.Stdout, fmt.Sprintf("burst: %d tasks on %s, %d replica(s), %s, %s", n, spec, replicas, driver, wall.Round(time.Second)), [][2]string{
		{"fire times measured", fmt.Sprintf("%d s x %d tasks = %d", seconds, n, expected)},
		{"runs recorded (success)", fmt.Sprint(len(runs))},
		{"missing", fmt.Sprint(expected - pairs)},
		{"duplicate", fmt.Sprint(dup)},
		{"not success", fmt.Sprint(other)},
		{"lateness max, warm-up fires", fmt.Sprintf("%s (%d s from the start, not in the lateness below)", ms(warmLate), int(steady.Sub(from)/time.Second))},
		{"lateness p50", ms(percentile(late, 0.50))},
		{"lateness p90", ms(percentile(late, 0.90))},
		{"lateness p99", ms(percentile(late, 0.99))},
		{"lateness max", ms(percentile(late, 1))},
		{"CPU (all replicas)", fmt.Sprintf("%.0f%% of one core", 100*float64(cpu)/float64(wall))},
		{"CPU (database server)", serverCPU},
		{"peak RSS (all replicas)", mb(peak)},
	})
	return nil
}
