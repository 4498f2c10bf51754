package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

// cliStderr runs the command line and returns what it printed on
// standard output and on standard error, and its error.
func cliStderr(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// fixtureTokens adds two tokens at fixed times, one used by a worker and
// one revoked, with fixed hashes so the table prints the same each run.
func fixtureTokens(t *testing.T, db *models.DB) {
	t.Helper()
	ctx := context.Background()
	batch, err := models.AddWorkerToken(ctx, db, "batch-eu-1", utc("2026-11-28 01:00:00"))
	must(t, err)
	_, err = models.AddWorkerToken(ctx, db, "old", utc("2026-11-27 01:00:00"))
	must(t, err)
	must(t, models.RegisterWorker(ctx, db, models.Replica{ID: "w-batch", Host: "host-d", StartedAt: utc("2026-11-30 02:00:00")}, batch))
	_, err = models.RevokeWorkerToken(ctx, db, "old", utc("2026-11-29 03:00:00"))
	must(t, err)
	for name, sum := range map[string]string{"batch-eu-1": strings.Repeat("ab", 32), "old": strings.Repeat("0f", 32)} {
		_, err := db.ExecContext(ctx, "UPDATE worker_token SET token_sha256 = ? WHERE name = ?", sum, name)
		must(t, err)
	}
}

// TestCLI_Tokens adds, lists and revokes worker tokens on the database:
// add prints the token once, list never shows it, revoke refuses it and
// declares its workers dead.
func TestCLI_Tokens(t *testing.T) {
	modelstest.EachKind(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		db := cliDB(t, kind)
		if out := cliOK(t, "tokens", "list", "--json"); strings.TrimSpace(out) != "[]" {
			t.Fatalf("tokens of a new database: %s", out)
		}
		fixtureTokens(t, db)
		golden(t, "tokens_list", cliOK(t, "tokens", "list"))
		var vs []map[string]any
		must(t, json.Unmarshal([]byte(cliOK(t, "tokens", "list", "--json")), &vs))
		if len(vs) != 2 || vs[0]["name"] != "batch-eu-1" || vs[0]["sha256_prefix"] != "abababab" || vs[0]["state"] != "active" ||
			vs[0]["last_used_at"] != "2026-11-30T10:00:00+08:00" || vs[0]["revoked_at"] != nil ||
			vs[1]["state"] != "revoked" || vs[1]["revoked_at"] != "2026-11-29T11:00:00+08:00" || vs[1]["last_used_at"] != nil {
			t.Errorf("tokens list --json: %v", vs)
		}

		out, stderr, err := cliStderr(t, "tokens", "add", "ci")
		must(t, err)
		token := strings.TrimSuffix(out, "\n")
		if !strings.HasPrefix(token, models.WorkerTokenPrefix) || strings.Contains(token, "\n") || !strings.Contains(stderr, "not shown again") {
			t.Fatalf("tokens add printed %q, and %q on stderr", out, stderr)
		}
		if list := cliOK(t, "tokens", "list", "--json"); strings.Contains(list, token[len(models.WorkerTokenPrefix):]) {
			t.Errorf("tokens list shows the token:\n%s", list)
		}
		must(t, models.RegisterWorker(ctx, db, models.Replica{ID: "w-ci", StartedAt: utc("2026-11-30 03:00:00")}, token))
		for _, args := range [][]string{{"tokens", "add", "ci"}, {"tokens", "add", "a b"}, {"tokens", "revoke", "nope"}} {
			if _, code, err := cli(t, args...); code != exitError {
				t.Errorf("%q: exit %d, %v; want %d", args, code, err, exitError)
			}
		}
		if _, code, _ := cli(t, "tokens", "add"); code != exitUsage {
			t.Errorf("tokens add without a name: exit %d, want %d", code, exitUsage)
		}

		out = cliOK(t, "tokens", "revoke", "ci")
		if !strings.HasPrefix(out, `worker token "ci" revoked at `) || !strings.HasSuffix(out, "\nworker w-ci declared dead\n") {
			t.Errorf("tokens revoke printed:\n%s", out)
		}
		err = models.RegisterWorker(ctx, db, models.Replica{ID: "w-ci2", StartedAt: utc("2026-11-30 04:00:00")}, token)
		if !errors.Is(err, models.ErrTokenRefused) || strings.Contains(err.Error(), token) {
			t.Errorf("register with the revoked token: %v", err)
		}
		if alive, err := models.BeatReplica(ctx, db, "w-ci", utc("2026-11-30 04:00:00")); err != nil || alive {
			t.Errorf("beat of w-ci after revoke: alive %v, %v", alive, err)
		}
	})
}
