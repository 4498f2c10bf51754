package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

// privateRedis is a redis-server of one test's own, without persistence,
// on a free port: killed, it comes back empty on the same address, as a
// production Redis restarted without persistence would.
type privateRedis struct {
	t    *testing.T
	bin  string
	addr string
	cmd  *exec.Cmd
	out  *proc
}

// newPrivateRedis starts a redis-server. When required, a missing binary
// or a server that does not answer fails the test; otherwise it skips.
func newPrivateRedis(t *testing.T, required bool) *privateRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if required {
			t.Fatalf("redis-server binary: %v (the test starts a server of its own)", err)
		}
		t.Skipf("no redis-server binary (%v)", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := l.Addr().String()
	must(t, l.Close())
	r := &privateRedis{t: t, bin: bin, addr: addr}
	t.Cleanup(func() {
		if r.cmd != nil {
			r.kill()
		}
	})
	r.start()
	return r
}

// start starts the server and waits until it answers.
func (r *privateRedis) start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	r.out = &proc{}
	r.cmd = exec.Command(r.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--dir", r.t.TempDir())
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	must(r.t, r.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s: %v\n%s", r.addr, err, r.out.text())
		}
	}
}

// kill SIGKILLs the server and waits for it to exit.
func (r *privateRedis) kill() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// TestWorkers_RedisRestarted puts a daemon and two `taskrunner worker`
// processes under load (50 shell tasks every second on one queue) on a
// Redis of the test's own, SIGKILLs that Redis mid-load and starts it
// again empty on the same port two seconds later. The jobs it held and
// the fires that came while it was down come back from their rows, under
// the new epoch: every fire has one row, and each ran exactly once, as
// the rows say and as the tasks' own side effect (a line appended per
// execution) says.
func TestWorkers_RedisRestarted(t *testing.T) {
	_, redisRequired := os.LookupEnv("TASKRUNNER_TEST_REDIS_ADDR")
	_, mysqlRequired := os.LookupEnv(modelstest.EnvMySQLDSN)
	dsn, db, token := tokenDB(t)
	rs := newPrivateRedis(t, redisRequired || mysqlRequired)
	ctx := context.Background()

	// Each execution appends "task_key scheduled_at run_id" to ran (the
	// count of executions, whatever the rows say), then takes 0.2 s: the
	// 16 slots of the workers take a fire's 50 jobs in about 0.6 s, so
	// jobs wait in the stream for a part of each second.
	ran := filepath.Join(t.TempDir(), "ran")
	const tasks = 50
	for i := range tasks {
		_, err := models.InsertTask(ctx, db, models.Task{Key: fmt.Sprintf("rr_%02d", i), Func: "shell", Trigger: "cron", Spec: "* * * * * *", IsValid: 1,
			Args:  fmt.Sprintf(`["-c", "echo \"$TASKRUNNER_TASK_KEY $TASKRUNNER_SCHEDULED_AT $TASKRUNNER_RUN_ID\" >> %s; sleep 0.2"]`, ran),
			Extra: `{"queue": "q", "collected": false, "executable": "sh", "overlap": "allow", "timezone": "UTC"}`})
		must(t, err)
	}

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redis-server:\n%s", rs.out.text())
		}
	})
	startProc := startProcs(t, dsn, rs.addr, 0)
	start := func(args ...string) { startProc([]string{"TASKRUNNER_COMMON_WORKER_TOKEN=" + token}, args...) }
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		must(t, db.GetContext(ctx, &n, query, args...))
		return n
	}
	waitFor := func(what string, limit time.Duration, ok func() bool) time.Time {
		t.Helper()
		for deadline := time.Now().Add(limit); ; time.Sleep(50 * time.Millisecond) {
			if ok() {
				return time.Now()
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: not %s", limit, what)
			}
		}
	}

	start("run")
	start("worker", "--queues", "q:8")
	start("worker", "--queues", "q:8")

	// Load for three seconds' worth of fires, then Redis dies with jobs in
	// its stream (their rows queued) and comes back empty two seconds
	// later.
	waitFor("3 s of fires run", 30*time.Second, func() bool {
		return count("SELECT COUNT(*) FROM execute_task WHERE status = 'success'") >= 3*tasks
	})
	waitFor("jobs waiting in the stream", 10*time.Second, func() bool {
		return count("SELECT COUNT(*) FROM execute_task WHERE status = 'queued'") >= 10
	})
	killedAt := time.Now().UTC()
	rs.kill()
	queuedAtKill := count("SELECT COUNT(*) FROM execute_task WHERE status = 'queued'")
	time.Sleep(2 * time.Second) // the outage: fires keep coming
	restartedAt := time.Now().UTC()
	rs.start()

	// Recovered: every fire up to the restart has its row, and none of them
	// is still on its way (queued, claimed or running).
	lastDown := restartedAt.Truncate(time.Second)
	recoveredAt := waitFor("recovered from the restart", 20*time.Second, func() bool {
		return count("SELECT COUNT(*) FROM execute_task WHERE scheduled_at = ?", lastDown) == tasks &&
			count("SELECT COUNT(*) FROM execute_task WHERE scheduled_at <= ? AND status IN ('queued', 'running', 'pending')", lastDown) == 0
	})
	t.Logf("Redis SIGKILLed with %d runs queued, down %.1fs; every fire up to the restart ran %.1fs after the restart (%.1fs after the kill)",
		queuedAtKill, restartedAt.Sub(killedAt).Seconds(), recoveredAt.Sub(restartedAt).Seconds(), recoveredAt.Sub(killedAt).Seconds())

	// Two more seconds' worth of fires on the new Redis, then the schedule
	// stops and what is on its way finishes.
	waitFor("2 s of fires run after the recovery", 20*time.Second, func() bool {
		return count("SELECT COUNT(*) FROM execute_task WHERE status = 'success' AND scheduled_at > ?", recoveredAt.UTC()) >= 2*tasks
	})
	_, err := db.ExecContext(ctx, "UPDATE task SET is_valid = 0")
	must(t, err)
	stoppedAt := time.Now().UTC()
	waitFor("settled after the stop", 20*time.Second, func() bool {
		return count("SELECT COUNT(*) FROM execute_task WHERE status IN ('queued', 'running', 'pending')") == 0
	})

	// Every fire: one row of attempt 1 (no other attempt), one success, and
	// one execution.
	if n := count("SELECT COUNT(*) FROM (SELECT task_id FROM execute_task GROUP BY task_id, scheduled_at HAVING SUM(attempt = 1) <> 1 OR COUNT(*) <> 1) p"); n != 0 {
		t.Errorf("%d fires without exactly one row of attempt 1", n)
	}
	if n := count("SELECT COUNT(*) FROM (SELECT task_id FROM execute_task WHERE status = 'success' GROUP BY task_id, scheduled_at HAVING COUNT(*) > 1) p"); n != 0 {
		t.Errorf("%d fires with two successes", n)
	}
	var notRun []struct {
		ID          int64     `db:"id"`
		Status      string    `db:"status"`
		ScheduledAt time.Time `db:"scheduled_at"`
		Error       string    `db:"error"`
	}
	must(t, db.SelectContext(ctx, &notRun, "SELECT id, status, scheduled_at, COALESCE(error, '') AS error FROM execute_task WHERE status <> 'success' ORDER BY id"))
	afterStop := 0
	for _, r := range notRun {
		// A fire claimed before the stop and sent after it is closed unrun.
		if r.Status == models.RunSkipped && strings.Contains(r.Error, "no longer scheduled") && !r.ScheduledAt.Before(stoppedAt.Add(-2*time.Second)) {
			afterStop++
			continue
		}
		t.Errorf("run %d of %s: %s (%s)", r.ID, r.ScheduledAt.Format(time.TimeOnly), r.Status, r.Error)
	}

	// Every second of the schedule, from the first fire to the stop, has
	// a row per task: none went missing while Redis was down.
	var first time.Time
	must(t, db.GetContext(ctx, &first, "SELECT MIN(scheduled_at) FROM execute_task"))
	last := stoppedAt.Add(-2 * time.Second).Truncate(time.Second)
	seconds := int(last.Sub(first)/time.Second) + 1
	if n := count("SELECT COUNT(*) FROM (SELECT DISTINCT task_id, scheduled_at FROM execute_task WHERE scheduled_at BETWEEN ? AND ?) p", first, last); n != seconds*tasks {
		t.Errorf("fires %s..%s: %d with a row, want %d x %d = %d", first.Format(time.TimeOnly), last.Format(time.TimeOnly), n, seconds, tasks, seconds*tasks)
	}
	down := count("SELECT COUNT(*) FROM execute_task WHERE status = 'success' AND scheduled_at BETWEEN ? AND ?", killedAt, restartedAt)
	if down == 0 {
		t.Errorf("no fire between the kill (%s) and the restart (%s) ran", killedAt.Format(time.StampMilli), restartedAt.Format(time.StampMilli))
	}

	// The executions, as the tasks' own side effect counts them.
	successes := count("SELECT COUNT(*) FROM execute_task WHERE status = 'success'")
	f, err := os.Open(ran)
	must(t, err)
	defer f.Close()
	times := map[string]int{}
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		key, rest, _ := strings.Cut(lines.Text(), " ")
		at, _, _ := strings.Cut(rest, " ")
		times[key+" "+at]++
	}
	must(t, lines.Err())
	twice := 0
	for fire, n := range times {
		if n > 1 {
			twice++
			t.Errorf("fire %s executed %d times", fire, n)
		}
	}
	if len(times) != successes {
		t.Errorf("%d fires executed, %d rows say success", len(times), successes)
	}
	t.Logf("%d fires ran, %d of them between the kill and the restart; %d executed twice; %d claimed before the stop and closed unrun after it",
		successes, down, twice, afterStop)
}
