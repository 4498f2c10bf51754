package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"taskrunner/bench/internal/procstat"
	"taskrunner/models"
	"taskrunner/tasks"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/kinds"
)

// queueRun: N rows of a generic kind (http or shell) on "* * * * * *",
// queued by the engine and run by in-process workers, for a duration.
// The transport is the daemon's in-process queue, or Redis with -redis.
func queueRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("queue", flag.ExitOnError)
	var c common
	c.flags(fs)
	ownDB(fs, "taskrunner_bench_queue")
	kind := fs.String("kind", "http", "http (GET to a local server answering 200) or shell (/bin/true)")
	n := fs.Int("tasks", 1000, "tasks, each fired every second")
	duration := fs.Duration("duration", 30*time.Second, "how long")
	conc := fs.Int("concurrency", 8, "jobs each worker runs at once (its goroutines on the queue)")
	prefetch := fs.Int("prefetch", 0, "jobs each worker takes ahead of a free slot ([worker] prefetch)")
	workers := fs.Int("workers", 1, "worker instances in this process, each with its own pool")
	redisAddr := fs.String("redis", "", "Redis server (host:port) of the queue; empty: the in-process queue")
	warmup := fs.Duration("warmup", 5*time.Second, "fires in this first span are counted for missing and duplicates but not in the rate and latency")
	_ = fs.Parse(args)
	if *kind != kinds.KindHTTP && *kind != kinds.KindShell {
		return fmt.Errorf("-kind: want http or shell, got %q", *kind)
	}

	log := c.logger()
	dir, err := os.MkdirTemp("", "bench-queue-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	kcfg := kinds.DefaultConfig()
	kcfg.Shell.CollectDir, kcfg.Shell.LogDir = dir, dir
	kcfg.Shell.AllowOutside = true // "collected": false runs /bin/true
	kcfg.HTTP.AllowHosts = []string{"127.0.0.1"}
	builtin, err := kinds.New(kcfg, log)
	if err != nil {
		return err
	}
	defer builtin.Close()
	reg := tasks.NewRegistry()
	if err := builtin.Register(reg); err != nil {
		return err
	}

	var extra string
	switch *kind {
	case kinds.KindHTTP:
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
		defer srv.Close()
		if u, _ := url.Parse(srv.URL); u.Hostname() != "127.0.0.1" {
			return fmt.Errorf("test server on %s, not 127.0.0.1", u.Host)
		}
		extra = fmt.Sprintf(`{"overlap":"allow","url":%q}`, srv.URL+"/")
	case kinds.KindShell:
		extra = `{"overlap":"allow","executable":"/bin/true","collected":false}`
	}

	tr, closeTr, redisPid, err := queueTransport(ctx, *redisAddr, log)
	if err != nil {
		return err
	}
	defer closeTr()

	rows := make([]models.Task, *n)
	for i := range rows {
		rows[i] = models.Task{Key: fmt.Sprintf("queue_%d", i), Func: *kind, Trigger: "cron", Spec: "* * * * * *", IsValid: 1, Extra: extra}
	}
	open, db, _, err := c.seeded(ctx, rows)
	if err != nil {
		return err
	}
	defer db.Close()

	cfg := engine.DefaultConfig()
	cfg.SyncInterval = 10 * time.Second
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range *workers {
		pool, err := open()
		if err != nil {
			return err
		}
		defer pool.Close()
		w, err := engine.NewWorker(cfg, engine.WorkerConfig{Queues: map[string]int{engine.DefaultQueue: *conc}, Prefetch: *prefetch}, pool, reg, tr, log)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(runCtx) }()
	}
	pool, err := open()
	if err != nil {
		return err
	}
	defer pool.Close()
	e, err := engine.New(cfg, pool, reg, log, engine.WithQueue(tr, func(fn string) bool { return fn == kinds.KindHTTP || fn == kinds.KindShell }))
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() { defer wg.Done(); _ = e.Run(runCtx) }()

	stopProfile, err := c.profile()
	if err != nil {
		return err
	}
	dbCPU := procstat.StartServerCPU(c.driver, c.dsn)
	redisCPU := procstat.StartRedisCPU(*redisAddr, redisPid)
	before := readUsage()
	began := time.Now().UTC()
	select {
	case <-time.After(*duration):
	case <-ctx.Done():
	}
	ended := time.Now().UTC()
	after := readUsage()
	dbUse, redisUse := dbCPU.Stop(), redisCPU.Stop()
	stopProfile()
	cancel()
	wg.Wait()

	from, to := began.Add(2*time.Second).Truncate(time.Second), ended.Add(-2*time.Second).Truncate(time.Second)
	steady := began.Add(*warmup).Truncate(time.Second)
	if steady.Before(from) {
		steady = from
	}
	transport := "in-process queue"
	if *redisAddr != "" {
		transport = "Redis " + *redisAddr
	}
	title := fmt.Sprintf("queue: %d %s tasks on * * * * * *, %s, %d worker(s) x %d (prefetch %d), %s, %s", *n, *kind, transport, *workers, *conc, *prefetch, c.driver, ended.Sub(began).Round(time.Second))
	return reportQueue(ctx, db, title, *n, from, steady, to, began, ended, [][2]string{
		{"CPU (engine + workers, this process)", fmt.Sprintf("%.0f%% of one core", 100*float64(after.cpu-before.cpu)/float64(ended.Sub(began)))},
		{"CPU (database server)", dbUse},
		{"CPU (Redis server)", redisUse},
		{"peak RSS (this process)", mb(after.peak)},
	})
}

