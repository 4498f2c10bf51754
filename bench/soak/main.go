// Command soak runs replicas of the taskrunner daemon against one MySQL
// database, SIGKILLs and restarts them at random, and then counts, from
// execute_task, the (task, fire time) pairs that ran more than once and
// those that never ran.
//
//	go run ./bench/soak -duration 10m -replicas 3 -tasks 50
//	go run ./bench/soak -duration 10m -defaults
//	go run ./bench/soak -defaults -env TASKRUNNER_COMMON_SCHEDULER_LEASE=20s
//	go run ./bench/soak -duration 5m -workers 3 -kill-workers
//
// By default the replicas sync every 2 s with a 6 s lease and the tasks
// allow overlap, so that a dead replica's runs block nothing. -defaults
// runs the daemon's default settings instead (10 s sync, 30 s lease,
// overlap forbid, misfire all) and counts the fires skipped because a
// killed replica's runs were still "running". -env passes variables to
// the replicas after the mode's own, so it can override them.
//
// -workers N runs the tasks as shell jobs instead (a line appended to a
// file per execution, then -job of sleep) on the default queue, carried
// by a redis-server of the soak's own (or -redis) to N `taskrunner
// worker` processes; the replicas embed none. Half the tasks say
// on_lost recover, half drop. -kill-workers SIGKILLs the workers at
// random instead of the replicas. At the end the soak waits for every
// fire to settle, stops the schedule, and counts by policy the fires
// that succeeded twice, those with no final row, the runs lost, and the
// executions the file counts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/go-sql-driver/mysql"

	"taskrunner/bench/internal/procstat"
	"taskrunner/libs/mysqlpool"
	"taskrunner/models"
)

func main() {
	var s settings
	dsn := flag.String("dsn", "root@tcp(127.0.0.1:3306)/", "MySQL server (the database part is ignored)")
	dbName := flag.String("db", "taskrunner_soak", "database to create (dropped first)")
	duration := flag.Duration("duration", 10*time.Minute, "how long to run")
	flag.IntVar(&s.replicas, "replicas", 3, "replica processes")
	flag.IntVar(&s.tasks, "tasks", 50, "tasks firing every second")
	flag.DurationVar(&s.killMin, "kill-min", 10*time.Second, "least time between two kills")
	flag.DurationVar(&s.killMax, "kill-max", 40*time.Second, "most time between two kills")
	flag.BoolVar(&s.defaults, "defaults", false, "default settings: 10 s sync, 30 s lease, overlap forbid, misfire all; count fires skipped because of a dead replica's runs")
	flag.IntVar(&s.workers, "workers", 0, "run the tasks as shell jobs on this many `taskrunner worker` processes, through Redis (0: a Go function in the replicas)")
	flag.IntVar(&s.workerSlots, "worker-concurrency", 16, "jobs a worker runs at once")
	flag.BoolVar(&s.killWorkers, "kill-workers", false, "SIGKILL workers at random, not replicas (with -workers)")
	flag.DurationVar(&s.job, "job", 500*time.Millisecond, "how long a shell job takes (with -workers)")
	flag.StringVar(&s.redis, "redis", "", "Redis server of the queue (with -workers); empty starts a redis-server of the soak's own on a free port")
	logLevel := flag.String("log", "warn", "replicas' log level")
	var extraEnv []string
	flag.Func("env", "`KEY=VALUE` passed to every replica after the mode's own settings (repeatable)", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return errors.New("want KEY=VALUE")
		}
		extraEnv = append(extraEnv, v)
		return nil
	})
	flag.Parse()
	s.extra, s.env = `{"overlap":"allow"}`, []string{"TASKRUNNER_COMMON_SCHEDULER_SYNC_INTERVAL=2s", "TASKRUNNER_COMMON_SCHEDULER_LEASE=6s"}
	if s.defaults {
		s.extra, s.env = `{"overlap":"forbid","misfire":"all"}`, []string{"TASKRUNNER_COMMON_SCHEDULER_SYNC_INTERVAL=10s", "TASKRUNNER_COMMON_SCHEDULER_LEASE=30s"}
	}
	s.env = append(append(s.env, "TASKRUNNER_LOGGER_LEVEL="+*logLevel), extraEnv...)
	if s.killWorkers && s.workers == 0 {
		fmt.Fprintln(os.Stderr, "soak: -kill-workers needs -workers")
		os.Exit(2)
	}
	if err := run(*dsn, *dbName, *duration, s); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// settings are what the replicas and tasks run with.
