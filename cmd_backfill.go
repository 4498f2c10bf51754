package main

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

func newBackfillCmd() *cobra.Command {
	cf := &connFlags{}
	var from, to string
	var dry bool
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "backfill <key> --from T --to T [--dry-run] [--every D]",
		Short: "Run a task's past fire times that did not run (needs --server)",
		Long: `Run the fire times of a task from --from to --to (both included) that
execute_task does not account for, oldest first, each with its own
scheduled time; a fire time that already ran is not run again. --dry-run
lists them and which already ran. The runs go on in the daemon, at least
--every apart; taskrunner runs --task KEY shows them. Times are RFC 3339,
or "YYYY-MM-DD[ HH:MM[:SS]]" in the task's zone. It needs a running
daemon, named by --server or TASKRUNNER_SERVER.`,
		Example: `  taskrunner backfill report --from 2026-11-01 --to '2026-11-07 23:59' --dry-run
  taskrunner backfill report --from 2026-11-01T00:00:00+08:00 --to 2026-11-07T23:59:59+08:00 --every 10s`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := needServer(cf, "backfill")
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			t, err := h.task(ctx, args[0])
			if err != nil {
				return err
			}
			fromT, err := parseWhen("from", from, t.loc)
			if err != nil {
				return err
			}
			toT, err := parseWhen("to", to, t.loc)
			if err != nil {
				return err
			}
			q := url.Values{"from": {fromT.Format(time.RFC3339)}, "to": {toT.Format(time.RFC3339)}}
			if dry {
				q.Set("dry_run", "true")
			}
			if every > 0 {
				q.Set("every", every.String())
			}
			r, err := h.call(ctx, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%d/backfill", t.ID), q, nil)
			if err != nil {
				return err
			}
			var plan struct {
				Times   []time.Time `json:"times"`
				Done    []bool      `json:"done"`
				Pending int         `json:"pending"`
			}
			if err := decodeData(r, &plan); err != nil {
				return err
			}
			for i := range plan.Times {
				plan.Times[i] = plan.Times[i].In(t.loc)
			}
			out := cmd.OutOrStdout()
			if cf.json {
				return writeJSON(out, map[string]any{"task_key": t.Key, "dry_run": dry, "times": nonNil(plan.Times),
					"done": nonNil(plan.Done), "pending": plan.Pending})
			}
			if dry {
				tb := newTable(out, "FIRE TIME", "STATE")
				for i, at := range plan.Times {
					state := "to run"
					if i < len(plan.Done) && plan.Done[i] {
						state = "ran"
					}
					tb.row(showTime(&at, t.loc), state)
				}
				if err := tb.flush(); err != nil {
					return err
				}
				_, err := fmt.Fprintf(out, "%d fire times, %d to run (dry run: nothing started)\n", len(plan.Times), plan.Pending)
				return err
			}
			_, err = fmt.Fprintf(out, "backfill of %s started: %d runs (%d fire times, %d already ran); follow it with taskrunner runs --task %s\n",
				t.Key, plan.Pending, len(plan.Times), len(plan.Times)-plan.Pending, t.Key)
			return err
		},
	}
	addConnFlags(cmd, cf)
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "first instant (included)")
	f.StringVar(&to, "to", "", "last instant (included); not in the future")
	f.BoolVar(&dry, "dry-run", false, "list the fire times, start nothing")
	f.DurationVar(&every, "every", 0, "at least this long between two starts (throttle)")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}
