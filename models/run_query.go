package models

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// RunFilter selects runs for a page of history, newest first. Zero
// fields do not filter. With TaskID the page follows the unique key
// (task_id, scheduled_at, attempt) backwards and starts before
// (BeforeAt, BeforeAttempt); without it, the primary key, before
// BeforeID. Since and Until bound scheduled_at (Since included, Until
// not).
type RunFilter struct {
	TaskID        int64
	Status        string
	Since, Until  time.Time
	BeforeAt      time.Time
	BeforeAttempt int
	BeforeID      int64
	Limit         int
}

// ListRunsPage returns a page of runs, newest first.
func ListRunsPage(ctx context.Context, q Querier, f RunFilter) ([]ExecuteTask, error) {
	d := q.Dialect()
	query := "SELECT " + executeTaskColumns + " FROM execute_task"
	var args []any
	var order string
	if f.TaskID != 0 {
		query += d.fireIndex + " WHERE task_id = ?"
		args = append(args, f.TaskID)
		if !f.BeforeAt.IsZero() {
			// The first term bounds the index range, the second picks
			// within the fire where the last page stopped.
			query += " AND scheduled_at <= ? AND (scheduled_at < ? OR attempt < ?)"
			args = append(args, d.time(f.BeforeAt), d.time(f.BeforeAt), f.BeforeAttempt)
		}
		order = " ORDER BY scheduled_at DESC, attempt DESC"
	} else {
		query += " WHERE 1 = 1"
		if f.BeforeID != 0 {
			query += " AND id < ?"
			args = append(args, f.BeforeID)
		}
		order = " ORDER BY id DESC"
	}
	if f.Status != "" {
		query += " AND status = ?"
		args = append(args, f.Status)
	}
	if !f.Since.IsZero() {
		query += " AND scheduled_at >= ?"
		args = append(args, d.time(f.Since))
	}
	if !f.Until.IsZero() {
		query += " AND scheduled_at < ?"
		args = append(args, d.time(f.Until))
	}
	query += order + " LIMIT ?"
	args = append(args, f.Limit)
	var rs []ExecuteTask
	if err := sqlx.SelectContext(ctx, q, &rs, query, args...); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return rs, nil
}

// ListAttempts returns the attempts of the fire a run belongs to (the
// rows of one task and scheduled time), first attempt first.
func ListAttempts(ctx context.Context, q Querier, run ExecuteTask) ([]ExecuteTask, error) {
	if !run.ScheduledAt.Valid {
		return []ExecuteTask{run}, nil
	}
	var rs []ExecuteTask
	err := sqlx.SelectContext(ctx, q, &rs, "SELECT "+executeTaskColumns+" FROM execute_task"+q.Dialect().fireIndex+
		" WHERE task_id = ? AND scheduled_at = ? ORDER BY attempt", run.TaskID, q.Dialect().time(run.ScheduledAt.Time))
	if err != nil {
		return nil, fmt.Errorf("attempts of run %d: %w", run.ID, err)
	}
	return rs, nil
}
