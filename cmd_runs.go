package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"taskrunner/models"
)

func newRunsCmd(g *globals) *cobra.Command {
	cf := &connFlags{}
	var key, since, until string
	f := models.RunFilter{}
	cmd := &cobra.Command{
		Use:   "runs [--task K] [--status S] [--since T]",
		Short: "List runs from execute_task, newest first",
		Long: `List runs from execute_task, newest first: by task, status and scheduled time.
--since and --until take a time (RFC 3339, or "YYYY-MM-DD[ HH:MM[:SS]]" in
the configured zone) or, for --since, a duration back from now ("24h").
Times are shown in each run's task zone.`,
		Example: `  taskrunner runs --task report --since 24h
  taskrunner runs --status failed --limit 20 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Limit < 1 || f.Limit > 1000 {
				return usagef("--limit: want 1 to 1000, got %d", f.Limit)
			}
			return withBackend(cmd, g, cf, func(ctx context.Context, b backend) error {
				loc, err := b.zone(ctx)
				if err != nil {
					return err
				}
				if since != "" {
					if d, err := time.ParseDuration(since); err == nil && d > 0 {
						f.Since = time.Now().Add(-d)
					} else if f.Since, err = parseWhen("since", since, loc); err != nil {
						return err
					}
				}
				if until != "" {
					if f.Until, err = parseWhen("until", until, loc); err != nil {
						return err
					}
				}
				if key != "" {
					t, err := b.task(ctx, key)
					if err != nil {
						return err
					}
					f.TaskID = t.ID
				}
				rs, err := b.listRuns(ctx, f)
				if err != nil {
					return err
				}
				if err := runZones(ctx, b, rs); err != nil {
					return err
				}
				if cf.json {
					return writeJSON(cmd.OutOrStdout(), nonNil(rs))
				}
				return printRuns(cmd.OutOrStdout(), rs)
			})
		},
	}
	addConnFlags(cmd, cf)
	fl := cmd.Flags()
	fl.StringVar(&key, "task", "", "only this task (key, or row id)")
	fl.StringVar(&f.Status, "status", "", "only this status: running, success, failed, timeout, skipped, missed, pending, cancelled, interrupted, lost")
	fl.StringVar(&since, "since", "", "scheduled at or after this time, or this long ago (24h)")
	fl.StringVar(&until, "until", "", "scheduled before this time")
	fl.IntVar(&f.Limit, "limit", 50, "at most this many runs (1 to 1000)")
	return cmd
}

// printRuns prints the runs table.
func printRuns(w io.Writer, rs []runView) error {
	tb := newTable(w, "ID", "TASK", "STATUS", "SOURCE", "ATTEMPT", "SCHEDULED", "DURATION", "ERROR")
	for _, r := range rs {
		dur := ""
		if r.DurationMS != nil {
			dur = (time.Duration(*r.DurationMS) * time.Millisecond).String()
		}
		tb.row(fmt.Sprint(r.ID), r.TaskKey, r.Status, r.Source, fmt.Sprint(r.Attempt), showTime(r.ScheduledAt, r.loc), dur,
			clip(firstLine(r.Error), 60))
	}
	return tb.flush()
}
