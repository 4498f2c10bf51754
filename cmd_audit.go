package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

func newAuditCmd(g *globals) *cobra.Command {
	cf := &connFlags{}
	var key string
	var limit int
	cmd := &cobra.Command{
		Use:   "audit [--task K]",
		Short: "List changes of task definitions: who, when, from where, what",
		Long: `List the audit table, newest first: every change of a task definition through
the API (source api), the CLI (source cli, actor cli:<os user>) or raw SQL
that a sync noticed (source sql), with the columns it changed. --json has
the definitions before and after in full. A deleted task is named by its
row id.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 1000 {
				return usagef("--limit: want 1 to 1000, got %d", limit)
			}
			return withBackend(cmd, g, cf, func(ctx context.Context, b backend) error {
				var id int64
				if key != "" {
					t, err := b.task(ctx, key)
					if n, ok := keyAsID(key); err != nil && isNotFound(err) && ok {
						t.ID, err = n, nil // a deleted task's id
					}
					if err != nil {
						return err
					}
					id = t.ID
				}
				as, err := b.listAudit(ctx, id, limit)
				if err != nil {
					return err
				}
				if cf.json {
					return writeJSON(cmd.OutOrStdout(), nonNil(as))
				}
				return printAudit(cmd.OutOrStdout(), as)
			})
		},
	}
	addConnFlags(cmd, cf)
	cmd.Flags().StringVar(&key, "task", "", "only this task (key, or row id)")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many changes (1 to 1000)")
	return cmd
}

// printAudit prints the audit table.
func printAudit(w io.Writer, as []auditView) error {
	tb := newTable(w, "ID", "AT", "ACTOR", "SOURCE", "REMOTE", "ACTION", "TASK", "CHANGES")
	for _, a := range as {
		tb.row(fmt.Sprint(a.ID), a.At.Format(timeLayout), a.Actor, a.Source, a.Remote, a.Action,
			fmt.Sprintf("%d %s", a.TaskID, a.TaskKey), clip(changes(a.Before, a.After), 100))
	}
	return tb.flush()
}

// changes names the columns an audited change set, with their new values.
func changes(before, after json.RawMessage) string {
	var b, a map[string]json.RawMessage
	_ = json.Unmarshal(before, &b)
	_ = json.Unmarshal(after, &a)
	if a == nil {
		return ""
	}
	var keys []string
	for k, v := range a {
		now := compactJSON(v)
		if b == nil && now != `""` && now != "{}" || b != nil && compactJSON(b[k]) != now {
			keys = append(keys, k) // a create's columns that are set, an edit's that changed
		}
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + clip(compactJSON(a[k]), 40)
	}
	return strings.Join(parts, " ")
}

func compactJSON(raw json.RawMessage) string {
	var buf strings.Builder
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // maps come out with sorted keys
	return strings.TrimSpace(buf.String())
}
