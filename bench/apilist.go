package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"taskrunner/libs/mysqlpool"
	"taskrunner/models"
	"taskrunner/tasks/engine"
)

// apiList: pages of the task list of a large table, through the API's
// handler in-process (server time, no network): the first page and
// pages deep in the table by cursor.
func apiList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("api-list", flag.ExitOnError)
	var c common
	c.flags(fs)
	ownDB(fs, "taskrunner_bench_api")
	n := fs.Int("rows", 100000, "rows in the task table")
	requests := fs.Int("requests", 200, "requests of each page kind measured (after 20 not measured)")
	limit := fs.Int("limit", 50, "page size")
	settle := fs.Duration("settle", 5*time.Second, "wait after the first sync (which writes every row back) before measuring; measured right after it, the tail was several times longer")
	_ = fs.Parse(args)

	open, err := c.fresh(ctx)
	if err != nil {
		return err
	}
	db, err := open()
	if err != nil {
		return err
	}
	defer db.Close()
	// Yearly crons across the day: rows the engine schedules (applied_spec,
	// next_fire_at written) that do not fire while measured.
	rows := make([]models.Task, *n)
	for i := range rows {
		rows[i] = models.Task{Key: fmt.Sprintf("list_%d", i), Func: "noop", Trigger: "cron", Spec: fmt.Sprintf("%d %d 1 1 *", i%60, i/60%24),
			Args: fmt.Sprintf(`"report",%d`, i), Extra: `{"timeout":"5m"}`, IsValid: 1}
	}
	t0 := time.Now()
	if err := models.InsertTasks(ctx, db, rows); err != nil {
		return err
	}
	load := time.Since(t0)
	var minID, maxID int64
	if err := db.QueryRowxContext(ctx, "SELECT MIN(id), MAX(id) FROM task").Scan(&minID, &maxID); err != nil {
		return err
	}

	// The engine as the daemon has it once started: the rows scheduled
	// and their state written. No sync loop runs while measuring.
	e, err := newEngine(db, c.logger(), engine.DefaultConfig())
	if err != nil {
		return err
	}
	if err := e.Start(ctx); err != nil {
		return err
	}
	defer func() { _ = e.Shutdown() }()
	if err := e.SyncOnce(ctx); err != nil {
		return err
	}
	srv, err := newAPI(db, e, c.logger(), nil)
	if err != nil {
		return err
	}
	h := srv.Handler()
	time.Sleep(*settle)

	rnd := rand.New(rand.NewPCG(1, 2))
	deepFrom := minID + int64(float64(maxID-minID-int64(*limit))*0.9) // a full page after it, whatever the page size
	deepSpan := max(1, maxID-int64(*limit)-deepFrom)
	var first, deep latencies
	var firstBytes, deepBytes int
	for i := range 20 + *requests {
		p, size, took, err := serveTimed(ctx, h, fmt.Sprintf("/api/v1/tasks?limit=%d", *limit))
		if err != nil {
			return err
		}
		if len(p.Items) != *limit || p.NextCursor == "" {
			return fmt.Errorf("first page: %d items, next_cursor %q", len(p.Items), p.NextCursor)
		}
		cursor := deepFrom + rnd.Int64N(deepSpan)
		dp, dsize, dtook, err := serveTimed(ctx, h, fmt.Sprintf("/api/v1/tasks?limit=%d&cursor=%d", *limit, cursor))
		if err != nil {
			return err
		}
		if len(dp.Items) != *limit {
			return fmt.Errorf("page after %d: %d items", cursor, len(dp.Items))
		}
		if i >= 20 {
			first, deep = append(first, took), append(deep, dtook)
			firstBytes, deepBytes = size, dsize
		}
	}
	table(os.Stdout, fmt.Sprintf("api-list: GET /api/v1/tasks?limit=%d on %d rows, server time (the handler in-process: auth, query, JSON), %s", *limit, *n, c.driver), [][2]string{
		{"rows loaded", fmt.Sprintf("%d in %s, then scheduled by one sync (%d scheduled); measured %s after it", *n, load.Round(time.Millisecond), e.LastSync().States.Ready, *settle)},
		first.row(fmt.Sprintf("first page (%d KB)", firstBytes>>10)),
		deep.row(fmt.Sprintf("a page after a random cursor in the last 10 %% of ids (%d KB)", deepBytes>>10)),
	})
	return nil
}

