// Command asynq is a peer benchmark: the scenario of `go run ./bench queue
// -kind http -redis …` (N http tasks, each due every second, run by a
// worker with 8 goroutines, history in MariaDB) on github.com/hibiken/asynq
// instead of taskrunner's queue, on the same machine.
//
// It is a module of its own (taskrunner/bench/asynq) so that taskrunner's
// go.mod gains no dependency on asynq: it is a comparison only.
//
//	cd bench/asynq
//	go run . -tasks 2000 -duration 30s                  # with the history row
//	go run . -tasks 2000 -duration 30s -history=false   # without
//
// A producer enqueues N tasks at each whole second with Client.Enqueue, one
// at a time, as a cron fire of N tasks would; the Server (Concurrency 8)
// runs a handler that does a GET to a local httptest server answering 200
// (a keep-alive client) and, with -history, INSERTs one row into
// asynq_bench.execute_task. Redis DB -redis-db (13) is flushed at start.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

const taskType = "http"

// payload is a task's: its key, the whole second it is due for and when
// it was enqueued (Unix nanoseconds).
type payload struct {
	Key      int   `json:"k"`
	Sched    int64 `json:"s"`
	Enqueued int64 `json:"e"`
}

// fire is one (task, second) pair.
type fire struct {
	key   int
	sched int64
}

// started is what the handler saw of one run.
type started struct {
	sched    time.Time
	enqueued time.Time
	at       time.Time
}

// stats is what the handlers record, in memory.
type stats struct {
	mu       sync.Mutex
	runs     map[fire]int // handler invocations per (task, second)
	starts   []started
	finished []time.Time // successful runs' finish times
	failed   atomic.Int64
}