// reportQueue reads execute_task for fire times in [from, to]: the rate
// and latency over [steady, to], missing and duplicate pairs over all.
func reportQueue(ctx context.Context, db *models.DB, title string, n int, from, steady, to, began, ended time.Time, usage [][2]string) error {
	// retry_at of a queued run is when it was sent: its fire time for a
	// run queued by its claim, else when the row was marked queued (then
	// sent).
	var runs []struct {
		Sched   time.Time `db:"scheduled_at"`
		Handed  time.Time `db:"retry_at"`
		Started time.Time `db:"started_at"`
	}
	if err := db.SelectContext(ctx, &runs, "SELECT scheduled_at, retry_at, started_at FROM execute_task WHERE attempt = 1 AND status = 'success' AND scheduled_at BETWEEN ? AND ?", steady, to); err != nil {
		return err
	}
	lat, hand, take := make([]time.Duration, len(runs)), make([]time.Duration, len(runs)), make([]time.Duration, len(runs))
	for i, r := range runs {
		lat[i], hand[i], take[i] = r.Started.Sub(r.Sched), r.Handed.Sub(r.Sched), r.Started.Sub(r.Handed)
	}
	slices.Sort(lat)
	slices.Sort(hand)
	slices.Sort(take)
	// Throughput end to end: runs that finished with success in the
	// steady span of wall time, whatever their fire time (a backlog is
	// still work done).
	var finished int
	finFrom, finTo := steady, to.Add(time.Second)
	if err := db.GetContext(ctx, &finished, "SELECT COUNT(*) FROM execute_task WHERE status = 'success' AND finished_at >= ? AND finished_at < ?", finFrom, finTo); err != nil {
		return err
	}
	var pairs, dup int
	if err := db.GetContext(ctx, &pairs, "SELECT COUNT(*) FROM (SELECT DISTINCT task_id, scheduled_at FROM execute_task WHERE attempt = 1 AND scheduled_at BETWEEN ? AND ?) p", from, to); err != nil {
		return err
	}
	if err := db.GetContext(ctx, &dup, "SELECT COUNT(*) FROM (SELECT task_id FROM execute_task WHERE attempt = 1 AND scheduled_at BETWEEN ? AND ? GROUP BY task_id, scheduled_at HAVING COUNT(*) > 1) p", from, to); err != nil {
		return err
	}
	var byStatus []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := db.SelectContext(ctx, &byStatus, "SELECT status, COUNT(*) AS n FROM execute_task WHERE scheduled_at BETWEEN ? AND ? GROUP BY status ORDER BY status", from, to); err != nil {
		return err
	}
	statuses := ""
	for _, s := range byStatus {
		statuses += fmt.Sprintf("%s %d; ", s.Status, s.N)
	}
	seconds := int(to.Sub(from)/time.Second) + 1
	steadySeconds := int(to.Sub(steady)/time.Second) + 1
	expected := n * seconds
	rows := [][2]string{
		{"offered", fmt.Sprintf("%d runs/s (%d s x %d tasks = %d fire times measured)", n, seconds, n, expected)},
		{"completed (success, finished in the steady span)", fmt.Sprintf("%.0f runs/s (%d in %.0f s)", float64(finished)/finTo.Sub(finFrom).Seconds(), finished, finTo.Sub(finFrom).Seconds())},
		{"fires of the steady span run with success", fmt.Sprintf("%d of %d (%d s)", len(runs), n*steadySeconds, steadySeconds)},
		{"missing", fmt.Sprint(expected - pairs)},
		{"duplicate", fmt.Sprint(dup)},
		{"rows by status, all fires measured", statuses},
	}
	if len(lat) == 0 {
		rows = append(rows, [2]string{"enqueue -> start", "none of the steady span's fires started (a backlog)"})
	} else {
		rows = append(rows, [][2]string{
			{"enqueue -> start min", ms(percentile(lat, 0))},
			{"enqueue -> start p50", ms(percentile(lat, 0.50))},
			{"enqueue -> start p90", ms(percentile(lat, 0.90))},
			{"enqueue -> start p99", ms(percentile(lat, 0.99))},
			{"enqueue -> start max", ms(percentile(lat, 1))},
			{"of which fire time -> sent (retry_at; 0 when queued by the claim; p50 / p99)", ms(percentile(hand, 0.5)) + " / " + ms(percentile(hand, 0.99))},
			{"of which sent -> taken by a worker (p50 / p99)", ms(percentile(take, 0.5)) + " / " + ms(percentile(take, 0.99))},
		}...)
	}
	table(os.Stdout, title, append(rows, usage...))
	return nil
}
