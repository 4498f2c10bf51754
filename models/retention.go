package models

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// The queries of history retention. Each statement touches at most one
// bounded batch of rows, found by the primary key or an index, so it
// holds its locks briefly and never scans the table.

// finishedRun leaves out runs in progress or waiting: a cleanup never
// deletes a row the engine still writes.
const finishedRun = "status NOT IN ('running', 'pending')"

// OldRunRange returns the ids a cleanup of runs created before cutoff
// walks: from the lowest id to the highest id of a row created before
// cutoff (read backwards from the create_at index, one entry). ok is
// false when no row is that old.
func OldRunRange(ctx context.Context, q Querier, cutoff time.Time) (lo, hi int64, ok bool, err error) {
	err = sqlx.GetContext(ctx, q, &hi,
		"SELECT id FROM execute_task WHERE create_at < ? ORDER BY create_at DESC, id DESC LIMIT 1", q.Dialect().time(cutoff))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	if err = sqlx.GetContext(ctx, q, &lo, "SELECT MIN(id) FROM execute_task"); err != nil {
		return 0, 0, false, err
	}
	return lo, hi, true, nil
}

// DeleteOldRuns deletes the finished runs with from < id <= to created
// before cutoff, except those of the tasks in except: one primary-key
// range.
func DeleteOldRuns(ctx context.Context, q Querier, from, to int64, cutoff time.Time, except []int64) (int64, error) {
	var b strings.Builder
	b.WriteString("DELETE FROM execute_task WHERE id > ? AND id <= ? AND create_at < ? AND " + finishedRun)
	if len(except) > 0 {
		b.WriteString(" AND task_id NOT IN (")
		for i, id := range except {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(id, 10))
		}
		b.WriteByte(')')
	}
	res, err := q.ExecContext(ctx, b.String(), from, to, q.Dialect().time(cutoff))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// OldTaskRuns returns up to n ids of one task's finished runs created
// (and scheduled) before cutoff, oldest fire first, from the fire index.
func OldTaskRuns(ctx context.Context, q Querier, taskID int64, cutoff time.Time, n int) ([]int64, error) {
	var ids []int64
	c := q.Dialect().time(cutoff)
	err := sqlx.SelectContext(ctx, q, &ids, "SELECT id FROM execute_task WHERE task_id = ? AND scheduled_at < ? "+
		"AND create_at < ? AND "+finishedRun+" ORDER BY scheduled_at LIMIT ?", taskID, c, c, n)
	return ids, err
}

// RunTime is a run's id and fire time.
type RunTime struct {
	ID          int64     `db:"id"`
	ScheduledAt time.Time `db:"scheduled_at"`
}

// TaskSuccesses returns up to n of one task's successful runs scheduled
// in [from, to), by fire time, from the fire index.
func TaskSuccesses(ctx context.Context, q Querier, taskID int64, from, to time.Time, n int) ([]RunTime, error) {
	var rs []RunTime
	d := q.Dialect()
	err := sqlx.SelectContext(ctx, q, &rs, "SELECT id, scheduled_at FROM execute_task WHERE task_id = ? "+
		"AND scheduled_at >= ? AND scheduled_at < ? AND status = 'success' ORDER BY scheduled_at, attempt LIMIT ?",
		taskID, d.time(from), d.time(to), n)
	return rs, err
}

// DeleteRuns deletes runs by id (a batch the caller bounds).
func DeleteRuns(ctx context.Context, q Querier, ids []int64) (int64, error) {
	var n int64
	for _, part := range chunks(ids, inList) {
		k, err := execIn(ctx, q, "DELETE FROM execute_task WHERE id IN (?) AND "+finishedRun, part)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// DeleteRunStarts deletes up to n run_start rows started before cutoff
// whose owner is no live replica and has no running run: rows nobody
// needs any longer to tell started runs from unstarted ones.
func DeleteRunStarts(ctx context.Context, q Querier, cutoff time.Time, n int) (int64, error) {
	var ids []int64
	err := sqlx.SelectContext(ctx, q, &ids, "SELECT id FROM run_start WHERE started_at < ? "+
		"AND owner NOT IN (SELECT id FROM replica WHERE dead_at IS NULL) "+
		"AND owner NOT IN (SELECT owner FROM execute_task WHERE status = 'running') ORDER BY id LIMIT ?",
		q.Dialect().time(cutoff), n)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return execIn(ctx, q, "DELETE FROM run_start WHERE id IN (?)", ids)
}

// DeleteAudit deletes up to n audit rows older than cutoff, oldest first.
func DeleteAudit(ctx context.Context, q Querier, cutoff time.Time, n int) (int64, error) {
	var ids []int64
	err := sqlx.SelectContext(ctx, q, &ids, "SELECT id FROM audit WHERE at < ? ORDER BY at LIMIT ?", q.Dialect().time(cutoff), n)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return execIn(ctx, q, "DELETE FROM audit WHERE id IN (?)", ids)
}

// TasksWithExtra returns the id, key and extra of the rows whose extra
// mentions any of words: the few rows with options of their own, found
// without decoding every row's JSON.
func TasksWithExtra(ctx context.Context, q Querier, words ...string) ([]Task, error) {
	var conds []string
	var args []any
	for _, w := range words {
		conds = append(conds, "extra LIKE ?")
		args = append(args, "%\""+w+"\"%")
	}
	var ts []Task
	err := sqlx.SelectContext(ctx, q, &ts, "SELECT "+taskColumns+" FROM task WHERE "+strings.Join(conds, " OR ")+" ORDER BY id", args...)
	return ts, err
}

// InsertTaskIfMissing inserts t unless a row holds its key, in one
// statement; inserted says whether it did.
func InsertTaskIfMissing(ctx context.Context, q Querier, t Task) (inserted bool, err error) {
	if t.Extra == "" {
		t.Extra = "{}"
	}
	res, err := q.ExecContext(ctx, "INSERT INTO task (task_key, `desc`, execute_func, `trigger`, spec, args, is_valid, status, extra) "+
		"SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? FROM (SELECT 1 AS one) AS x WHERE NOT EXISTS (SELECT 1 FROM task WHERE task_key = ?)",
		t.Key, t.Desc, t.Func, t.Trigger, t.Spec, t.Args, t.IsValid, TaskReady, t.Extra, t.Key)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