func main() {
	n := flag.Int("tasks", 2000, "tasks, each due every second (the offered rate)")
	duration := flag.Duration("duration", 30*time.Second, "how long")
	conc := flag.Int("concurrency", 8, "the Server's Concurrency")
	history := flag.Bool("history", true, "each run INSERTs a history row into MariaDB")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis server (host:port)")
	redisDB := flag.Int("redis-db", 13, "Redis DB number of the bench, flushed at start")
	dsn := flag.String("dsn", "root@tcp(127.0.0.1:3306)/", "MySQL DSN of the server; the bench uses its database asynq_bench")
	warmup := flag.Duration("warmup", 5*time.Second, "left out of the rate and latency")
	checkInterval := flag.Duration("task-check-interval", 0, "Asynq's TaskCheckInterval, how long an idle worker sleeps (0: Asynq's default, 1 s)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "asynq bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *n, *duration, *conc, *history, *redisAddr, *redisDB, *dsn, *warmup, *checkInterval); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "asynq bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, n int, duration time.Duration, conc int, history bool, redisAddr string, redisDB int, dsn string, warmup, checkInterval time.Duration) error {
	// Redis: a dedicated DB, flushed.
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, DB: redisDB})
	defer rdb.Close()
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("redis %s: %w", redisAddr, err)
	}
	redisPid := 0
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, "process_id:"); ok {
			redisPid, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return err
	}

	// MariaDB: database asynq_bench, a fresh execute_task.
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	cfg.ParseTime, cfg.Loc = true, time.UTC
	root, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	if _, err := root.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS asynq_bench"); err != nil {
		_ = root.Close()
		return err
	}
	_ = root.Close()
	cfg.DBName = "asynq_bench"
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(conc)
	db.SetMaxIdleConns(conc)
	for _, q := range []string{
		"DROP TABLE IF EXISTS execute_task",
		`CREATE TABLE execute_task (
			id bigint NOT NULL AUTO_INCREMENT,
			task_key varchar(255) NOT NULL,
			scheduled_at datetime(6) NOT NULL,
			started_at datetime(6) NOT NULL,
			finished_at datetime(6) NOT NULL,
			status varchar(32) NOT NULL,
			output text,
			PRIMARY KEY (id),
			KEY ix__execute_task__key_scheduled (task_key, scheduled_at)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}

	// The HTTP target and a keep-alive client with a connection per slot.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, IdleConnTimeout: time.Minute}}
	url := srv.URL + "/"

	st := &stats{runs: make(map[fire]int, n*int(duration/time.Second+2))}
	handler := func(ctx context.Context, t *asynq.Task) error {
		at := time.Now()
		var p payload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
		}
		sched := time.Unix(0, p.Sched).UTC()
		st.mu.Lock()
		st.runs[fire{p.Key, p.Sched}]++
		st.starts = append(st.starts, started{sched: sched, enqueued: time.Unix(0, p.Enqueued), at: at})
		st.mu.Unlock()

		status, output := "success", ""
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err != nil {
			status, output = "failed", err.Error()
		} else {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			output = string(b)
			if resp.StatusCode != http.StatusOK {
				status = "failed"
			}
		}
		if history {
			if _, err := db.ExecContext(ctx, "INSERT INTO execute_task (task_key, scheduled_at, started_at, finished_at, status, output) VALUES (?, ?, ?, ?, ?, ?)",
				fmt.Sprintf("queue_%d", p.Key), sched, at.UTC(), time.Now().UTC(), status, output); err != nil {
				st.failed.Add(1)
				return fmt.Errorf("%w: history: %v", asynq.SkipRetry, err)
			}
		}
		if status != "success" {
			st.failed.Add(1)
			return fmt.Errorf("%w: %s", asynq.SkipRetry, output)
		}
		end := time.Now()
		st.mu.Lock()
		st.finished = append(st.finished, end)
		st.mu.Unlock()
		return nil
	}

	ropt := asynq.RedisClientOpt{Addr: redisAddr, DB: redisDB}
	server := asynq.NewServer(ropt, asynq.Config{
		Concurrency:       conc,
		Queues:            map[string]int{"default": 1},
		TaskCheckInterval: checkInterval,
		LogLevel:          asynq.WarnLevel,
		ShutdownTimeout:   2 * time.Second,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(taskType, handler)
	if err := server.Start(mux); err != nil {
		return err
	}
	client := asynq.NewClient(ropt)
	defer client.Close()
	inspector := asynq.NewInspector(ropt)
	defer inspector.Close()

	// CPU of this process, MariaDB and Redis over the measured window.
	dbPid, dbName := serverPid(cfg.Addr, cfg.Net, "mariadbd", "mysqld")
	selfBefore, _ := cpuOf(os.Getpid())
	dbBefore, _ := cpuOf(dbPid)
	redisBefore, _ := cpuOf(redisPid)
	began := time.Now()
	end := began.Add(duration)

	// The producer: at each whole second, N Enqueues, one after another.
	var enqueued, enqueueErrs atomic.Int64
	var enqueueSpans []time.Duration // how long each second's N Enqueues took
	fires := map[fire]bool{}
	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		for sec := began.Truncate(time.Second).Add(time.Second); sec.Before(end); sec = sec.Add(time.Second) {
			select {
			case <-time.After(time.Until(sec)):
			case <-ctx.Done():
				return
			}
			if time.Now().After(end) {
				return
			}
			t0 := time.Now()
			for k := range n {
				b, _ := json.Marshal(payload{Key: k, Sched: sec.UnixNano(), Enqueued: time.Now().UnixNano()})
				if _, err := client.EnqueueContext(ctx, asynq.NewTask(taskType, b), asynq.MaxRetry(0), asynq.Queue("default")); err != nil {
					enqueueErrs.Add(1)
					continue
				}
				enqueued.Add(1)
				fires[fire{k, sec.UnixNano()}] = true
			}
			enqueueSpans = append(enqueueSpans, time.Since(t0))
		}
	}()

	select {
	case <-time.After(time.Until(end)):
	case <-ctx.Done():
	}
	<-prodDone
	ended := time.Now()
	selfAfter, _ := cpuOf(os.Getpid())
	dbAfter, dbErr := cpuOf(dbPid)
	redisAfter, redisErr := cpuOf(redisPid)
	st.mu.Lock()
	starts := slices.Clone(st.starts)
	finished := slices.Clone(st.finished)
	st.mu.Unlock()
	qi, qerr := inspector.GetQueueInfo("default")
	server.Shutdown() // runs in flight finish (or go back to pending)
	st.mu.Lock()
	runs := maps.Clone(st.runs)
	st.mu.Unlock()
	qAfter, qerrAfter := inspector.GetQueueInfo("default")

	// Rate: successful runs finished in the steady span.
	steady := began.Add(warmup)
	var done int
	for _, f := range finished {
		if !f.Before(steady) && f.Before(ended) {
			done++
		}
	}
	// Latency: runs of the steady span's fires that started.
	var latEnq, latFire []time.Duration
	for _, s := range starts {
		if !s.sched.Before(steady) {
			latEnq = append(latEnq, s.at.Sub(s.enqueued))
			latFire = append(latFire, s.at.Sub(s.sched))
		}
	}
	slices.Sort(latEnq)
	slices.Sort(latFire)
	steadyFires := 0
	for f := range fires {
		if !time.Unix(0, f.sched).Before(steady) {
			steadyFires++
		}
	}
	// Missing: enqueued fires never run and not left pending once the
	// server has stopped; duplicates: fires run more than once.
	ran, dup := 0, 0
	for f, c := range runs {
		if fires[f] {
			ran++
		}
		if c > 1 {
			dup++
		}
	}
	pending, active := -1, -1
	if qerr == nil {
		pending, active = qi.Pending, qi.Active
	}
	missing := "not measured"
	if qerrAfter == nil {
		missing = fmt.Sprint(max(0, len(fires)-ran-qAfter.Pending))
	}
	slices.Sort(enqueueSpans)

	wall := ended.Sub(began)
	share := func(a, b time.Duration, err error, what string) string {
		if err != nil {
			return "not measured (" + err.Error() + ")"
		}
		if what != "" {
			what = " (" + what + ")"
		}
		return fmt.Sprintf("%.1f%% of one core%s", 100*float64(b-a)/float64(wall), what)
	}
	hist := "history row INSERTed per run"
	if !history {
		hist = "no history write"
	}
	title := fmt.Sprintf("asynq %s: %d http tasks enqueued every second, Redis %s DB %d, Concurrency %d, %s, %s",
		asynqVersion, n, redisAddr, redisDB, conc, hist, wall.Round(time.Second))
	seconds := len(enqueueSpans)
	rows := [][2]string{
		{"offered", fmt.Sprintf("%d runs/s (%d s x %d tasks = %d enqueued, %d enqueue errors)", n, seconds, n, enqueued.Load(), enqueueErrs.Load())},
		{"enqueue of a second's N tasks (p50 / max)", fmt.Sprintf("%s / %s", ms(pct(enqueueSpans, 0.5)), ms(pct(enqueueSpans, 1)))},
		{"completed (success, finished in the steady span)", fmt.Sprintf("%.0f runs/s (%d in %.1f s)", float64(done)/ended.Sub(steady).Seconds(), done, ended.Sub(steady).Seconds())},
		{"fires of the steady span started", fmt.Sprintf("%d of %d", len(latEnq), steadyFires)},
		{"left in the queue at the end (pending / active)", fmt.Sprintf("%d / %d", pending, active)},
		{"missing (enqueued, never run, not pending after the server stopped)", missing},
		{"duplicate (task, second) runs", fmt.Sprint(dup)},
		{"failed runs", fmt.Sprint(st.failed.Load())},
	}
	if len(latEnq) == 0 {
		rows = append(rows, [2]string{"enqueue -> start", "none of the steady span's fires started (a backlog)"})
	} else {
		rows = append(rows, [][2]string{
			{"enqueue -> start min", ms(pct(latEnq, 0))},
			{"enqueue -> start p50", ms(pct(latEnq, 0.50))},
			{"enqueue -> start p90", ms(pct(latEnq, 0.90))},
			{"enqueue -> start p99", ms(pct(latEnq, 0.99))},
			{"enqueue -> start max", ms(pct(latEnq, 1))},
			{"fire second -> start (p50 / p99), as ours measures", ms(pct(latFire, 0.5)) + " / " + ms(pct(latFire, 0.99))},
		}...)
	}
	rows = append(rows,
		[2]string{"CPU (producer + server, this process)", share(selfBefore, selfAfter, nil, "")},
		[2]string{"CPU (database server)", share(dbBefore, dbAfter, dbErr, fmt.Sprintf("%s pid %d, all its clients", dbName, dbPid))},
		[2]string{"CPU (Redis server)", share(redisBefore, redisAfter, redisErr, fmt.Sprintf("redis-server pid %d, all its clients", redisPid))},
	)
	fmt.Printf("\n%s\n\n| metric | value |\n|---|---|\n", title)
	for _, r := range rows {
		fmt.Printf("| %s | %s |\n", r[0], r[1])
	}
	if history {
		var rowsIn int
		if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM execute_task").Scan(&rowsIn); err == nil {
			log.Printf("execute_task: %d rows", rowsIn)
		}
	}
	return nil
}

// asynqVersion is the version go.mod requires.
const asynqVersion = "v0.26.0"

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*p)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// cpuOf returns the user and system CPU time of process pid, from
// /proc/<pid>/stat (as the parent module's bench/internal/procstat).
func cpuOf(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, errors.New("no local process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0, errors.New("stat: no command name")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, errors.New("stat: too few fields")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil // USER_HZ = 100
}

// serverPid finds the local MySQL server: a loopback or Unix-socket
// address and exactly one process of one of names; 0 otherwise.
func serverPid(addr, network string, names ...string) (int, string) {
	if network != "unix" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return 0, ""
		}
	}
	var pids []int
	var name string
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, p := range comms {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if c := strings.TrimSpace(string(b)); slices.Contains(names, c) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			pids, name = append(pids, pid), c
		}
	}
	if len(pids) != 1 {
		return 0, ""
	}
	return pids[0], name
}
