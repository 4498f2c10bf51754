package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"taskrunner/models"
)

func newTokensCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Add, list or revoke the tokens workers register with",
		Long: `Manage the worker_token table: the tokens a worker may register with. A
worker presents its token from its configuration; one that is missing,
unknown or revoked is refused. A new database has no token, so no worker
registers until one is added.

The token is printed once, by add: the database keeps only its SHA-256,
whose first 8 hex digits list shows and a refusal logs. Revoking refuses
new registrations at once and declares dead the live workers registered
with it: each stops at its next heartbeat. A revoked name stays taken.

These verbs work on the database of --conf only (not through --server).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newTokensAddCmd(g), newTokensListCmd(g), newTokensRevokeCmd(g))
	return cmd
}

func newTokensAddCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "add NAME",
		Short: "Add a worker token and print it, once",
		Long: `Add a worker token named NAME (letters, digits, '.', '_', '-'; up to 64) and
print it on standard output, alone on its line, so that a script can
capture it; the note that it is not shown again goes to standard error.`,
		Example: `  taskrunner tokens add batch-eu-1`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withDB(cmd, g, func(ctx context.Context, d *dbBackend) error {
				token, err := models.AddWorkerToken(ctx, d.db, args[0], d.now())
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), token)
				fmt.Fprintf(cmd.ErrOrStderr(), "worker token %q added. It is not shown again (the database keeps only its SHA-256): put it in the worker's configuration now.\n", args[0])
				return nil
			})
		},
	}
}

func newTokensListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the worker tokens, revoked ones too, by name",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDB(cmd, g, func(ctx context.Context, d *dbBackend) error {
				ts, err := models.ListWorkerTokens(ctx, d.db)
				if err != nil {
					return err
				}
				vs := make([]tokenView, len(ts))
				for i, t := range ts {
					vs[i] = showToken(t, d.cfg.Location)
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), vs)
				}
				return printTokens(cmd.OutOrStdout(), vs)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts instead of a table")
	return cmd
}

func newTokensRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a worker token: its workers are refused from now",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withDB(cmd, g, func(ctx context.Context, d *dbBackend) error {
				t, err := models.RevokeWorkerToken(ctx, d.db, args[0], d.now())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "worker token %q revoked at %s\n", t.Name, t.RevokedAt.Time.In(d.cfg.Location).Format(timeLayout))
				// Running again after a failure here sweeps again.
				dead, err := models.MarkRevokedWorkers(ctx, d.db, d.now())
				for _, id := range dead {
					fmt.Fprintf(cmd.OutOrStdout(), "worker %s declared dead\n", id)
				}
				return err
			})
		},
	}
}

// withDB runs f on the database of --conf.
func withDB(cmd *cobra.Command, g *globals, f func(ctx context.Context, d *dbBackend) error) error {
	ctx := cmd.Context()
	d, err := openDBBackend(ctx, g.confDir)
	if err != nil {
		return err
	}
	defer d.close()
	return f(ctx, d)
}

// tokenView is a row of worker_token as tokens list shows it: never the
// token, and of its hash only the first 8 hex digits.
type tokenView struct {
	Name       string     `json:"name"`
	SHA256     string     `json:"sha256_prefix"`
	State      string     `json:"state"` // active or revoked
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func showToken(t models.WorkerToken, loc *time.Location) tokenView {
	at := func(valid bool, t time.Time) *time.Time {
		if !valid {
			return nil
		}
		v := t.In(loc)
		return &v
	}
	v := tokenView{Name: t.Name, SHA256: t.Fingerprint(), State: "active", CreatedAt: t.CreatedAt.In(loc),
		LastUsedAt: at(t.LastUsedAt.Valid, t.LastUsedAt.Time), RevokedAt: at(t.RevokedAt.Valid, t.RevokedAt.Time)}
	if v.RevokedAt != nil {
		v.State = "revoked"
	}
	return v
}

// printTokens prints the worker token table.
func printTokens(w io.Writer, ts []tokenView) error {
	tb := newTable(w, "NAME", "SHA256", "CREATED", "LAST USED", "STATE")
	for _, t := range ts {
		state := t.State
		if t.RevokedAt != nil {
			state = "revoked since " + t.RevokedAt.Format(timeLayout)
		}
		tb.row(t.Name, t.SHA256, t.CreatedAt.Format(timeLayout), showTime(t.LastUsedAt, t.CreatedAt.Location()), state)
	}
	return tb.flush()
}
