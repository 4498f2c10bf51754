package models_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

func addToken(t *testing.T, db *models.DB, name string) string {
	t.Helper()
	token, err := models.AddWorkerToken(context.Background(), db, name, t0)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func worker(id string) models.Replica {
	return models.Replica{ID: id, Host: "h1", PID: 7, Version: "v1", StartedAt: t0.Add(time.Minute)}
}

// A new database holds no token, so no worker registers until one is
// added; an added token is shown once and stored as its SHA-256 only.
func TestWorkerToken_Add(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		if ts, err := models.ListWorkerTokens(ctx, db); err != nil || len(ts) != 0 {
			t.Fatalf("tokens of a new database: %+v, %v; want none", ts, err)
		}
		token := addToken(t, db, "ci")
		other := addToken(t, db, "batch-1")
		if !strings.HasPrefix(token, models.WorkerTokenPrefix) || len(token) != len(models.WorkerTokenPrefix)+43 || token == other {
			t.Fatalf("tokens %q, %q: want trw_ and 43 base64url characters each, different", token, other)
		}
		ts, err := models.ListWorkerTokens(ctx, db)
		if err != nil || len(ts) != 2 || ts[0].Name != "batch-1" || ts[1].Name != "ci" {
			t.Fatalf("list: %+v, %v", ts, err)
		}
		sum := sha256.Sum256([]byte(token))
		ci := ts[1]
		if ci.SHA256 != hex.EncodeToString(sum[:]) || ci.Fingerprint() != ci.SHA256[:8] || !ci.CreatedAt.Equal(t0) || ci.RevokedAt.Valid || ci.LastUsedAt.Valid {
			t.Errorf("row of ci: %+v", ci)
		}
		var rows []struct {
			Name string `db:"name"`
			Sum  string `db:"token_sha256"`
		}
		if err := db.SelectContext(ctx, &rows, "SELECT name, token_sha256 FROM worker_token"); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			for _, tok := range []string{token, other} {
				if secret := strings.TrimPrefix(tok, models.WorkerTokenPrefix); strings.Contains(r.Name+r.Sum, secret) {
					t.Errorf("a token is stored: %+v", r)
				}
			}
		}

		if _, err := models.AddWorkerToken(ctx, db, "ci", t0); !errors.Is(err, models.ErrTokenExists) {
			t.Errorf("a second ci: %v, want ErrTokenExists", err)
		}
		for _, bad := range []string{"", "-x", "a b", strings.Repeat("n", 65), "ü"} {
			if _, err := models.AddWorkerToken(ctx, db, bad, t0); err == nil {
				t.Errorf("name %q accepted", bad)
			}
		}
	})
}

// A worker registers with a valid token only; a refusal inserts nothing
// and its error, as logged, never holds the token.
func TestWorkerToken_RegisterWorker(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		valid := addToken(t, db, "valid")
		revoked := addToken(t, db, "revoked")
		if _, err := models.RevokeWorkerToken(ctx, db, "revoked", t0); err != nil {
			t.Fatal(err)
		}
		unknown := models.WorkerTokenPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		for _, c := range []struct {
			name, id, token, msg string
		}{
			{"empty", "w-empty", "", "no token given"},
			{"unknown", "w-unknown", unknown, "unknown or revoked (sha256 prefix "},
			{"revoked", "w-revoked", revoked, "unknown or revoked (sha256 prefix "},
			{"valid token with a space", "w-space", valid + " ", "unknown or revoked"},
		} {
			t.Run(c.name, func(t *testing.T) {
				err := models.RegisterWorker(ctx, db, worker(c.id), c.token)
				if !errors.Is(err, models.ErrTokenRefused) || !strings.Contains(err.Error(), c.msg) {
					t.Fatalf("error %v, want ErrTokenRefused saying %q", err, c.msg)
				}
				var log bytes.Buffer
				slog.New(slog.NewJSONHandler(&log, nil)).Warn("worker refused", "err", err)
				for _, tok := range []string{valid, revoked, unknown} {
					secret := strings.TrimPrefix(tok, models.WorkerTokenPrefix)
					if strings.Contains(err.Error(), secret) || strings.Contains(log.String(), secret) {
						t.Errorf("the token is in the error or the log: %s", log.String())
					}
				}
			})
		}
		if rs, err := models.ListReplicas(ctx, db, "", t0); err != nil || len(rs) != 0 {
			t.Fatalf("refused workers left rows: %+v, %v", rs, err)
		}

		r := worker("w1")
		r.Kind = models.KindReplica // RegisterWorker registers a worker whatever it is given
		if err := models.RegisterWorker(ctx, db, r, valid); err != nil {
			t.Fatal(err)
		}
		rs, err := models.ListReplicas(ctx, db, models.KindWorker, t0)
		if err != nil || !slices.Equal(ids(rs), []string{"w1"}) || rs[0].Host != "h1" || rs[0].Info != "{}" || !rs[0].HeartbeatAt.Equal(r.StartedAt) {
			t.Fatalf("registered worker: %+v, %v", rs, err)
		}
		ts, err := models.ListWorkerTokens(ctx, db)
		if err != nil || ts[1].Name != "valid" || !ts[1].LastUsedAt.Valid || !ts[1].LastUsedAt.Time.Equal(r.StartedAt) || ts[0].LastUsedAt.Valid {
			t.Fatalf("last_used_at: %+v, %v", ts, err)
		}
		if err := models.RegisterWorker(ctx, db, worker("w1"), valid); err == nil || errors.Is(err, models.ErrTokenRefused) {
			t.Errorf("a second w1 with a valid token: %v, want a duplicate id error", err)
		}
	})
}

