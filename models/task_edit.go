package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// GetTaskForUpdate is GetTask inside a transaction that is about to change
// the row: on MySQL the row is read with a shared lock held until the
// commit, so an edit decided on what was read cannot pass over another
// one (two such edits deadlock, and one is refused; see IsConflict). On
// SQLite the transaction's snapshot does it: a write after someone
// else's commit fails as busy.
func GetTaskForUpdate(ctx context.Context, tx *Tx, id int64) (Task, error) {
	var t Task
	err := sqlx.GetContext(ctx, tx, &t, "SELECT "+taskColumns+" FROM task WHERE id = ?"+tx.Dialect().shareLock, id)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("task %d: %w", id, ErrTaskNotFound)
	}
	return t, err
}

// UpdateTaskDefinition writes the user's columns of a row (task_key,
// desc, execute_func, trigger, spec, args, is_valid, extra); update_at
// moves, so every replica's next sync reads it.
func UpdateTaskDefinition(ctx context.Context, q Querier, t Task) error {
	if t.Extra == "" {
		t.Extra = "{}"
	}
	res, err := q.ExecContext(ctx, "UPDATE task SET task_key = ?, `desc` = ?, execute_func = ?, `trigger` = ?, spec = ?, args = ?, "+
		"is_valid = ?, extra = ? WHERE id = ?",
		t.Key, t.Desc, t.Func, t.Trigger, t.Spec, t.Args, t.IsValid, t.Extra, t.ID)
	if err != nil {
		return fmt.Errorf("update task %d: %w", t.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		// MySQL counts changed rows: an unchanged one is 0 too.
		var one int
		if err := sqlx.GetContext(ctx, q, &one, "SELECT 1 FROM task WHERE id = ?", t.ID); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("task %d: %w", t.ID, ErrTaskNotFound)
		}
	}
	return nil
}

// DeleteTask deletes a row. The engine stops it at its next sync (or at
// once, after Reload).
func DeleteTask(ctx context.Context, q Querier, id int64) error {
	res, err := q.ExecContext(ctx, "DELETE FROM task WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("delete task %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("task %d: %w", id, ErrTaskNotFound)
	}
	return nil
}

// ValidTaskWithKey returns the id of a valid row other than id holding
// key, or 0. Inside a transaction on MySQL, the read locks the key's
// index range until the commit, so two writers of one key cannot both
// pass it.
func ValidTaskWithKey(ctx context.Context, q Querier, key string, id int64) (int64, error) {
	var ids []int64
	err := sqlx.SelectContext(ctx, q, &ids, "SELECT id FROM task WHERE task_key = ? AND is_valid = 1 AND id <> ? ORDER BY id LIMIT 1"+
		q.Dialect().shareLock, key, id)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return ids[0], nil
}

// TaskFilter selects rows for a page of the task list. Empty fields do
// not filter; Valid is 0 or 1, or -1 for both.
type TaskFilter struct {
	Key, Func, Trigger, Status string
	Valid                      int
	AfterID                    int64 // the page starts after this id
	Limit                      int
}

// ListTasksPage returns a page of rows in id order. The page is found by
// the primary key (WHERE id > ?), or by the task_key index, whose entries
// carry the id: no page reads the rows before it, however deep.
func ListTasksPage(ctx context.Context, q Querier, f TaskFilter) ([]Task, error) {
	query := "SELECT " + taskColumns + " FROM task WHERE id > ?"
	args := []any{f.AfterID}
	for _, c := range []struct{ col, v string }{
		{"task_key", f.Key}, {"execute_func", f.Func}, {"`trigger`", f.Trigger}, {"status", f.Status},
	} {
		if c.v != "" {
			query += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	if f.Valid >= 0 {
		query += " AND is_valid = ?"
		args = append(args, f.Valid)
	}
	query += " ORDER BY id LIMIT ?"
	args = append(args, f.Limit)
	var ts []Task
	if err := sqlx.SelectContext(ctx, q, &ts, query, args...); err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return ts, nil
}