type settings struct {
	replicas, tasks  int
	killMin, killMax time.Duration
	defaults         bool
	extra            string   // task.extra of every task
	env              []string // the replicas' configuration variables; the last of a key wins

	workers, workerSlots int           // worker processes (0: no queue), and the jobs each runs at once
	killWorkers          bool          // SIGKILL workers, not replicas
	job                  time.Duration // how long a shell job takes
	redis                string        // the queue's Redis; "" starts one
}

// confVar is the variable that overrides a key of conf/test/common.toml's
// [scheduler].
func confVar(key string) string { return "TASKRUNNER_COMMON_SCHEDULER_" + strings.ToUpper(key) }

// setting returns a [scheduler] key as the replicas get it, and where
// from: the last variable for it the soak passes, else
// conf/test/common.toml's value; "" if the key is in neither.
func (s settings) setting(key string) (value, from string) {
	for i := len(s.env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(s.env[i], confVar(key)+"="); ok {
			return v, "passed by the soak"
		}
	}
	var file struct{ Scheduler map[string]any }
	path := filepath.Join("conf", "test", "common.toml")
	if _, err := toml.DecodeFile(path, &file); err == nil && file.Scheduler[key] != nil {
		return fmt.Sprint(file.Scheduler[key]), path
	}
	return "", ""
}

// describe states the settings the soak runs with.
func (s settings) describe() string {
	mode := "default mode"
	if s.defaults {
		mode = "-defaults mode"
	}
	sync, _ := s.setting("sync_interval")
	lease, _ := s.setting("lease")
	dead := "none in the configuration (a dead replica's runs wait for the lease)"
	if v, from := s.setting("dead_after"); v != "" {
		dead = fmt.Sprintf("dead_after %s (%s)", v, from)
	}
	others := "none"
	var passed []string
	for _, kv := range s.env {
		if k, _, _ := strings.Cut(kv, "="); k != confVar("sync_interval") && k != confVar("lease") && k != "TASKRUNNER_LOGGER_LEVEL" {
			passed = append(passed, kv)
		}
	}
	if len(passed) > 0 {
		others = strings.Join(passed, " ")
	}
	if s.workers == 0 {
		return fmt.Sprintf("soak settings (%s): %d replicas; %d tasks on \"* * * * * *\", extra %s; sync_interval %s; lease %s; death detection: %s; a kill every %s-%s, the replica restarted 0-3 s later; other variables passed: %s",
			mode, s.replicas, s.tasks, s.extra, sync, lease, dead, s.killMin, s.killMax, others)
	}
	victim := "replica"
	if s.killWorkers {
		victim = "worker"
	}
	return fmt.Sprintf("soak settings (%s, workers): %d replicas (no embedded worker), %d `taskrunner worker` processes (default:%d); %d shell tasks on \"* * * * * *\" (half on_lost recover, half drop), each job %s, extra %s; sync_interval %s; lease %s; death detection: %s; a %s SIGKILLed every %s-%s, restarted 0-3 s later; other variables passed: %s",
		mode, s.replicas, s.workers, s.workerSlots, s.tasks, s.job, s.extra, sync, lease, dead, victim, s.killMin, s.killMax, others)
}

// replica is one daemon or worker process.
type replica struct {
	cmd      *exec.Cmd
	host     string // hostname/pid, as execute_task.host has it
	done     chan struct{}
	stopping atomic.Bool
}

// kill is one SIGKILL the soak sent.
type kill struct {
	at      time.Time
	replica int // index in cluster.procs
	host    string
}

