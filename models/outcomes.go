package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// GetTaskByKey returns the row that holds key: the valid one with the
// lowest id (the one the engine schedules), else the lowest id.
func GetTaskByKey(ctx context.Context, q Querier, key string) (Task, error) {
	var t Task
	err := sqlx.GetContext(ctx, q, &t,
		"SELECT "+taskColumns+" FROM task WHERE task_key = ? ORDER BY is_valid DESC, id LIMIT 1", key)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("task %q: %w", key, ErrTaskNotFound)
	}
	return t, err
}

// RecentOutcomes returns the statuses of a task's latest n finished runs
// (success, failed, timeout, lost) at or before the run (at, attempt),
// newest first: the run itself, when finished, comes first. It reads the
// fire index backwards.
func RecentOutcomes(ctx context.Context, q Querier, taskID int64, at time.Time, attempt, n int) ([]string, error) {
	var out []string
	d := q.Dialect()
	err := sqlx.SelectContext(ctx, q, &out, "SELECT status FROM execute_task WHERE task_id = ? "+
		"AND status IN ('success', 'failed', 'timeout', 'lost') "+
		"AND (scheduled_at < ? OR (scheduled_at = ? AND attempt <= ?)) "+
		"ORDER BY scheduled_at DESC, attempt DESC LIMIT ?",
		taskID, d.time(at), d.time(at), attempt, n)
	return out, err
}
