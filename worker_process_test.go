package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

// proc is a taskrunner process of the test, its output kept.
type proc struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startProcs returns how a test starts taskrunner processes: the binary,
// built once, on a copy of conf/local with the MySQL database dsn, Redis
// at addr (database db, a key prefix of its own), no embedded worker, no
// API, programs outside collect/ allowed, 1 s syncs and a 10 s lease; each
// with extraEnv too. They get SIGTERM at the test's end, and their output
// is logged if it failed.
func startProcs(t *testing.T, dsn, addr string, db int) func(extraEnv []string, args ...string) *proc {
	t.Helper()
	bin := build(t)
	confDir := localConf(t)
	env := append(os.Environ(), "APP_ENV=local",
		"TASKRUNNER_COMMON_APP_DATABASE=mysql", "TASKRUNNER_MYSQL_DSN="+dsn,
		"TASKRUNNER_REDIS_ADDR="+addr, fmt.Sprintf("TASKRUNNER_REDIS_DB=%d", db), "TASKRUNNER_REDIS_PREFIX=tw"+uuid.NewString()[:8],
		"TASKRUNNER_COMMON_WORKER_EMBEDDED=false", "TASKRUNNER_API_ADDR=", "TASKRUNNER_KINDS_SHELL_ALLOW_OUTSIDE=true",
		"TASKRUNNER_COMMON_SCHEDULER_SYNC_INTERVAL=1s", "TASKRUNNER_COMMON_SCHEDULER_LEASE=10s",
		"TASKRUNNER_KINDS_SHELL_LOG_DIR="+t.TempDir())
	var procs []*proc
	t.Cleanup(func() {
		for _, p := range procs {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			_ = p.cmd.Wait()
		}
		if t.Failed() {
			for i, p := range procs {
				t.Logf("process %d %v:\n%s", i, p.cmd.Args[3:], p.text())
			}
		}
	})
	return func(extraEnv []string, args ...string) *proc {
		t.Helper()
		p := &proc{cmd: exec.Command(bin, append([]string{"--conf", confDir}, args...)...)}
		p.cmd.Env = append(append([]string{}, env...), extraEnv...)
		p.cmd.Stdout, p.cmd.Stderr = p, p
		must(t, p.cmd.Start())
		procs = append(procs, p)
		return p
	}
}

// TestWorkers_Processes runs a daemon and `taskrunner worker` processes
// on MySQL and Redis: a worker SIGKILLed with a job in hand (the job runs
// to completion once on another worker, its task saying on_lost
// recover), jobs queued while Redis is flushed (they come back from
// their rows, each run once), and a worker with a bad token refused.
func TestWorkers_Processes(t *testing.T) {
	w := setupWorkers(t)
	rdb, db, start, withToken := w.rdb, w.db, w.start, w.withToken
	ctx := context.Background()
	var err error

	// A bad token: refused, the token never printed.
	bad := "trw_" + strings.Repeat("x", 43)
	refused := start([]string{"TASKRUNNER_COMMON_WORKER_TOKEN=" + bad}, "worker", "--queues", "q:1")
	if err := refused.cmd.Wait(); err == nil {
		t.Fatal("a worker with an unknown token started")
	}
	if out := refused.text(); !strings.Contains(out, "token refused") || strings.Contains(out, bad) {
		t.Fatalf("refusal output:\n%s", out)
	}

	start(nil, "run")
	workerA := start(withToken, "worker", "--queues", "q:1")
	due := time.Now().UTC().Add(4 * time.Second).Format("2006-01-02 15:04:05")
	hold, err := models.InsertTask(ctx, db, models.Task{Key: "hold", Func: "shell", Trigger: "date", Spec: due, IsValid: 1,
		Args: `["3"]`, Extra: `{"queue": "q", "on_lost": "recover", "timezone": "UTC", "collected": false, "executable": "sleep"}`})
	must(t, err)
	// Taken by workerA: a replica's claim is running too, but not started.
	run := waitRow(t, db, hold, func(r models.ExecuteTask) bool { return r.Status == models.RunRunning && r.StartedAt.Valid })
	killed := run.Owner
	killedAt := time.Now()
	must(t, workerA.cmd.Process.Kill())
	_ = workerA.cmd.Wait() // returns once its orphaned child closes the output pipe
	start(withToken, "worker", "--queues", "q:1")
	done := waitRow(t, db, hold, func(r models.ExecuteTask) bool { return r.Status == models.RunSuccess })
	t.Logf("SIGKILLed worker's job started again elsewhere %.1fs after the kill (dead_after 3s)", done.StartedAt.Time.Sub(killedAt).Seconds())
	if done.ID != run.ID || done.Owner == killed {
		t.Fatalf("run %d done by %s (killed worker %s), first run %d", done.ID, done.Owner, killed, run.ID)
	}
	if rs, err := models.ListRuns(ctx, db, hold, 10); err != nil || len(rs) != 1 {
		t.Fatalf("%d rows for one fire (%v)", len(rs), err)
	}
	// The dead worker's personal queue (its stream and epoch) is deleted:
	// every worker that died would leave one behind.
	for deadline := time.Now().Add(15 * time.Second); ; {
		keys, err := rdb.Keys(ctx, "*w."+killed+"*").Result()
		must(t, err)
		if len(keys) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead worker's keys are still in Redis: %v", keys)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Jobs queued with no worker on their queue, then Redis flushed: they
	// come back from their rows once a worker reads the queue.
	due = time.Now().UTC().Add(3 * time.Second).Format("2006-01-02 15:04:05")
	var ids []int64
	for i := range 5 {
		id, err := models.InsertTask(ctx, db, models.Task{Key: fmt.Sprintf("flushed_%d", i), Func: "shell", Trigger: "date", Spec: due, IsValid: 1,
			Extra: `{"queue": "later", "timezone": "UTC", "collected": false, "executable": "true"}`})
		must(t, err)
		ids = append(ids, id)
	}
	for _, id := range ids {
		waitRow(t, db, id, func(r models.ExecuteTask) bool { return r.Status == models.RunQueued })
	}
	must(t, rdb.FlushDB(ctx).Err())
	later := start(withToken, "worker", "--queues", "later:2")
	for _, id := range ids {
		waitRow(t, db, id, func(r models.ExecuteTask) bool { return r.Status == models.RunSuccess })
		if rs, err := models.ListRuns(ctx, db, id, 10); err != nil || len(rs) != 1 {
			t.Fatalf("task %d: %d rows (%v)", id, len(rs), err)
		}
	}

	// The token revoked: its workers are declared dead, register again,
	// are refused, and stop.
	_, err = models.RevokeWorkerToken(ctx, db, "test", time.Now())
	must(t, err)
	_, err = models.MarkRevokedWorkers(ctx, db, time.Now())
	must(t, err)
	exited := make(chan error, 1)
	go func() { exited <- later.cmd.Wait() }()
	select {
	case err := <-exited:
		if err == nil || !strings.Contains(later.text(), "token was refused") {
			t.Fatalf("worker after its token was revoked: exit %v\n%s", err, later.text())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a worker whose token was revoked is still running")
	}
}

// workersSetup is what a test of daemon and worker processes starts from.
type workersSetup struct {
	rdb       *redis.Client // DB 11, where the processes' keys are
	db        *models.DB    // a new migrated database
	start     func(extraEnv []string, args ...string) *proc
	withToken []string // the environment that gives a worker the token
}

// setupWorkers makes a database and a worker token, and returns how to
// start processes on them and Redis (TASKRUNNER_TEST_REDIS_ADDR; without
// it the test is skipped when no Redis answers on 127.0.0.1:6379).
func setupWorkers(t *testing.T) workersSetup {
	t.Helper()
	addr, required := os.LookupEnv("TASKRUNNER_TEST_REDIS_ADDR")
	if !required {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: 11})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		if required {
			t.Fatalf("Redis at %s: %v", addr, err)
		}
		t.Skipf("no Redis (%v)", err)
	}
	dsn, db, token := tokenDB(t)
	return workersSetup{rdb: rdb, db: db, start: startProcs(t, dsn, addr, 11),
		withToken: []string{"TASKRUNNER_COMMON_WORKER_TOKEN=" + token}}
}