// Revoking a token stops new registrations with it and, through
// MarkRevokedWorkers, the workers that registered with it; the others
// go on.
func TestWorkerToken_Revoke(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a, b := addToken(t, db, "a"), addToken(t, db, "b")
		for _, w := range []struct{ id, token string }{{"wa1", a}, {"wa2", a}, {"wb", b}} {
			if err := models.RegisterWorker(ctx, db, worker(w.id), w.token); err != nil {
				t.Fatal(err)
			}
		}
		register(t, db, "replica", models.KindReplica, t0)
		valid := func(id string) bool {
			t.Helper()
			ok, err := models.WorkerTokenValid(ctx, db, id)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !valid("wa1") || !valid("wb") || valid("replica") || valid("nobody") {
			t.Fatal("before revoking: want wa1 and wb valid, a replica and an unknown id not")
		}

		at := t0.Add(time.Hour)
		row, err := models.RevokeWorkerToken(ctx, db, "a", at)
		if err != nil || !row.RevokedAt.Valid || !row.RevokedAt.Time.Equal(at) {
			t.Fatalf("revoke a: %+v, %v", row, err)
		}
		if row, err := models.RevokeWorkerToken(ctx, db, "a", at.Add(time.Hour)); err != nil || !row.RevokedAt.Time.Equal(at) {
			t.Errorf("revoke a again: %+v, %v; want the first revoked_at kept", row, err)
		}
		if _, err := models.RevokeWorkerToken(ctx, db, "nope", at); !errors.Is(err, models.ErrTokenNotFound) {
			t.Errorf("revoke an unknown name: %v, want ErrTokenNotFound", err)
		}
		if valid("wa1") || !valid("wb") {
			t.Error("after revoking a: want wa1 invalid, wb valid")
		}
		if err := models.RegisterWorker(ctx, db, worker("wa3"), a); !errors.Is(err, models.ErrTokenRefused) {
			t.Errorf("register with a revoked token: %v", err)
		}

		dead, err := models.MarkRevokedWorkers(ctx, db, at.Add(time.Second))
		if err != nil || !slices.Equal(dead, []string{"wa1", "wa2"}) {
			t.Fatalf("mark revoked workers: %q, %v; want wa1, wa2", dead, err)
		}
		if again, err := models.MarkRevokedWorkers(ctx, db, at.Add(2*time.Second)); err != nil || len(again) != 0 {
			t.Errorf("second sweep: %q, %v; want nothing", again, err)
		}
		if alive, err := models.BeatReplica(ctx, db, "wa1", at.Add(3*time.Second)); err != nil || alive {
			t.Errorf("beat of wa1: alive %v, %v; want dead", alive, err)
		}
		rs, err := models.ListReplicas(ctx, db, "", t0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			revoked := r.ID == "wa1" || r.ID == "wa2"
			if revoked != r.DeadAt.Valid || revoked && r.DeadReason != models.ReasonTokenRevoked {
				t.Errorf("%s: dead_at %v reason %q", r.ID, r.DeadAt, r.DeadReason)
			}
		}
	})
}
