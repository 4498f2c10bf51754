package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"taskrunner/models"
	"taskrunner/tasks"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/system"
)

func newValidateCmd(g *globals) *cobra.Command {
	cf := &connFlags{}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check every task row as the engine would; exit 3 if any is bad",
		Long: `Check every row of the task table, enabled or not, by the engine's own
parsing (engine.CheckTask: trigger and spec, execute_func against the
functions built into this binary, args, the options in extra), and two
enabled rows holding one task_key. Print the bad rows with the reason, a
line per column at fault, and exit with status 3 if there is any.

The rows come from --server's API or the database; the check uses this
binary's functions and the configuration of --conf (its zone and defaults;
with --server and no readable configuration, the daemon's zone and the
built-in defaults).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := registry(nil, nil, system.Config{})
			if err != nil {
				return err
			}
			return withBackend(cmd, g, cf, func(ctx context.Context, b backend) error {
				cfg := engine.DefaultConfig()
				if c := configFor(g.confDir); c != nil {
					cfg = c.Common.Scheduler
				}
				if cfg.Location == nil {
					if cfg.Location, err = b.zone(ctx); err != nil {
						return err
					}
				}
				ts, err := b.listTasks(ctx, models.TaskFilter{Valid: -1})
				if err != nil {
					return err
				}
				bad := validate(cfg, reg, ts)
				out := cmd.OutOrStdout()
				if cf.json {
					err = writeJSON(out, map[string]any{"checked": len(ts), "bad": nonNil(bad)})
				} else {
					err = printBad(out, bad)
				}
				if err != nil {
					return err
				}
				if len(bad) > 0 {
					return &exitErr{code: exitBad, err: fmt.Errorf("validate: %d of %d task rows cannot be scheduled", len(bad), len(ts))}
				}
				if !cf.json {
					fmt.Fprintf(out, "%d task rows checked, all good\n", len(ts))
				}
				return nil
			})
		},
	}
	addConnFlags(cmd, cf)
	return cmd
}

// badRow is a row the engine would not schedule, and why.
type badRow struct {
	ID      int64               `json:"id"`
	Key     string              `json:"task_key"`
	IsValid int                 `json:"is_valid"`
	Errors  []engine.FieldError `json:"errors"`
}

// validate checks rows as the engine's sync does: each by CheckTask
// (relative phrases measured from the row's update_at), and an enabled
// row whose key a lower enabled id holds (the engine runs the lower).
func validate(cfg engine.Config, reg *tasks.Registry, ts []taskView) []badRow {
	holder := map[string]int64{}
	var bad []badRow
	for _, t := range ts {
		errs := engine.CheckTask(cfg, reg, t.row(), t.UpdateAt)
		if t.IsValid == 1 {
			if id, ok := holder[t.Key]; ok {
				errs = append(errs, engine.FieldError{Field: "task_key", Message: fmt.Sprintf("%q is also held by enabled row %d, which runs instead", t.Key, id)})
			} else {
				holder[t.Key] = t.ID
			}
		}
		if len(errs) > 0 {
			bad = append(bad, badRow{ID: t.ID, Key: t.Key, IsValid: t.IsValid, Errors: errs})
		}
	}
	return bad
}

// printBad prints a line per column at fault.
func printBad(w io.Writer, bad []badRow) error {
	if len(bad) == 0 {
		return nil
	}
	tb := newTable(w, "ID", "KEY", "ENABLED", "COLUMN", "REASON")
	for _, b := range bad {
		for _, e := range b.Errors {
			tb.row(fmt.Sprint(b.ID), b.Key, yesNo(b.IsValid == 1), e.Field, e.Message)
		}
	}
	return tb.flush()
}