// tokenDB makes a new migrated MySQL database with a worker token,
// "test", and returns its DSN, a pool on it and the token.
func tokenDB(t *testing.T) (dsn string, db *models.DB, token string) {
	t.Helper()
	cfg := modelstest.EmptyMySQL(t)
	db = modelstest.Open(t, cfg)
	ctx := context.Background()
	_, err := models.Migrate(ctx, db, modelstest.Schema(t))
	must(t, err)
	token, err = models.AddWorkerToken(ctx, db, "test", time.Now())
	must(t, err)
	return cfg.DSN, db, token
}

// A run that fails on a standalone worker alerts: the worker, which
// records the outcome, applies the alert rules and sends (here to a
// webhook), as a daemon does for what it records; and it counts it in
// the /metrics it serves (--metrics-addr).
func TestWorkers_AlertAndMetricsFromAWorker(t *testing.T) {
	w := setupWorkers(t)
	posts := make(chan string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		posts <- string(b)
	}))
	defer hook.Close()
	alerting := []string{"TASKRUNNER_NOTICE_WEBHOOK_URL=" + hook.URL}
	w.start(alerting, "run")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	metricsAddr := ln.Addr().String()
	must(t, ln.Close())
	w.start(append(alerting, w.withToken...), "worker", "--queues", "q:1", "--metrics-addr", metricsAddr)
	due := time.Now().UTC().Add(3 * time.Second).Format("2006-01-02 15:04:05")
	id, err := models.InsertTask(context.Background(), w.db, models.Task{Key: "fails_on_worker", Func: "shell", Trigger: "date", Spec: due, IsValid: 1,
		Extra: `{"queue": "q", "timezone": "UTC", "collected": false, "executable": "false"}`})
	must(t, err)
	run := waitRow(t, w.db, id, func(r models.ExecuteTask) bool { return r.Status == models.RunFailed })
	if run.Queue != "q" {
		t.Fatalf("run %d on queue %q", run.ID, run.Queue)
	}
	select {
	case body := <-posts:
		if !strings.Contains(body, "fails_on_worker") {
			t.Fatalf("alert %s", body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no alert for a run that failed on a worker")
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	must(t, err)
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	must(t, err)
	if want := `taskrunner_runs_total{status="failed",task="fails_on_worker"} 1`; !strings.Contains(string(body), want) {
		t.Fatalf("the worker's /metrics lacks %s:\n%s", want, body)
	}
}

// waitRow waits up to 30 s for the latest run of a task to satisfy ok.
func waitRow(t *testing.T, db *models.DB, taskID int64, ok func(models.ExecuteTask) bool) models.ExecuteTask {
	t.Helper()
	var last models.ExecuteTask
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rs, err := models.ListRuns(context.Background(), db, taskID, 1)
		must(t, err)
		if len(rs) > 0 {
			last = rs[0]
			if ok(last) {
				return last
			}
		}
	}
	t.Fatalf("task %d: latest run %d is %s (owner %q, error %q)", taskID, last.ID, last.Status, last.Owner, string(last.Error))
	return last
}
