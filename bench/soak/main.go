// Command soak runs replicas of the taskrunner daemon against one MySQL
// database, SIGKILLs and restarts them at random, and then counts, from
// execute_task, the (task, fire time) pairs that ran more than once and
// those that never ran.
//
//	go run ./bench/soak -duration 10m -replicas 3 -tasks 50
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"taskrunner/libs/mysqlpool"
	"taskrunner/models"
)

var logLevel string

func main() {
	dsn := flag.String("dsn", "root@tcp(127.0.0.1:3306)/", "MySQL server (the database part is ignored)")
	dbName := flag.String("db", "taskrunner_soak", "database to create (dropped first)")
	duration := flag.Duration("duration", 10*time.Minute, "how long to run")
	replicas := flag.Int("replicas", 3, "replica processes")
	tasks := flag.Int("tasks", 50, "tasks firing every second")
	killMin := flag.Duration("kill-min", 10*time.Second, "least time between two kills")
	killMax := flag.Duration("kill-max", 40*time.Second, "most time between two kills")
	flag.StringVar(&logLevel, "log", "warn", "replicas' log level")
	flag.Parse()
	if err := run(*dsn, *dbName, *duration, *replicas, *tasks, *killMin, *killMax); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(dsn, dbName string, duration time.Duration, replicas, tasks int, killMin, killMax time.Duration) error {
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
	bin := filepath.Join(dir, "taskrunner")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "APP_ENV=test", "TASKRUNNER_MYSQL_DSN="+dbDSN,
		"TASKRUNNER_COMMON_SCHEDULER_SYNC_INTERVAL=2s", "TASKRUNNER_COMMON_SCHEDULER_LEASE=6s",
		"TASKRUNNER_LOGGER_LEVEL="+logLevel)
	migrate := exec.Command(bin, "migrate")
	migrate.Env = env
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
	for i := range tasks {
		if _, err := models.InsertTask(ctx, db, models.Task{Key: fmt.Sprintf("soak_%d", i), Desc: "soak", Func: "test_interval",
			Trigger: "cron", Spec: "* * * * * *", Args: "1,2,3", IsValid: 1, Extra: `{"overlap":"allow"}`}); err != nil {
			return err
		}
	}

	procs := make([]*exec.Cmd, replicas)
	start := func(i int) error {
		cmd := exec.Command(bin)
		cmd.Env = append(env, fmt.Sprintf("TASKRUNNER_LOGGER_FILE=%s/replica%d.log", dir, i))
		if err := cmd.Start(); err != nil {
			return err
		}
		procs[i] = cmd
		return nil
	}
	for i := range procs {
		if err := start(i); err != nil {
			return err
		}
	}
	began := time.Now().UTC()
	fmt.Printf("soak: %d replicas, %d tasks every second, %s, logs in %s\n", replicas, tasks, duration, dir)
	kills := 0
	for deadline := began.Add(duration); time.Now().Before(deadline); {
		wait := killMin + time.Duration(rand.Int64N(int64(killMax-killMin)+1))
		time.Sleep(min(wait, time.Until(deadline)))
		if time.Now().After(deadline) {
			break
		}
		i := rand.IntN(replicas)
		_ = procs[i].Process.Signal(syscall.SIGKILL)
		_ = procs[i].Wait()
		kills++
		time.Sleep(time.Duration(rand.Int64N(int64(3 * time.Second))))
		if err := start(i); err != nil {
			return err
		}
		fmt.Printf("soak: %s killed replica %d (kill %d)\n", time.Since(began).Round(time.Second), i, kills)
	}
	ended := time.Now().UTC()
	for _, p := range procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		_ = p.Wait()
	}
	return report(ctx, db, tasks, began, ended, kills)
}

// report counts pairs over the fire times from 5 s after the start to 5 s
// before the end, when every replica had had time to start.
func report(ctx context.Context, db *models.DB, tasks int, began, ended time.Time, kills int) error {
	from, to := began.Add(5*time.Second).Truncate(time.Second), ended.Add(-5*time.Second).Truncate(time.Second)
	seconds := int(to.Sub(from)/time.Second) + 1
	var ran, runsTwice, lost, requeued, statuses int
	q := func(dst *int, query string) error {
		return db.GetContext(ctx, dst, query, from, to)
	}
	// A pair ran if its function completed (test_interval always succeeds).
	if err := q(&ran, "SELECT COUNT(*) FROM (SELECT DISTINCT task_id, scheduled_at FROM execute_task WHERE status = 'success' AND scheduled_at BETWEEN ? AND ?) p"); err != nil {
		return err
	}
	// A pair ran twice if two rows of it finished successfully.
	if err := q(&runsTwice, "SELECT COUNT(*) FROM (SELECT task_id FROM execute_task WHERE status = 'success' AND scheduled_at BETWEEN ? AND ? GROUP BY task_id, scheduled_at HAVING COUNT(*) > 1) p"); err != nil {
		return err
	}
	if err := q(&lost, "SELECT COUNT(*) FROM execute_task WHERE status = 'lost' AND scheduled_at BETWEEN ? AND ?"); err != nil {
		return err
	}
	if err := q(&requeued, "SELECT COUNT(*) FROM execute_task WHERE extra LIKE '%requeued_from%' AND scheduled_at BETWEEN ? AND ?"); err != nil {
		return err
	}
	if err := q(&statuses, "SELECT COUNT(*) FROM execute_task WHERE status IN ('running', 'pending') AND scheduled_at BETWEEN ? AND ?"); err != nil {
		return err
	}
	expected := tasks * seconds
	fmt.Printf("soak result: %d kills; fire times %s..%s (%d s x %d tasks = %d pairs)\n", kills, from.Format(time.TimeOnly), to.Format(time.TimeOnly), seconds, tasks, expected)
	fmt.Printf("  ran once: %d, ran twice: %d, not run: %d, of which lost mid-run (killed while the function ran; max_retries 0): %d; claimed by a killed replica and requeued: %d; still running/pending: %d\n",
		ran-runsTwice, runsTwice, expected-ran, lost, requeued, statuses)
	return nil
}
