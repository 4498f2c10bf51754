package tasks_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"taskrunner/tasks"
)

// A task function as it is registered in tasks/cron, tasks/date or
// tasks/interval: args '"ops@example.com","disk full"' or
// '{"to":"ops@example.com","subject":"disk full"}' arrive decoded.
func ExampleAddTyped() {
	type alert struct {
		To      string `json:"to"`
		Subject string `json:"subject"`
	}
	reg := tasks.NewRegistry()
	_ = tasks.AddTyped(reg, "send_alert", func(ctx context.Context, run *tasks.Run, a alert) error {
		run.Logger.Info("sending", "to", a.To) // carries task_key and trace_id
		run.Printf("sent %q to %s", a.Subject, a.To)
		return nil
	})

	// What the engine does with a row whose execute_func is send_alert:
	args, _ := tasks.ParseArgs(`"ops@example.com","disk full"`)
	fn, _ := reg.Check("send_alert", args)
	run := tasks.NewRun(1024)
	run.TaskKey, run.Args = "alert_ops", args
	run.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	_ = fn(context.Background(), run)
	fmt.Println(run.OutputText())
	// Output: sent "disk full" to ops@example.com
}
