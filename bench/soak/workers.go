package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"taskrunner/models"
)

// The -workers mode: shell tasks on the default queue, half of each
// on_lost policy.

// policies are the tasks' on_lost values, in task order: task i has
// policies[i%2].
var policies = []string{"recover", "drop"}

// redisServer is the soak's own redis-server, without persistence.
type redisServer struct {
	cmd  *exec.Cmd
	addr string
}

// startRedis starts a redis-server on a free port and waits until it
// listens; its log goes to dir/redis.log.
func startRedis(dir string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("-workers without -redis starts a redis-server: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	_, port, _ := net.SplitHostPort(addr)
	log, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if conn, err := net.Dial("tcp", addr); err == nil {
			_ = conn.Close()
			return &redisServer{cmd: cmd, addr: addr}, nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("redis-server on %s did not listen within 10 s; see %s", addr, log.Name())
		}
	}
}

func (r *redisServer) stop() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// insertShellTasks inserts the tasks: each execution appends
// "task_key scheduled_at run_id" to ran, then sleeps s.job.
func insertShellTasks(ctx context.Context, db *models.DB, s settings, ran string) error {
	var extra map[string]any
	if err := json.Unmarshal([]byte(s.extra), &extra); err != nil {
		return fmt.Errorf("extra %s: %w", s.extra, err)
	}
	extra["executable"], extra["collected"], extra["timezone"] = "sh", false, "UTC"
	script := fmt.Sprintf(`echo "$TASKRUNNER_TASK_KEY $TASKRUNNER_SCHEDULED_AT $TASKRUNNER_RUN_ID" >> %s; sleep %.3f`, ran, s.job.Seconds())
	args, err := json.Marshal([]string{"-c", script})
	if err != nil {
		return err
	}
	for i := range s.tasks {
		policy := policies[i%len(policies)]
		extra["on_lost"] = policy
		text, err := json.Marshal(extra)
		if err != nil {
			return err
		}
		if _, err := models.InsertTask(ctx, db, models.Task{Key: fmt.Sprintf("soak_%s_%d", policy, i), Desc: "soak", Func: "shell",
			Trigger: "cron", Spec: "* * * * * *", Args: string(args), IsValid: 1, Extra: string(text)}); err != nil {
			return err
		}
	}
	return nil
}

// settle waits, every process up, for the fires up to ended to reach a
// final status (a dead worker's runs take dead_after to be recovered or
// lost), then stops the schedule and waits for what is on its way.
// Stopping first would close unrun, as no longer scheduled, the queued
// runs the sweeper had yet to send again.
func settle(ctx context.Context, c *cluster, db *models.DB, ended time.Time) error {
	open := func(query string, args ...any) (int, error) {
		var n int
		err := db.GetContext(ctx, &n, "SELECT COUNT(*) FROM execute_task WHERE status IN ('queued', 'running', 'pending')"+query, args...)
		return n, err
	}
	wait := func(limit time.Duration, query string, args ...any) (int, error) {
		for deadline := time.Now().Add(limit); ; {
			n, err := open(query, args...)
			if err != nil || n == 0 || time.Now().After(deadline) {
				return n, err
			}
			if err := c.sleep(500 * time.Millisecond); err != nil {
				return n, err
			}
		}
	}
	began := time.Now()
	n, err := wait(2*time.Minute, " AND scheduled_at <= ?", ended)
	if err != nil {
		return err
	}
	fmt.Printf("soak: fires up to the end settled in %s (%d still open)\n", time.Since(began).Round(100*time.Millisecond), n)
	if _, err := db.ExecContext(ctx, "UPDATE task SET is_valid = 0"); err != nil {
		return err
	}
	n, err = wait(time.Minute, "")
	if err == nil && n > 0 {
		fmt.Printf("soak: %d runs still open a minute after the schedule stopped\n", n)
	}
	return err
}

// fireKey is one (task, fire time).
type fireKey struct {
	task int64
	at   time.Time
}

// policyCount is the result of one on_lost policy's fires.
type policyCount struct {
	tasks                       int
	fires, once, twice, missing int
	lost, executedTwice, noExec int
	otherFinal                  map[string]int // final statuses besides success and lost
}

