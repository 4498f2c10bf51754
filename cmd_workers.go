package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"taskrunner/models"
)

func newWorkersCmd(g *globals) *cobra.Command {
	cf := &connFlags{}
	var kind string
	var deadWithin time.Duration
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "List the replicas and workers: live ones, and those dead recently",
		Long: `List the rows of the replica table: every live taskrunner process (kind
replica) and worker (kind worker), and those that stopped or were declared
dead within --dead-within, marked dead with the reason.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kind != "" && kind != models.KindReplica && kind != models.KindWorker {
				return usagef("--kind: want replica or worker, got %q", kind)
			}
			if deadWithin < 0 {
				return usagef("--dead-within: want a duration such as 1h, got %s", deadWithin)
			}
			return withBackend(cmd, g, cf, func(ctx context.Context, b backend) error {
				rs, err := b.listReplicas(ctx, kind, deadWithin)
				if err != nil {
					return err
				}
				if cf.json {
					return writeJSON(cmd.OutOrStdout(), nonNil(rs))
				}
				return printReplicas(cmd.OutOrStdout(), rs)
			})
		},
	}
	addConnFlags(cmd, cf)
	cmd.Flags().StringVar(&kind, "kind", "", "only replica or worker")
	cmd.Flags().DurationVar(&deadWithin, "dead-within", time.Hour, "also those dead within this long")
	return cmd
}

// printReplicas prints the replica table.
func printReplicas(w io.Writer, rs []replicaView) error {
	tb := newTable(w, "ID", "KIND", "HOST", "IP", "PID", "QUEUES", "VERSION", "STARTED", "HEARTBEAT", "STATE")
	for _, r := range rs {
		state := r.State
		if r.DeadAt != nil {
			state = fmt.Sprintf("dead since %s (%s)", r.DeadAt.Format(timeLayout), r.DeadReason)
		}
		ip, queues := infoColumns(r.Info)
		tb.row(r.ID, r.Kind, r.Host, ip, fmt.Sprint(r.PID), queues, r.Version, r.StartedAt.Format(timeLayout), r.HeartbeatAt.Format(timeLayout), state)
	}
	return tb.flush()
}

// infoColumns reads a row's info: its internal IP (and container, when
// in one) and the queues of a worker, "name:concurrency" in name order.
func infoColumns(info json.RawMessage) (ip, queues string) {
	var v struct {
		IP        string         `json:"ip"`
		Container string         `json:"container_name"`
		Queues    map[string]int `json:"queues"`
	}
	_ = json.Unmarshal(info, &v) // a row without them shows "-"
	ip = v.IP
	if v.Container != "" {
		ip += " (" + v.Container + ")"
	}
	names := make([]string, 0, len(v.Queues))
	for q := range v.Queues {
		names = append(names, q)
	}
	sort.Strings(names)
	for i, q := range names {
		names[i] = fmt.Sprintf("%s:%d", q, v.Queues[q])
	}
	return ip, strings.Join(names, ",") // an empty cell prints "-"
}
