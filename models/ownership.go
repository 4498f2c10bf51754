package models

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// RunState is who holds a run and how it stands.
type RunState struct {
	ID      int64  `db:"id"`
	Status  string `db:"status"`
	Owner   string `db:"owner"`
	Attempt int    `db:"attempt"`
	Shard   int    `db:"shard"`
}

// RunsWithOutcome returns the status, owner and attempt of the given
// runs: after a fenced write, which of them took it.
func RunsWithOutcome(ctx context.Context, q Querier, ids []int64) (map[int64]RunState, error) {
	out := make(map[int64]RunState, len(ids))
	for _, part := range chunks(ids, inList) {
		var rs []RunState
		if err := selectIn(ctx, q, &rs, "SELECT id, status, owner, attempt, shard FROM execute_task WHERE id IN (?)", part); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		for _, r := range rs {
			out[r.ID] = r
		}
	}
	return out, nil
}

// ListRunningByOwner returns the running rows an owner holds, oldest
// first: the runs to rescue when it is declared dead.
func ListRunningByOwner(ctx context.Context, q Querier, owner string, limit int) ([]ExecuteTask, error) {
	var rs []ExecuteTask
	if err := sqlx.SelectContext(ctx, q, &rs, "SELECT "+executeTaskColumns+" FROM execute_task WHERE status = ? AND owner = ? ORDER BY id LIMIT ?", RunRunning, owner, limit); err != nil {
		return nil, fmt.Errorf("list runs of %s: %w", owner, err)
	}
	return rs, nil
}

// TakeRun moves a running run from the owner that claimed it to the one
// that executes it (a worker), marking it started: from then on the new
// owner's liveness guards it, and only its outcome is recorded. It
// reports whether this call took it.
func TakeRun(ctx context.Context, q Querier, id int64, attempt int, from, to string, now time.Time) (bool, error) {
	t := q.Dialect().time(now)
	res, err := q.ExecContext(ctx, "UPDATE execute_task SET owner = ?, started_at = ?, heartbeat_at = ? WHERE id = ? AND attempt = ? AND owner = ? AND status = ? "+
		"AND EXISTS (SELECT 1 FROM replica WHERE replica.id = ? AND replica.dead_at IS NULL)",
		to, t, t, id, attempt, from, RunRunning, to)
	if err != nil {
		return false, fmt.Errorf("take run %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FireRuns returns the runs of one fire of a task: every shard and
// attempt.
func FireRuns(ctx context.Context, q Querier, taskID int64, at time.Time) ([]RunState, error) {
	var rs []RunState
	if err := sqlx.SelectContext(ctx, q, &rs, "SELECT id, status, owner, attempt, shard FROM execute_task"+q.Dialect().fireIndex+" WHERE task_id = ? AND scheduled_at = ?",
		taskID, q.Dialect().time(at)); err != nil {
		return nil, fmt.Errorf("read the runs of task %d at %s: %w", taskID, at.UTC().Format(time.RFC3339Nano), err)
	}
	return rs, nil
}
