package models

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Kinds of replica rows.
const (
	KindReplica = "replica" // a taskrunner process: syncs, claims and runs
	KindWorker  = "worker"  // a worker process fed through the queue
)

// ReasonStopped is the dead_reason of a replica that shut down cleanly.
const ReasonStopped = "stopped"

// Replica is a row of replica: one process, its liveness and what it is.
// A live replica beats heartbeat_at; dead_at is set once, when it stops
// or is declared dead, and it never comes back to life under that id.
type Replica struct {
	ID          string       `db:"id"`
	Kind        string       `db:"kind"`
	Host        string       `db:"host"`
	PID         int          `db:"pid"`
	Version     string       `db:"version"`
	Info        string       `db:"info"` // JSON object
	StartedAt   time.Time    `db:"started_at"`
	HeartbeatAt time.Time    `db:"heartbeat_at"`
	DeadAt      sql.NullTime `db:"dead_at"`
	DeadReason  string       `db:"dead_reason"`
}

const replicaColumns = "id, kind, host, pid, version, info, started_at, heartbeat_at, dead_at, dead_reason"

// RegisterReplica inserts r as a live replica. Kind defaults to
// KindReplica, Info to {}, HeartbeatAt to StartedAt.
func RegisterReplica(ctx context.Context, q Querier, r Replica) error {
	if r.Kind == "" {
		r.Kind = KindReplica
	}
	r.defaults()
	d := q.Dialect()
	_, err := q.ExecContext(ctx, "INSERT INTO replica (id, kind, host, pid, version, info, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.Kind, r.Host, r.PID, r.Version, r.Info, d.time(r.StartedAt), d.time(r.HeartbeatAt))
	if err != nil {
		return fmt.Errorf("register %s %s: %w", r.Kind, r.ID, err)
	}
	return nil
}

// defaults fills what a new row leaves out: Info {}, HeartbeatAt
// StartedAt.
func (r *Replica) defaults() {
	if r.Info == "" {
		r.Info = "{}"
	}
	if r.HeartbeatAt.IsZero() {
		r.HeartbeatAt = r.StartedAt
	}
}

// BeatReplica renews a live replica's heartbeat and reports whether it is
// still alive. false means it was declared dead (or stopped, or never
// registered): the caller must stop acting for that id, as another
// replica may already be taking its runs over.
func BeatReplica(ctx context.Context, q Querier, id string, now time.Time) (alive bool, err error) {
	res, err := q.ExecContext(ctx, "UPDATE replica SET heartbeat_at = ? WHERE id = ? AND dead_at IS NULL", q.Dialect().time(now), id)
	if err != nil {
		return false, fmt.Errorf("beat replica %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("beat replica %s: %w", id, err)
	}
	if n > 0 {
		return true, nil
	}
	// MySQL counts the rows an UPDATE changed, not those it matched
	// (unless the DSN sets clientFoundRows, which libs/mysqlpool does not):
	// a beat at the time of the previous one changes nothing. Ask.
	var live int
	if err := sqlx.GetContext(ctx, q, &live, "SELECT COUNT(*) FROM replica WHERE id = ? AND dead_at IS NULL", id); err != nil {
		return false, fmt.Errorf("beat replica %s: %w", id, err)
	}
	return live > 0, nil
}

// MarkDeadReplicas declares dead every live replica whose last beat is
// before silentSince, and returns the ids this call declared dead. Each
// is a compare-and-set on its row (still live, still silent), so of
// several replicas doing this at once each id goes to exactly one, and a
// replica that beat meanwhile is left alone. On a pool each UPDATE
// commits at once: a rescuer reads the dead replica's runs (run_start)
// only after, which StartRuns relies on.
func MarkDeadReplicas(ctx context.Context, q Querier, silentSince, now time.Time, reason string) ([]string, error) {
	d := q.Dialect()
	var silent []string
	if err := sqlx.SelectContext(ctx, q, &silent, "SELECT id FROM replica WHERE dead_at IS NULL AND heartbeat_at < ? ORDER BY id", d.time(silentSince)); err != nil {
		return nil, fmt.Errorf("list silent replicas: %w", err)
	}
	reason = FitText(reason, 255)
	var dead []string
	for _, id := range silent {
		res, err := q.ExecContext(ctx, "UPDATE replica SET dead_at = ?, dead_reason = ? WHERE id = ? AND dead_at IS NULL AND heartbeat_at < ?",
			d.time(now), reason, id, d.time(silentSince))
		if err != nil {
			return dead, fmt.Errorf("declare replica %s dead: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return dead, fmt.Errorf("declare replica %s dead: %w", id, err)
		}
		if n == 1 {
			dead = append(dead, id)
		}
	}
	return dead, nil
}

// StopReplica records a clean shutdown: the replica is dead from now,
// for the reason ReasonStopped. Its runs are then handled as any dead
// replica's, so a shutdown records them first.
func StopReplica(ctx context.Context, q Querier, id string, now time.Time) error {
	_, err := q.ExecContext(ctx, "UPDATE replica SET dead_at = ?, dead_reason = ? WHERE id = ? AND dead_at IS NULL", q.Dialect().time(now), ReasonStopped, id)
	if err != nil {
		return fmt.Errorf("stop replica %s: %w", id, err)
	}
	return nil
}

// ListReplicas returns the live replicas of kind ("" for every kind) and
// those dead since deadSince, newest first.
func ListReplicas(ctx context.Context, q Querier, kind string, deadSince time.Time) ([]Replica, error) {
	query := "SELECT " + replicaColumns + " FROM replica WHERE (dead_at IS NULL OR dead_at >= ?)"
	args := []any{q.Dialect().time(deadSince)}
	if kind != "" {
		query += " AND kind = ?"
		args = append(args, kind)
	}
	var rs []Replica
	if err := sqlx.SelectContext(ctx, q, &rs, query+" ORDER BY started_at DESC, id", args...); err != nil {
		return nil, fmt.Errorf("list replicas: %w", err)
	}
	return rs, nil
}

// DeadOwners returns the ids of dead replicas that still own running
// execute_task rows: the runs a rescuer has to settle (requeue those
// that never started, close the others as lost). It reads the running
// rows only. A running row whose owner has no replica row at all is not
// here: the per-run lease covers it.
func DeadOwners(ctx context.Context, q Querier) ([]string, error) {
	var ids []string
	err := sqlx.SelectContext(ctx, q, &ids, "SELECT DISTINCT e.owner FROM execute_task e JOIN replica r ON r.id = e.owner "+
		"WHERE e.status = ? AND r.dead_at IS NOT NULL ORDER BY e.owner", RunRunning)
	if err != nil {
		return nil, fmt.Errorf("list dead owners: %w", err)
	}
	return ids, nil
}

// PruneReplicas deletes the rows of replicas dead before deadBefore that
// own no running row, and returns how many it deleted.
func PruneReplicas(ctx context.Context, q Querier, deadBefore time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, "DELETE FROM replica WHERE dead_at < ? AND NOT EXISTS "+
		"(SELECT 1 FROM execute_task WHERE execute_task.status = ? AND execute_task.owner = replica.id)", q.Dialect().time(deadBefore), RunRunning)
	if err != nil {
		return 0, fmt.Errorf("prune replicas: %w", err)
	}
	return res.RowsAffected()
}
