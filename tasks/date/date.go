// Package date holds task functions meant for one-shot date triggers.
// Register adds them to a registry; main.go calls it.
package date

import (
	"context"

	"taskrunner/tasks"
)

// Register adds this package's functions.
func Register(r *tasks.Registry) error {
	return tasks.AddTyped(r, "test_date", TestDate)
}

// Greeting is TestDate's args: positional ('"guess","hello"') or named
// ('{"word":"guess","greeting":"hello"}').
type Greeting struct {
	Word     string `json:"word"`
	Greeting string `json:"greeting"`
}

// TestDate is the original sample, with typed args.
func TestDate(ctx context.Context, run *tasks.Run, g Greeting) error {
	run.Logger.InfoContext(ctx, "test_date ran", "word", g.Word, "greeting", g.Greeting)
	run.Printf("%s, %s", g.Greeting, g.Word)
	return nil
}
