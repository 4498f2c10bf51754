// Package interval holds task functions meant for interval triggers.
// Register adds them to a registry; main.go calls it.
package interval

import (
	"context"

	"taskrunner/tasks"
)

// Register adds this package's functions.
func Register(r *tasks.Registry) error {
	return r.Add("test_interval", TestInterval)
}

// TestInterval is the original sample: it logs its positional args
// ('1,2,3' in the sample row) and echoes them as its output.
func TestInterval(ctx context.Context, run *tasks.Run) error {
	run.Logger.InfoContext(ctx, "test_interval ran", "args", run.Args.Values())
	run.Printf("test_interval %s args=%s", run.TaskKey, run.Args)
	return nil
}