// apiRuns: pages of one task's run history in a large execute_task,
// through the API's handler in-process (server time): the newest page
// and a page deep in the history by cursor, of random tasks.
func apiRuns(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("api-runs", flag.ExitOnError)
	var c common
	c.flags(fs)
	ownDB(fs, "taskrunner_bench_runs") // kept for -reuse
	nTasks := fs.Int("tasks", 10000, "tasks the runs belong to")
	nRuns := fs.Int("runs", 10000000, "execute_task rows, spread evenly over the tasks, one a minute each")
	batch := fs.Int("batch", 5000, "rows per INSERT while loading")
	reuse := fs.Bool("reuse", false, "use the database as a previous run left it, when it has the same tasks and runs (no load)")
	requests := fs.Int("requests", 200, "requests of each page kind measured (after 20 not measured)")
	limit := fs.Int("limit", 50, "page size")
	_ = fs.Parse(args)
	if c.driver != "mysql" {
		return fmt.Errorf("api-runs: MySQL only (its bulk load writes MySQL literals)")
	}
	perTask := *nRuns / *nTasks
	if perTask < 2**limit {
		return fmt.Errorf("-runs: want at least %d runs a task for a deep page, got %d", 2**limit, perTask)
	}
	// Every task ran once a minute, the newest run a minute before base.
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(k int) time.Time { return base.Add(-time.Duration(perTask-k) * time.Minute) } // k = 0 is the oldest

	var db *models.DB
	var loaded string
	if *reuse {
		d, ok, err := c.reuseRuns(ctx, *nTasks, *nTasks*perTask)
		if err != nil {
			return err
		}
		if ok {
			db, loaded = d, "reused from a previous run"
		}
	}
	if db == nil {
		open, err := c.fresh(ctx)
		if err != nil {
			return err
		}
		if db, err = open(); err != nil {
			return err
		}
		took, err := loadRuns(ctx, db, *nTasks, perTask, *batch, at)
		if err != nil {
			return err
		}
		loaded = fmt.Sprintf("loaded in %s (%.0f rows/s; multi-row INSERTs of %d rows in task and time order, one connection)",
			took.Round(time.Second), float64(*nTasks*perTask)/took.Seconds(), *batch)
	}
	defer db.Close()

	// The API needs an engine; listing runs does not use it, so it is
	// built but not started.
	e, err := newEngine(db, c.logger(), engine.DefaultConfig())
	if err != nil {
		return err
	}
	srv, err := newAPI(db, e, c.logger(), nil)
	if err != nil {
		return err
	}
	h := srv.Handler()
	rnd := rand.New(rand.NewPCG(3, 4))
	deepAt := at(perTask / 10) // 90 % of the history is newer
	var first, deep latencies
	for i := range 20 + *requests {
		id := 1 + rnd.IntN(*nTasks)
		p, _, took, err := serveTimed(ctx, h, fmt.Sprintf("/api/v1/runs?task_id=%d&limit=%d", id, *limit))
		if err != nil {
			return err
		}
		if len(p.Items) != *limit || p.NextCursor == "" {
			return fmt.Errorf("task %d, first page: %d items, next_cursor %q", id, len(p.Items), p.NextCursor)
		}
		id = 1 + rnd.IntN(*nTasks)
		dp, _, dtook, err := serveTimed(ctx, h, fmt.Sprintf("/api/v1/runs?task_id=%d&limit=%d&cursor=%d.1", id, *limit, deepAt.UnixMicro()))
		if err != nil {
			return err
		}
		if len(dp.Items) != *limit || !strings.Contains(string(dp.Items[0]), at(perTask/10-1).Format("2006-01-02T15:04:05")) {
			return fmt.Errorf("task %d, deep page: %d items, first %s", id, len(dp.Items), truncate(string(dp.Items[0]), 200))
		}
		if i >= 20 {
			first, deep = append(first, took), append(deep, dtook)
		}
	}
	table(os.Stdout, fmt.Sprintf("api-runs: GET /api/v1/runs?task_id=X&limit=%d, %d runs of %d tasks, server time (the handler in-process), a random task each request, %s",
		*limit, *nTasks*perTask, *nTasks, c.driver), [][2]string{
		{"execute_task rows", fmt.Sprintf("%d (%d a task), %s", *nTasks*perTask, perTask, loaded)},
		first.row("newest page"),
		deep.row(fmt.Sprintf("page by cursor, %d runs deep (90 %% of the task's history)", perTask-perTask/10)),
	})
	return nil
}

