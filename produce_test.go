package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"taskrunner/models"
	"taskrunner/models/modelstest"
	"taskrunner/tasks"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/kinds"
	"taskrunner/tasks/system"
)

// A sql_produce task feeds its target, wired as the daemon wires them:
// each row of the query becomes a run of the target with the row as its
// args, after the target's own, and names the producer's run.
func TestSQLProduce_FeedsTarget(t *testing.T) {
	ctx := context.Background()
	cfg := modelstest.EmptyMySQL(t)
	db := modelstest.Open(t, cfg)
	_, err := models.Migrate(ctx, db, modelstest.Schema(t))
	must(t, err)
	modelstest.Exec(t, db, "CREATE TABLE weibo_user (uid BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL, due TINYINT NOT NULL);\n"+
		"INSERT INTO weibo_user VALUES (1, 'ann', 1), (2, 'bo', 1), (3, 'cy', 0)")

	kcfg := kinds.DefaultConfig()
	kcfg.SQL.Datasources = map[string]kinds.Datasource{"app": {Driver: "mysql", DSN: cfg.DSN, ReadOnly: true}}
	builtin, err := kinds.New(kcfg, nil, kinds.WithTaskDB(db))
	must(t, err)
	t.Cleanup(func() { _ = builtin.Close() })
	reg, err := registry(builtin, db, system.DefaultConfig())
	must(t, err)
	collected := make(chan string, 10)
	must(t, reg.Add("collect_user", func(ctx context.Context, run *tasks.Run) error {
		collected <- run.Args.String()
		return nil
	}))

	for _, row := range []models.Task{
		{Key: "users_due", Func: kinds.KindSQLProduce, Trigger: "interval", Spec: "3600", Args: "1", IsValid: 1,
			Extra: `{"datasource": "app", "query": "SELECT uid, name FROM weibo_user WHERE due = ? ORDER BY uid", "target": "collect_user"}`},
		{Key: "collect_user", Func: "collect_user", Trigger: "date", Spec: "2099-01-01 00:00:00", Args: `{"site":"weibo"}`, IsValid: 1},
	} {
		_, err := models.InsertTask(ctx, db, row)
		must(t, err)
	}
	ecfg := engine.DefaultConfig()
	ecfg.SyncInterval, ecfg.ShutdownTimeout = 100*time.Millisecond, 2*time.Second
	eng, err := engine.New(ecfg, db, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	must(t, err)
	must(t, eng.Start(ctx))
	t.Cleanup(func() { must(t, eng.Shutdown()) })
	must(t, eng.SyncOnce(ctx))

	producer, err := eng.RunNow(ctx, "users_due", tasks.Args{})
	must(t, err)
	<-producer.Done
	run, err := models.GetRun(ctx, db, producer.ID)
	must(t, err)
	if run.Status != models.RunSuccess || !strings.Contains(string(run.Output), "produced: 2\n") {
		t.Fatalf("producer run: %s %q\n%s", run.Status, run.Error, run.Output)
	}

	var got []string
	for len(got) < 2 {
		select {
		case args := <-collected:
			got = append(got, args)
		case <-time.After(20 * time.Second):
			t.Fatalf("target ran %d times: %v", len(got), got)
		}
	}
	want := map[string]bool{`{"name":"ann","site":"weibo","uid":1}`: true, `{"name":"bo","site":"weibo","uid":2}`: true}
	if !want[got[0]] || !want[got[1]] || got[0] == got[1] {
		t.Fatalf("target ran with %v", got)
	}
	var extras []string
	must(t, db.Select(&extras, "SELECT extra FROM execute_task WHERE task_key = 'collect_user'"))
	for _, e := range extras {
		var x struct {
			ProducerRun int64 `json:"producer_run"`
		}
		if err := json.Unmarshal([]byte(e), &x); err != nil || x.ProducerRun != producer.ID {
			t.Fatalf("produced run's extra %s, want producer_run %d", e, producer.ID)
		}
	}
}
