package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

func newTriggerCmd() *cobra.Command {
	cf := &connFlags{}
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "trigger <key> [--wait] [-- args...]",
		Short: "Run a task now, on a running daemon (needs --server)",
		Long: `Run a task now, outside its schedule, with the row's args followed by the
args after --: each is a JSON value (1, "a", true, {"k":1}) or else a
string. It needs a running daemon, named by --server or TASKRUNNER_SERVER.

Without --wait it prints the run id at once. With --wait it waits up to
--timeout for the outcome and prints the last line of the output; a run
that failed, or is still running when the wait ends, exits 1.`,
		Example: `  taskrunner trigger report
  taskrunner trigger report --wait -- 2026-11 '{"dry":true}'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || cmd.ArgsLenAtDash() == 0 {
				return usagef("trigger: want the task's key before any args, e.g. taskrunner trigger report -- 1 2")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := needServer(cf, "trigger")
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			t, err := h.task(ctx, args[0])
			if err != nil {
				return err
			}
			extra := make([]json.RawMessage, 0, len(args)-1)
			for _, a := range args[1:] {
				if !json.Valid([]byte(a)) {
					b, _ := json.Marshal(a)
					a = string(b)
				}
				extra = append(extra, json.RawMessage(a))
			}
			q := url.Values{}
			if wait {
				q.Set("wait", "true")
				q.Set("timeout", timeout.String())
			}
			var body any
			if len(extra) > 0 {
				body = extra
			}
			r, err := h.call(ctx, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%d/trigger", t.ID), q, body)
			if err != nil {
				return err
			}
			id, _ := strconv.ParseInt(r.header.Get("X-Run-Id"), 10, 64)
			out := cmd.OutOrStdout()
			if !wait {
				if cf.json {
					return writeJSON(out, map[string]any{"run_id": id, "task_key": t.Key})
				}
				_, err := fmt.Fprintf(out, "run %d of %s started\n", id, t.Key)
				return err
			}
			var line string
			_ = json.Unmarshal(r.Data, &line)
			status := r.header.Get("X-Run-Status")
			if r.Code == 2 {
				status = "running"
			}
			if cf.json {
				if err := writeJSON(out, map[string]any{"run_id": id, "task_key": t.Key, "status": status, "output": line, "error": r.Msg}); err != nil {
					return err
				}
			} else if line != "" {
				fmt.Fprintln(out, line)
			}
			switch r.Code {
			case 0:
				return nil
			case 2:
				return fmt.Errorf("run %d of %s is still running after %s; see taskrunner runs --task %s", id, t.Key, timeout, t.Key)
			}
			return fmt.Errorf("run %d of %s: %s: %s", id, t.Key, status, r.Msg)
		},
	}
	addConnFlags(cmd, cf)
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the outcome")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "with --wait, how long (at most the daemon's max_wait)")
	return cmd
}
