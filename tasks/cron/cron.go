// Package cron holds task functions meant for cron triggers.
// Register adds them to a registry; main.go calls it.
package cron

import (
	"context"

	"taskrunner/tasks"
)

// Register adds this package's functions.
func Register(r *tasks.Registry) error {
	return tasks.AddTyped(r, "test_cron", TestCron)
}

// TestCron is the original sample: its args ('4,5,6') decode into a slice.
func TestCron(ctx context.Context, run *tasks.Run, nums []int) error {
	sum := 0
	for _, n := range nums {
		sum += n
	}
	run.Logger.InfoContext(ctx, "test_cron ran", "args", nums, "sum", sum)
	run.Printf("sum=%d", sum)
	return nil
}
