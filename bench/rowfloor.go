package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"taskrunner/bench/internal/procstat"
	"taskrunner/models"
)

// rowFloor replays only the database's part of a queued run, with the
// models' own statements and no engine, queue or function: each second,
// the fire's claims of -tasks rows, queued by the claim (with -handoff:
// running, then handed to the queue) and its run_start row, the
// workers' takes in batches of -take and the outcomes in
// batches of -finish (with the tasks' last status), -conns statements at
// once. It says what the database's core costs per run on this machine,
// whatever the engine does: the floor under the queue scenario.
func rowFloor(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rowfloor", flag.ExitOnError)
	var c common
	c.flags(fs)
	ownDB(fs, "taskrunner_bench_rowfloor")
	n := fs.Int("tasks", 5000, "runs each second (a fire of this many tasks)")
	duration := fs.Duration("duration", 20*time.Second, "how long")
	take := fs.Int("take", 64, "rows per take statement (a worker's batch)")
	finish := fs.Int("finish", 100, "outcomes per statement (the completer's batch)")
	conns := fs.Int("conns", 8, "statements at once")
	handOff := fs.Bool("handoff", false, "claim the runs running and hand them to the queue at their time (a queue's first fire, or a retry), not queued by the claim")
	_ = fs.Parse(args)
	if *n < 1 || *take < 1 || *finish < 1 || *conns < 1 {
		return fmt.Errorf("-tasks, -take, -finish and -conns must be at least 1")
	}

	rows := make([]models.Task, *n)
	for i := range rows {
		rows[i] = models.Task{Key: fmt.Sprintf("floor_%d", i), Func: "http", Trigger: "cron", Spec: "* * * * * *", IsValid: 1}
	}
	_, db, taskIDs, err := c.seeded(ctx, rows)
	if err != nil {
		return err
	}
	defer db.Close()
	const replica, worker = "floor-replica", "floor-worker"
	start := time.Now().UTC()
	for _, r := range []models.Replica{{ID: replica, StartedAt: start}, {ID: worker, Kind: models.KindWorker, StartedAt: start}} {
		if err := models.RegisterReplica(ctx, db, r); err != nil {
			return err
		}
	}

	// each runs f over ids in parts of size, -conns at once.
	each := func(ids []int64, size int, f func([]int64) error) error {
		var mu sync.Mutex
		var first error
		sem := make(chan struct{}, *conns)
		var wg sync.WaitGroup
		for i := 0; i < len(ids); i += size {
			part := ids[i:min(i+size, len(ids))]
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := f(part); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return first
	}
	second := func(at time.Time) error {
		claims := make([]models.Claim, len(taskIDs))
		for i, id := range taskIDs {
			claims[i] = models.Claim{TaskID: id, TaskKey: rows[i].Key, ScheduledAt: at, Attempt: 1, Source: models.SourceSchedule,
				TraceID: uuid.NewString(), Owner: replica, StartedAt: at}
			if !*handOff {
				claims[i].Status, claims[i].Queue, claims[i].QueueEpoch = models.RunQueued, "default", "epoch"
			}
		}
		ids, err := models.ClaimRuns(ctx, db, claims)
		if err != nil {
			return err
		}
		startID, _, err := models.StartRuns(ctx, db, replica, ids, at)
		if err != nil {
			return err
		}
		if *handOff {
			if _, err := models.QueueRuns(ctx, db, replica, ids, "default", "epoch", time.Now().UTC()); err != nil {
				return err
			}
		}
		if err := models.EndRunStart(ctx, db, startID); err != nil {
			return err
		}
		if err := each(ids, *take, func(part []int64) error {
			_, err := models.TakeQueued(ctx, db, worker, "host", uuid.NewString(), part, time.Now().UTC())
			return err
		}); err != nil {
			return err
		}
		taskOf := make(map[int64]int64, len(ids))
		for i, id := range ids {
			taskOf[id] = taskIDs[i]
		}
		return each(ids, *finish, func(part []int64) error {
			now := time.Now().UTC()
			outs := make([]models.Outcome, len(part))
			tasks := make([]int64, len(part))
			for i, id := range part {
				tasks[i] = taskOf[id]
				outs[i] = models.Outcome{ID: id, TaskID: tasks[i], Owner: worker, Attempt: 1,
					Finish: models.Finish{Status: models.RunSuccess, Output: "ok", StartedAt: now, FinishedAt: now, Duration: time.Millisecond}}
			}
			if err := models.FinishRuns(ctx, db, outs); err != nil {
				return err
			}
			return models.FinishTaskRuns(ctx, db, map[models.TaskOutcome][]int64{{Status: models.TaskReady, RunStatus: models.RunSuccess}: tasks})
		})
	}

	dbCPU := procstat.StartServerCPU(c.driver, c.dsn)
	before := readUsage()
	began := time.Now().UTC()
	var done, late int
	var took []time.Duration
	for at := began.Truncate(time.Second).Add(time.Second); at.Before(began.Add(*duration)); at = at.Add(time.Second) {
		if wait := time.Until(at); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		} else {
			late++
		}
		t0 := time.Now()
		if err := second(at); err != nil {
			return err
		}
		took = append(took, time.Since(t0))
		done += *n
	}
	ended := time.Now().UTC()
	after := readUsage()
	dbUse := dbCPU.Stop()
	elapsed := ended.Sub(began)
	var ok int
	if err := db.GetContext(ctx, &ok, "SELECT COUNT(*) FROM execute_task WHERE status = ?", models.RunSuccess); err != nil {
		return err
	}
	slices.Sort(took)
	claim := "claim queued"
	if *handOff {
		claim = "claim, hand-off"
	}
	table(os.Stdout, fmt.Sprintf("rowfloor: %d runs a second through %s, run_start, take (%d a statement), outcome (%d a statement), %d statements at once, %s, %s",
		*n, claim, *take, *finish, *conns, c.driver, elapsed.Round(time.Second)), [][2]string{
		{"runs recorded success", fmt.Sprintf("%d of %d", ok, done)},
		{"seconds whose work ran past the next second", fmt.Sprintf("%d of %d", late, len(took))},
		{"a second's work p50 / max", ms(percentile(took, 0.5)) + " / " + ms(percentile(took, 1))},
		{"CPU (database server)", dbUse},
		{"CPU (this process)", fmt.Sprintf("%.0f%% of one core", 100*float64(after.cpu-before.cpu)/float64(elapsed))},
	})
	return nil
}