// cluster starts and stops the replicas, then the workers, and keeps
// what they cost.
type cluster struct {
	bin, dir string
	env      []string
	hostname string
	replicas int      // procs[:replicas] are replicas, the rest workers
	worker   []string // a worker's arguments
	procs    []*replica
	died     chan error    // a process that exited unasked
	cpu      time.Duration // user+system of every process that has exited
	peak     int64         // largest own peak RSS (VmHWM) of a process
	started  int
}

// name is process i's name, as its log file has it.
func (c *cluster) name(i int) string {
	if i < c.replicas {
		return fmt.Sprintf("replica%d", i)
	}
	return fmt.Sprintf("worker%d", i-c.replicas)
}

func (c *cluster) start(i int) error {
	var args []string
	if i >= c.replicas {
		args = c.worker
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(c.env, fmt.Sprintf("TASKRUNNER_LOGGER_FILE=%s/%s.log", c.dir, c.name(i)))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	r := &replica{cmd: cmd, host: fmt.Sprintf("%s/%d", c.hostname, cmd.Process.Pid), done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		if !r.stopping.Load() {
			select {
			case c.died <- fmt.Errorf("%s (pid %d) exited by itself: %v; its log is %s/%s.log", c.name(i), cmd.Process.Pid, err, c.dir, c.name(i)):
			default:
			}
		}
		close(r.done)
	}()
	c.procs[i] = r
	c.started++
	return nil
}

// stop signals replica i and waits for it to exit, reading its peak RSS
// first (it cannot be read once the process is gone).
func (c *cluster) stop(i int, sig syscall.Signal) {
	r := c.procs[i]
	if peak, err := procstat.PeakRSS(r.cmd.Process.Pid); err == nil {
		c.peak = max(c.peak, peak)
	}
	r.stopping.Store(true)
	_ = r.cmd.Process.Signal(sig)
	<-r.done
	c.cpu += r.cmd.ProcessState.UserTime() + r.cmd.ProcessState.SystemTime()
}

// sleep waits d, or returns the error of a replica that exited unasked.
func (c *cluster) sleep(d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case err := <-c.died:
		return err
	}
}

