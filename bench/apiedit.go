package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"taskrunner/libs/redispool"
	"taskrunner/models"
	"taskrunner/tasks/edits"
	"taskrunner/tasks/engine"
)

// applied is a replica's Reload of rows told to it by the edit bus.
type applied struct {
	at  time.Time
	ids []int64
	err error
}

// apiEdit: edits of a row's spec through the API (GET for the ETag, then
// PATCH with If-Match) on one replica, to the edit applied there (the
// PATCH answers after Reload) and on the other replicas, which hear it
// on the Redis edit bus and Reload it.
func apiEdit(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("api-edit", flag.ExitOnError)
	var c common
	c.flags(fs)
	ownDB(fs, "taskrunner_bench_api")
	n := fs.Int("tasks", 100, "rows in the task table")
	tries := fs.Int("edits", 50, "edits to measure")
	replicas := fs.Int("replicas", 3, "replicas, each with its own pool and edit bus; the first serves the API")
	redisAddr := fs.String("redis", "127.0.0.1:6379", "Redis of the edit bus")
	pause := fs.Duration("pause", 200*time.Millisecond, "between edits")
	wait := fs.Duration("wait", 2*time.Second, "how long a replica may take to apply an edit before it counts as not applied")
	_ = fs.Parse(args)
	if *replicas < 2 {
		return fmt.Errorf("-replicas: want at least 2, got %d", *replicas)
	}

	rows := make([]models.Task, *n)
	for i := range rows {
		rows[i] = models.Task{Key: fmt.Sprintf("edit_%d", i), Func: "noop", Trigger: "cron", Spec: "0 0 1 1 *", IsValid: 1}
	}
	open, db, ids, err := c.seeded(ctx, rows)
	if err != nil {
		return err
	}
	defer db.Close()

	// Replicas as the daemon wires them (cmd_run.go editBus): each its
	// own pool and Redis client, listening with its Reload; the first
	// also publishes its API's edits. The channel is this run's own.
	log := c.logger()
	prefix := fmt.Sprintf("taskrunner_bench_%d", os.Getpid())
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var closers []func() error
	defer func() {
		cancel()
		wg.Wait()
		for _, cl := range closers {
			_ = cl()
		}
	}()
	engines := make([]*engine.Engine, *replicas)
	heard := make([]chan applied, *replicas)
	var bus0 *edits.Bus
	for i := range engines {
		pool, err := open()
		if err != nil {
			return err
		}
		closers = append(closers, pool.Close)
		e, err := newEngine(pool, log, engine.DefaultConfig())
		if err != nil {
			return err
		}
		rdb, err := redispool.Open(ctx, redispool.Config{Addr: *redisAddr})
		if err != nil {
			return err
		}
		closers = append(closers, rdb.Close)
		bus := edits.New(rdb, prefix, fmt.Sprintf("replica-%d", i), log)
		// The bus calls Reload; the wrapper notes when it returned, the
		// row then applied (and its state committed).
		ch := make(chan applied, 16)
		heard[i] = ch
		reload := func(ctx context.Context, ids ...int64) error {
			err := e.Reload(ctx, ids...)
			select {
			case ch <- applied{at: time.Now(), ids: ids, err: err}:
			default:
			}
			return err
		}
		if err := bus.Listen(runCtx, reload); err != nil {
			return fmt.Errorf("redis %s: %w", *redisAddr, err)
		}
		if i == 0 {
			bus0 = bus
		}
		engines[i] = e
		wg.Add(1)
		go func() { defer wg.Done(); _ = e.Run(runCtx) }()
	}
	for _, e := range engines {
		for deadline := time.Now().Add(30 * time.Second); !e.Synced(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				return fmt.Errorf("replica not synced after 30 s")
			}
		}
	}
	srv, err := newAPI(db, engines[0], log, bus0.Publish)
	if err != nil {
		return err
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	client := ts.Client()

	var local, remote latencies
	perReplica := make([]latencies, *replicas)
	late := 0
	last := map[int64]string{} // row -> its last spec
	for i := range *tries {
		id := ids[i%len(ids)]
		spec := fmt.Sprintf("%d %d 1 1 *", i%60, 1+i/60%23)
		sched, err := engine.ParseSchedule("cron", spec, time.UTC, time.Now())
		if err != nil {
			return err
		}
		want := sched.Kind() + " " + sched.Spec()
		url := fmt.Sprintf("%s/api/v1/tasks/%d", ts.URL, id)
		_, hdr, err := call(ctx, client, http.MethodGet, url, nil, nil)
		if err != nil {
			return err
		}
		for _, ch := range heard {
			for len(ch) > 0 {
				<-ch
			}
		}

		t0 := time.Now()
		env, _, err := call(ctx, client, http.MethodPatch, url, strings.NewReader(fmt.Sprintf(`{"spec":%q}`, spec)), map[string]string{"If-Match": hdr.Get("ETag")})
		local = append(local, time.Since(t0))
		if err != nil {
			return err
		}
		var out struct {
			AppliedSpec string `json:"applied_spec"`
		}
		if err := json.Unmarshal(env.Data, &out); err != nil {
			return err
		}
		if out.AppliedSpec != want || env.Msg != "" {
			return fmt.Errorf("edit %d: the PATCH answered applied_spec %q (%s), want %q", i, out.AppliedSpec, env.Msg, want)
		}
		last[id] = spec

		for r := 1; r < *replicas; r++ {
			lag, ok := waitApplied(heard[r], id, t0, *wait)
			if !ok {
				late++
				continue
			}
			remote = append(remote, lag)
			perReplica[r] = append(perReplica[r], lag)
		}
		time.Sleep(*pause)
	}

	// Each replica's schedule of each edited row is the last spec it was
	// given: its fire times over the past three years, as the engine
	// lists them for a backfill, are the spec's.
	checked := 0
	now := time.Now().UTC()
	from := now.AddDate(-3, 0, 0)
	for id, spec := range last {
		sched, _ := engine.ParseSchedule("cron", spec, time.UTC, now)
		var want []time.Time
		for at := sched.Next(from.Add(-time.Nanosecond)); !at.IsZero() && !at.After(now); at = sched.Next(at) {
			want = append(want, at)
		}
		key := rows[slices.Index(ids, id)].Key
		for r, e := range engines {
			plan, err := e.PlanBackfill(ctx, key, from, now)
			if err != nil {
				return err
			}
			if !slices.EqualFunc(plan.Times, want, time.Time.Equal) {
				return fmt.Errorf("replica %d: row %d scheduled at %v, want %v (%s)", r, id, plan.Times, want, spec)
			}
			checked++
		}
	}

	rowsOut := [][2]string{
		{"edits", fmt.Sprintf("%d (a GET for the ETag, then PATCH {\"spec\"} with If-Match; a different row each time)", len(local))},
		{"PATCH round trip (loopback HTTP) = applied on the API's replica", summary(local)},
		{"applied on the other replicas (their Reload returned), from the PATCH's start", summary(remote)},
	}
	for r := 1; r < *replicas; r++ {
		rowsOut = append(rowsOut, [2]string{fmt.Sprintf("  replica %d", r), summary(perReplica[r])})
	}
	rowsOut = append(rowsOut,
		[2]string{fmt.Sprintf("not applied through the bus within %s", *wait), fmt.Sprint(late)},
		[2]string{"schedules checked afterwards (row x replica)", fmt.Sprintf("%d, all on the last spec", checked)},
	)
	table(os.Stdout, fmt.Sprintf("api-edit: %d rows, %d replicas (each its own pool; the edit bus on Redis %s), %s", *n, *replicas, *redisAddr, c.driver), rowsOut)
	return nil
}

// waitApplied waits for a replica to apply row id, and returns how long
// after t0 it had.
func waitApplied(ch <-chan applied, id int64, t0 time.Time, wait time.Duration) (time.Duration, bool) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case a := <-ch:
			if a.err == nil && slices.Contains(a.ids, id) {
				return a.at.Sub(t0), true
			}
		case <-timer.C:
			return 0, false
		}
	}
}

// summary is the median and max of a few durations.
func summary(l latencies) string {
	if len(l) == 0 {
		return "none"
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return fmt.Sprintf("median %s, max %s (n = %d)", ms2(s[len(s)/2]), ms2(s[len(s)-1]), len(s))
}