// reportWorkers counts, by on_lost policy, the fire pairs from 5 s after
// the start to 5 s before the end: those that succeeded once, twice
// (duplicates), those with no final row (missing), the runs lost, and
// the executions the tasks' file recorded.
func reportWorkers(ctx context.Context, db *models.DB, s settings, began, ended time.Time, kills []kill, dir string) error {
	from, to := began.Add(5*time.Second).Truncate(time.Second), ended.Add(-5*time.Second).Truncate(time.Second)
	seconds := int(to.Sub(from)/time.Second) + 1
	var tasks []models.Task
	if err := db.SelectContext(ctx, &tasks, "SELECT id, task_key FROM task WHERE task_key LIKE 'soak%'"); err != nil {
		return err
	}
	policyOf := map[int64]string{}
	byPolicy := map[string]*policyCount{}
	for _, p := range policies {
		byPolicy[p] = &policyCount{otherFinal: map[string]int{}}
	}
	for _, t := range tasks {
		p := strings.Split(t.Key, "_")[1]
		policyOf[t.ID] = p
		byPolicy[p].tasks++
	}
	var rows []struct {
		TaskID      int64     `db:"task_id"`
		TaskKey     string    `db:"task_key"`
		ScheduledAt time.Time `db:"scheduled_at"`
		Status      string    `db:"status"`
	}
	if err := db.SelectContext(ctx, &rows, "SELECT e.task_id, t.task_key, e.scheduled_at, e.status FROM execute_task e JOIN task t ON t.id = e.task_id WHERE e.scheduled_at BETWEEN ? AND ?", from, to); err != nil {
		return err
	}
	success, final := map[fireKey]int{}, map[fireKey]bool{}
	for _, r := range rows {
		pc := byPolicy[policyOf[r.TaskID]]
		if pc == nil {
			continue // not a soak task
		}
		k := fireKey{r.TaskID, r.ScheduledAt.UTC()}
		switch r.Status {
		case models.RunSuccess:
			success[k]++
		case models.RunLost:
			pc.lost++
		case models.RunQueued, models.RunRunning, models.RunPending:
			continue
		default:
			pc.otherFinal[r.Status]++
		}
		final[k] = true
	}
	for _, t := range tasks {
		pc := byPolicy[policyOf[t.ID]]
		for at := from; !at.After(to); at = at.Add(time.Second) {
			k := fireKey{t.ID, at}
			pc.fires++
			switch n := success[k]; {
			case n == 1:
				pc.once++
			case n > 1:
				pc.twice++
			}
			if !final[k] {
				pc.missing++
			}
		}
	}
	execs, err := executions(filepath.Join(dir, "ran"), from, to)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		pc := byPolicy[policyOf[t.ID]]
		for at := from; !at.After(to); at = at.Add(time.Second) {
			switch n := execs[t.Key+" "+at.Format(time.RFC3339)]; {
			case n == 0:
				pc.noExec++
			case n > 1:
				pc.executedTwice++
			}
		}
	}
	recovered, takenBack, err := logCounts(dir)
	if err != nil {
		return err
	}

	victims := "replica"
	if s.killWorkers {
		victims = "worker"
	}
	fmt.Printf("soak result: %d %s kills; fire times %s..%s (%d s x %d tasks = %d pairs)\n", len(kills), victims, from.Format(time.TimeOnly), to.Format(time.TimeOnly), seconds, s.tasks, seconds*s.tasks)
	var dup, missing int
	for _, p := range policies {
		pc := byPolicy[p]
		dup += pc.twice
		missing += pc.missing
		var other []string
		for st, n := range pc.otherFinal {
			other = append(other, fmt.Sprintf("%s %d", st, n))
		}
		sort.Strings(other)
		if len(other) == 0 {
			other = []string{"none"}
		}
		fmt.Printf("  on_lost %s (%d tasks, %d fires): succeeded once %d, twice %d; no final row %d; lost %d; other final statuses: %s; executed twice (the tasks' file) %d, never executed %d\n",
			p, pc.tasks, pc.fires, pc.once, pc.twice, pc.missing, pc.lost, strings.Join(other, ", "), pc.executedTwice, pc.noExec)
	}
	fmt.Printf("  duplicates (two successes for one fire): %d; missing (a fire with no final row): %d\n", dup, missing)
	fmt.Printf("  whole soak, from the replicas' logs: %d runs recovered from a dead worker (on_lost recover), %d jobs taken back from dead workers before they took them\n", recovered, takenBack)
	for i, k := range kills {
		fmt.Printf("    kill %d at %s (%s, %s)\n", i+1, k.at.Format(time.TimeOnly), procName(s, k.replica), k.host)
	}
	return nil
}

// procName is the name of cluster process i under settings s.
func procName(s settings, i int) string {
	return (&cluster{replicas: s.replicas}).name(i)
}

// executions reads the tasks' file: how many times each "task_key
// scheduled_at" of the window was executed.
func executions(path string, from, to time.Time) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int{}
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s: line %q", path, lines.Text())
		}
		at, err := time.Parse(time.RFC3339, fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if !at.Before(from) && !at.After(to) {
			out[fields[0]+" "+fields[1]]++
		}
	}
	return out, lines.Err()
}

// logCounts reads the replicas' JSON logs for the runs recovered from
// dead workers and the jobs taken back from them.
func logCounts(dir string) (recovered, takenBack int, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "replica*.log"))
	if err != nil {
		return 0, 0, err
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return 0, 0, err
		}
		lines := bufio.NewScanner(f)
		lines.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for lines.Scan() {
			var rec struct {
				Msg  string `json:"msg"`
				Jobs int    `json:"jobs"`
			}
			if json.Unmarshal(lines.Bytes(), &rec) != nil {
				continue
			}
			switch rec.Msg {
			case "run recovered from a dead worker (on_lost recover)":
				recovered++
			case "jobs taken back from dead workers":
				takenBack += rec.Jobs
			}
		}
		_ = f.Close()
		if err := lines.Err(); err != nil {
			return 0, 0, err
		}
	}
	return recovered, takenBack, nil
}