func run(dsn, dbName string, duration time.Duration, s settings) error {
	ctx := context.Background()
	base, err := mysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	base.DBName = ""
	admin, err := mysqlpool.Open(ctx, mysqlpool.Config{DSN: base.FormatDSN(), MaxOpenConns: 2})
	if err != nil {
		return err
	}
	for _, q := range []string{"DROP DATABASE IF EXISTS " + dbName, "CREATE DATABASE " + dbName} {
		if _, err := admin.Exec(q); err != nil {
			return err
		}
	}
	base.DBName = dbName
	dbDSN := base.FormatDSN()

	dir, err := os.MkdirTemp("", "soak")
	if err != nil {
		return err
	}
	c := &cluster{dir: dir, bin: filepath.Join(dir, "taskrunner"), replicas: s.replicas, procs: make([]*replica, s.replicas+s.workers), died: make(chan error, 1),
		worker: []string{"worker", "--queues", fmt.Sprintf("default:%d", s.workerSlots)}}
	if c.hostname, err = os.Hostname(); err != nil {
		return err
	}
	if out, err := exec.Command("go", "build", "-o", c.bin, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	c.env = append(append(os.Environ(), "APP_ENV=test", "TASKRUNNER_MYSQL_DSN="+dbDSN), s.env...)
	if s.workers > 0 {
		addr := s.redis
		if addr == "" {
			rs, err := startRedis(dir)
			if err != nil {
				return err
			}
			defer rs.stop()
			addr = rs.addr
		}
		c.env = append(c.env, "TASKRUNNER_REDIS_ADDR="+addr, "TASKRUNNER_REDIS_DB=0", "TASKRUNNER_REDIS_PREFIX=soak",
			"TASKRUNNER_COMMON_WORKER_EMBEDDED=false", "TASKRUNNER_KINDS_SHELL_ALLOW_OUTSIDE=true",
			"TASKRUNNER_KINDS_SHELL_LOG_DIR="+filepath.Join(dir, "shell"))
	}
	migrate := exec.Command(c.bin, "migrate")
	migrate.Env = c.env
	if out, err := migrate.CombinedOutput(); err != nil {
		return fmt.Errorf("migrate: %v\n%s", err, out)
	}
	pool, err := mysqlpool.Open(ctx, mysqlpool.Config{DSN: dbDSN, MaxOpenConns: 4})
	if err != nil {
		return err
	}
	db, err := models.Open(pool)
	if err != nil {
		return err
	}
	if s.workers > 0 {
		token, err := models.AddWorkerToken(ctx, db, "soak", time.Now())
		if err != nil {
			return err
		}
		c.env = append(c.env, "TASKRUNNER_COMMON_WORKER_TOKEN="+token)
		if err := insertShellTasks(ctx, db, s, filepath.Join(dir, "ran")); err != nil {
			return err
		}
	} else {
		for i := range s.tasks {
			if _, err := models.InsertTask(ctx, db, models.Task{Key: fmt.Sprintf("soak_%d", i), Desc: "soak", Func: "test_interval",
				Trigger: "cron", Spec: "* * * * * *", Args: "1,2,3", IsValid: 1, Extra: s.extra}); err != nil {
				return err
			}
		}
	}

	fmt.Println(s.describe())
	server := procstat.StartServerCPU("mysql", dsn)
	began := time.Now().UTC()
	for i := range c.procs {
		if err := c.start(i); err != nil {
			return err
		}
	}
	fmt.Printf("soak: %d replicas, %d workers, %d tasks every second, %s, logs in %s\n", s.replicas, s.workers, s.tasks, duration, dir)
	kills, err := killLoop(c, s, began, duration)
	ended := time.Now().UTC()
	if err == nil && s.workers > 0 {
		err = settle(ctx, c, db, ended)
	}
	for i := range c.procs {
		if c.procs[i] != nil {
			c.stop(i, syscall.SIGTERM)
		}
	}
	wall := time.Since(began)
	serverCPU := server.Stop()
	if err != nil {
		return err
	}
	if s.workers > 0 {
		err = reportWorkers(ctx, db, s, began, ended, kills, dir)
	} else {
		err = report(ctx, db, s, began, ended, kills)
	}
	if err != nil {
		return err
	}
	fmt.Printf("  CPU (all processes): %.0f%% of one core (user+system of all %d replica and worker processes over their lives, over the %s from the first start to the last exit)\n",
		100*float64(c.cpu)/float64(wall), c.started, wall.Round(time.Second))
	fmt.Printf("  CPU (database server): %s\n", serverCPU)
	fmt.Printf("  peak RSS: %d MB (the largest process's own VmHWM, read before each kill and the final stop; not a sum)\n", c.peak>>20)
	return nil
}

// killLoop SIGKILLs a random replica (a worker, with -kill-workers) every
// killMin-killMax and restarts it 0-3 s later, until the duration has
// passed.
func killLoop(c *cluster, s settings, began time.Time, duration time.Duration) ([]kill, error) {
	var kills []kill
	for deadline := began.Add(duration); time.Now().Before(deadline); {
		wait := s.killMin + time.Duration(rand.Int64N(int64(s.killMax-s.killMin)+1))
		if err := c.sleep(min(wait, time.Until(deadline))); err != nil {
			return kills, err
		}
		if time.Now().After(deadline) {
			break
		}
		i := rand.IntN(s.replicas)
		if s.killWorkers {
			i = s.replicas + rand.IntN(s.workers)
		}
		k := kill{at: time.Now().UTC(), replica: i, host: c.procs[i].host}
		c.stop(i, syscall.SIGKILL)
		kills = append(kills, k)
		if err := c.sleep(time.Duration(rand.Int64N(int64(3 * time.Second)))); err != nil {
			return kills, err
		}
		if err := c.start(i); err != nil {
			return kills, err
		}
		fmt.Printf("soak: %s killed %s, %s (kill %d)\n", k.at.Sub(began).Round(time.Second), c.name(i), k.host, len(kills))
	}
	return kills, nil
}