// reuseRuns opens the database a previous api-runs left, when it holds
// the same number of tasks and runs.
func (c *common) reuseRuns(ctx context.Context, tasks, runs int) (*models.DB, bool, error) {
	cfg, err := mysql.ParseDSN(c.dsn)
	if err != nil {
		return nil, false, err
	}
	cfg.DBName = c.dbName
	pc := mysqlpool.DefaultConfig()
	pc.DSN = cfg.FormatDSN()
	raw, err := mysqlpool.Open(ctx, pc)
	if err != nil {
		return nil, false, nil // no such database: load it
	}
	db, err := models.Open(raw)
	if err != nil {
		_ = raw.Close()
		return nil, false, err
	}
	var nt, nr int
	// MAX(id) reads one index entry; COUNT(*) of 10,000,000 rows would
	// take seconds. The load numbers rows from 1 without gaps.
	if db.QueryRowxContext(ctx, "SELECT (SELECT COUNT(*) FROM task), (SELECT COALESCE(MAX(id), 0) FROM execute_task)").Scan(&nt, &nr) != nil || nt != tasks || nr != runs {
		_ = db.Close()
		return nil, false, nil
	}
	return db, true, nil
}

// loadRuns writes the tasks and perTask successful runs of each, a
// minute apart, in the order of the fire index, with multi-row INSERTs
// of literals.
func loadRuns(ctx context.Context, db *models.DB, nTasks, perTask, batch int, at func(int) time.Time) (time.Duration, error) {
	t0 := time.Now()
	rows := make([]models.Task, nTasks)
	for i := range rows {
		rows[i] = models.Task{Key: fmt.Sprintf("runs_%d", i+1), Func: "noop", Trigger: "interval", Spec: "60", IsValid: 0}
	}
	if err := models.InsertTasks(ctx, db, rows); err != nil {
		return 0, err
	}
	const head = "INSERT INTO execute_task (task_id, status, extra, trace_id, task_key, scheduled_at, attempt, source, " +
		"started_at, finished_at, duration_ms, host, owner, output) VALUES "
	var sb strings.Builder
	flush := func() error {
		if sb.Len() == 0 {
			return nil
		}
		_, err := db.ExecContext(ctx, sb.String())
		sb.Reset()
		return err
	}
	stamps := make([]string, perTask*3) // scheduled, started, finished: the same for every task
	for k := range perTask {
		s := at(k)
		stamps[3*k] = s.Format("2006-01-02 15:04:05.000000")
		stamps[3*k+1] = s.Add(1200 * time.Microsecond).Format("2006-01-02 15:04:05.000000")
		stamps[3*k+2] = s.Add(4200 * time.Microsecond).Format("2006-01-02 15:04:05.000000")
	}
	inBatch := 0
	for t := 1; t <= nTasks; t++ {
		for k := range perTask {
			if inBatch == 0 {
				sb.WriteString(head)
			} else {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "(%d,'success','{}','%08x-0000-4000-8000-%012x','runs_%d','%s',1,'schedule','%s','%s',3,'bench/1','0b8e8d3c-6d7b-4c1e-9d1a-7f0c2a5e4b21','ok')",
				t, t, k, t, stamps[3*k], stamps[3*k+1], stamps[3*k+2])
			if inBatch++; inBatch == batch {
				if err := flush(); err != nil {
					return 0, fmt.Errorf("load runs of task %d: %w", t, err)
				}
				inBatch = 0
			}
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}
