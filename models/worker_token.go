package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"time"

	"github.com/jmoiron/sqlx"
)

// WorkerTokenPrefix starts every worker token, so that one found in a
// file or a log says what it is.
const WorkerTokenPrefix = "trw_"

// ReasonTokenRevoked is the dead_reason of a worker whose token was
// revoked while it ran.
const ReasonTokenRevoked = "worker token revoked"

// WorkerToken is a row of worker_token: a token a worker may register
// with. The token itself is not stored, only its hex SHA-256.
type WorkerToken struct {
	ID         int64        `db:"id"`
	Name       string       `db:"name"`
	SHA256     string       `db:"token_sha256"`
	CreatedAt  time.Time    `db:"created_at"`
	RevokedAt  sql.NullTime `db:"revoked_at"`
	LastUsedAt sql.NullTime `db:"last_used_at"`
}

// Fingerprint is the first 8 hex digits of the token's SHA-256: enough
// for a person to match a refused token with a row, and nothing of the
// token.
func (t WorkerToken) Fingerprint() string { return t.SHA256[:8] }

const workerTokenColumns = "id, name, token_sha256, created_at, revoked_at, last_used_at"

// workerTokenName is what a token's name may be: it is shown in tables
// and logs, and typed on command lines.
var workerTokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// sha256Hex is the hex SHA-256 of b: a token as worker_token stores it,
// a produced job's args as its dedupe key.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AddWorkerToken creates a token named name and returns it. This is the
// only time the token is known: the row keeps its SHA-256. The token is
// WorkerTokenPrefix and 32 random bytes, base64url.
func AddWorkerToken(ctx context.Context, q Querier, name string, now time.Time) (string, error) {
	if !workerTokenName.MatchString(name) {
		return "", fmt.Errorf("add worker token %q: a name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("add worker token %q: %w", name, err)
	}
	token := WorkerTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	_, err := q.ExecContext(ctx, "INSERT INTO worker_token (name, token_sha256, created_at) VALUES (?, ?, ?)",
		name, sha256Hex([]byte(token)), q.Dialect().time(now))
	if err != nil {
		if _, getErr := getWorkerToken(ctx, q, name); getErr == nil {
			return "", fmt.Errorf("add worker token %q: %w", name, ErrTokenExists)
		}
		return "", fmt.Errorf("add worker token %q: %w", name, err)
	}
	return token, nil
}

func getWorkerToken(ctx context.Context, q Querier, name string) (WorkerToken, error) {
	var t WorkerToken
	err := sqlx.GetContext(ctx, q, &t, "SELECT "+workerTokenColumns+" FROM worker_token WHERE name = ?", name)
	if err == sql.ErrNoRows {
		return t, fmt.Errorf("worker token %q: %w", name, ErrTokenNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("read worker token %q: %w", name, err)
	}
	return t, nil
}

// ListWorkerTokens returns every token row, revoked ones included, by name.
func ListWorkerTokens(ctx context.Context, q Querier) ([]WorkerToken, error) {
	var ts []WorkerToken
	if err := sqlx.SelectContext(ctx, q, &ts, "SELECT "+workerTokenColumns+" FROM worker_token ORDER BY name"); err != nil {
		return nil, fmt.Errorf("list worker tokens: %w", err)
	}
	return ts, nil
}

// RevokeWorkerToken revokes the token named name, from now: no worker
// registers with it any more, and MarkRevokedWorkers declares dead those
// that did. Revoking a revoked token keeps its first revoked_at and
// returns the row as it is; an unknown name is ErrTokenNotFound.
func RevokeWorkerToken(ctx context.Context, q Querier, name string, now time.Time) (WorkerToken, error) {
	if _, err := q.ExecContext(ctx, "UPDATE worker_token SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", q.Dialect().time(now), name); err != nil {
		return WorkerToken{}, fmt.Errorf("revoke worker token %q: %w", name, err)
	}
	return getWorkerToken(ctx, q, name)
}

// RegisterWorker inserts r as a live replica of kind KindWorker if token
// is a worker token that is not revoked, recording which (replica.token_id)
// and when it was used. The check and the insert are one statement, so a
// token revoked meanwhile either lets the row in before its revocation
// (and MarkRevokedWorkers then finds it) or refuses it. A missing or
// refused token is ErrTokenRefused, with a message that holds no token:
// at most the first 8 hex digits of its SHA-256, as `tokens list` shows.
// Info defaults to {}, HeartbeatAt to StartedAt.
func RegisterWorker(ctx context.Context, q Querier, r Replica, token string) error {
	r.Kind = KindWorker
	r.defaults()
	if token == "" {
		return fmt.Errorf("register worker %s: %w: no token given", r.ID, ErrTokenRefused)
	}
	sum := sha256Hex([]byte(token))
	d := q.Dialect()
	res, err := q.ExecContext(ctx, "INSERT INTO replica (id, kind, host, pid, version, info, started_at, heartbeat_at, token_id) "+
		"SELECT ?, ?, ?, ?, ?, ?, ?, ?, id FROM worker_token WHERE token_sha256 = ? AND revoked_at IS NULL",
		r.ID, r.Kind, r.Host, r.PID, r.Version, r.Info, d.time(r.StartedAt), d.time(r.HeartbeatAt), sum)
	if err != nil {
		return fmt.Errorf("register worker %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("register worker %s: %w", r.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("register worker %s: %w: unknown or revoked (sha256 prefix %s)", r.ID, ErrTokenRefused, sum[:8])
	}
	if _, err := q.ExecContext(ctx, "UPDATE worker_token SET last_used_at = ? WHERE token_sha256 = ?", d.time(r.StartedAt), sum); err != nil {
		return fmt.Errorf("register worker %s: note the token's use: %w", r.ID, err)
	}
	return nil
}

// WorkerTokenValid reports whether the worker id registered with a token
// that is still not revoked. false also for an id without a row or
// without a token (a replica): a worker that gets false stops acting for
// that id, as it would on a dead heartbeat.
func WorkerTokenValid(ctx context.Context, q Querier, id string) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, "SELECT COUNT(*) FROM replica r JOIN worker_token t ON t.id = r.token_id "+
		"WHERE r.id = ? AND t.revoked_at IS NULL", id)
	if err != nil {
		return false, fmt.Errorf("check worker %s's token: %w", id, err)
	}
	return n > 0, nil
}

// MarkRevokedWorkers declares dead (ReasonTokenRevoked) every live
// worker whose token has been revoked, and returns their ids. As in
// MarkDeadReplicas, each is a compare-and-set on its row, so of several
// replicas sweeping at once each id goes to one. A registry calls it
// beside MarkDeadReplicas; the worker learns it at its next beat.
func MarkRevokedWorkers(ctx context.Context, q Querier, now time.Time) ([]string, error) {
	const revoked = "token_id IN (SELECT id FROM worker_token WHERE revoked_at IS NOT NULL)"
	var ids []string
	if err := sqlx.SelectContext(ctx, q, &ids, "SELECT id FROM replica WHERE dead_at IS NULL AND "+revoked+" ORDER BY id"); err != nil {
		return nil, fmt.Errorf("list workers of revoked tokens: %w", err)
	}
	var dead []string
	for _, id := range ids {
		res, err := q.ExecContext(ctx, "UPDATE replica SET dead_at = ?, dead_reason = ? WHERE id = ? AND dead_at IS NULL AND "+revoked,
			q.Dialect().time(now), ReasonTokenRevoked, id)
		if err != nil {
			return dead, fmt.Errorf("declare worker %s dead: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dead, fmt.Errorf("declare worker %s dead: %w", id, err)
		}
		if n == 1 {
			dead = append(dead, id)
		}
	}
	return dead, nil
}
