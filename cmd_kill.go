package main

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/spf13/cobra"
)

func newKillCmd() *cobra.Command {
	cf := &connFlags{}
	cmd := &cobra.Command{
		Use:   "kill <run id>",
		Short: "Kill a running, queued or pending run (needs --server)",
		Long: `Kill a running, queued or pending run, wherever it runs: its row says killed at
once and its owner cancels the function's context (a worker at once, through
Redis). It needs a running
daemon, named by --server or TASKRUNNER_SERVER.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usagef("kill: want a run id (a positive number, as taskrunner runs shows), got %q", args[0])
			}
			h, err := needServer(cf, "kill")
			if err != nil {
				return err
			}
			if _, err := h.call(cmd.Context(), http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/kill", id), nil, nil); err != nil {
				return err
			}
			if cf.json {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"id": id, "status": "killed"})
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "run %d killed\n", id)
			return err
		},
	}
	addConnFlags(cmd, cf)
	return cmd
}
