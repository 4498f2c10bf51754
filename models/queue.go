package models

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// A queued run's row is the source of truth; the queue (Redis, or a
// process's memory) only carries it to a worker:
//
//   - QueueRuns hands running rows, claimed by a replica, to a named queue:
//     status queued, the queue's epoch (queue_epoch) noted; the replica
//     stays the owner until a worker takes the row. Should it die before
//     its send reached the queue, the row says sent and nothing carries
//     it: ResendQueuedOf marks the rows of a dead claimant to be sent
//     again.
//   - A worker takes a queued row with TakeQueued: running, owned by the
//     worker, fenced by the worker's liveness. A message for a row no
//     longer queued is stale and dropped.
//   - A queue whose store lost its content (Redis restarted empty, FLUSHALL)
//     starts a new epoch: the rows queued under another epoch, or under
//     none (a run recovered from a dead worker, or handed back), are sent
//     again (ListUnsent), so nothing queued is lost.

// QueueRuns moves runs that owner claimed (running, not started) to
// queue, noting epoch as the queue's epoch they are sent under. It is
// fenced by owner's liveness: a replica declared dead hands nothing on.
// It returns the ids it moved.
func QueueRuns(ctx context.Context, q Querier, owner string, ids []int64, queue, epoch string, now time.Time) ([]int64, error) {
	t := q.Dialect().time(now)
	var moved int64
	for _, part := range chunks(ids, inList) {
		n, err := execIn(ctx, q, "UPDATE execute_task SET status = ?, queue = ?, queue_epoch = ?, retry_at = ? "+
			"WHERE status = ? AND owner = ? AND started_at IS NULL AND id IN (?) "+
			"AND EXISTS (SELECT 1 FROM replica WHERE replica.id = ? AND replica.dead_at IS NULL)",
			RunQueued, queue, epoch, t, RunRunning, owner, part, owner)
		if err != nil {
			return nil, fmt.Errorf("queue %d runs on %s: %w", len(part), queue, err)
		}
		moved += n
	}
	if moved == int64(len(ids)) { // every run moved (ids are distinct): the count says it
		return ids, nil
	}
	return queuedOf(ctx, q, ids, queue)
}

// queuedOf returns those of ids whose rows are queued on queue.
func queuedOf(ctx context.Context, q Querier, ids []int64, queue string) ([]int64, error) {
	var out []int64
	for _, part := range chunks(ids, inList) {
		var got []int64
		if err := selectIn(ctx, q, &got, "SELECT id FROM execute_task WHERE status = ? AND queue = ? AND id IN (?)", RunQueued, queue, part); err != nil {
			return nil, fmt.Errorf("read queued runs: %w", err)
		}
		out = append(out, got...)
	}
	return out, nil
}

// SentRuns notes that queued runs were sent under epoch at now; rows no
// longer queued are left alone. An empty epoch asks for them to be sent
// again (ListUnsent).
func SentRuns(ctx context.Context, q Querier, ids []int64, epoch string, now time.Time) error {
	t := q.Dialect().time(now)
	for _, part := range chunks(ids, inList) {
		if _, err := execIn(ctx, q, "UPDATE execute_task SET queue_epoch = ?, retry_at = ? WHERE status = ? AND id IN (?)",
			epoch, t, RunQueued, part); err != nil {
			return fmt.Errorf("note %d runs sent: %w", len(part), err)
		}
	}
	return nil
}

// MarkUnsent asks for queued runs to be sent again by the sweeper, when
// due: their rows keep retry_at (a run queued by its claim, not yet sent,
// keeps its not-before).
func MarkUnsent(ctx context.Context, q Querier, ids []int64) error {
	for _, part := range chunks(ids, inList) {
		if _, err := execIn(ctx, q, "UPDATE execute_task SET queue_epoch = '' WHERE status = ? AND id IN (?)", RunQueued, part); err != nil {
			return fmt.Errorf("mark %d runs unsent: %w", len(part), err)
		}
	}
	return nil
}

// ResendQueuedOf marks the runs that owner (a replica known dead) handed
// to their queues and no worker took yet to be sent again, and returns
// how many: it may have died between the hand-off and the send.
// Duplicates of those it did send are dropped at the take.
func ResendQueuedOf(ctx context.Context, q Querier, owner string) (int64, error) {
	res, err := q.ExecContext(ctx, "UPDATE execute_task SET queue_epoch = '' WHERE status = ? AND owner = ? AND queue_epoch <> ''", RunQueued, owner)
	if err != nil {
		return 0, fmt.Errorf("resend runs queued by %s: %w", owner, err)
	}
	return res.RowsAffected()
}

// ListUnsent returns the runs queued on queue whose message may not be in
// the queue: sent under another epoch than epoch, or under none, and due
// by now (a run queued by its claim ahead of its fire time is not sent
// before it). Oldest first.
func ListUnsent(ctx context.Context, q Querier, queue, epoch string, now time.Time, limit int) ([]ExecuteTask, error) {
	var rs []ExecuteTask
	err := sqlx.SelectContext(ctx, q, &rs, "SELECT "+executeTaskColumns+" FROM execute_task WHERE status = ? AND queue = ? AND queue_epoch <> ? "+
		"AND (retry_at IS NULL OR retry_at <= ?) ORDER BY id LIMIT ?",
		RunQueued, queue, epoch, q.Dialect().time(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list unsent runs of %s: %w", queue, err)
	}
	return rs, nil
}

// QueuesInUse returns the names of the queues that queued rows wait on,
// in order. It reads one index entry per queue (MIN over the queued
// index, from the last name found), not every queued row: a DISTINCT
// read them all, every heartbeat, however long the backlog.
func QueuesInUse(ctx context.Context, q Querier) ([]string, error) {
	var names []string
	after := ""
	for {
		var next sql.NullString
		if err := sqlx.GetContext(ctx, q, &next, "SELECT MIN(queue) FROM execute_task WHERE status = ? AND queue > ?", RunQueued, after); err != nil {
			return nil, fmt.Errorf("list queues in use: %w", err)
		}
		if !next.Valid {
			return names, nil
		}
		names = append(names, next.String)
		after = next.String
	}
}

// TakeQueued moves queued rows to worker, running and started now, and
// returns the ids this call took: a row already taken (a message sent
// twice) or closed (cancelled) is not. It is fenced by the worker's
// liveness: a worker declared dead takes nothing. Each call marks its
// rows with a take token of its own in queue_epoch, which tells them
// apart from rows the worker took earlier.
func TakeQueued(ctx context.Context, q Querier, worker, host, token string, ids []int64, now time.Time) ([]int64, error) {
	t := q.Dialect().time(now)
	var out []int64
	for _, part := range chunks(ids, inList) {
		n, err := execIn(ctx, q, "UPDATE execute_task SET status = ?, owner = ?, host = ?, started_at = ?, heartbeat_at = ?, queue_epoch = ? "+
			"WHERE status = ? AND id IN (?) AND EXISTS (SELECT 1 FROM replica WHERE replica.id = ? AND replica.dead_at IS NULL)",
			RunRunning, worker, host, t, t, token, RunQueued, part, worker)
		if err != nil {
			return nil, fmt.Errorf("take %d queued runs: %w", len(part), err)
		}
		if n == 0 {
			continue
		}
		if n == int64(len(part)) { // every row taken (ids are distinct): the count says it
			out = append(out, part...)
			continue
		}
		var got []int64
		if err := selectIn(ctx, q, &got, "SELECT id FROM execute_task WHERE status = ? AND owner = ? AND queue_epoch = ? AND id IN (?)",
			RunRunning, worker, token, part); err != nil {
			return nil, fmt.Errorf("read taken runs: %w", err)
		}
		out = append(out, got...)
	}
	return out, nil
}

// RecoverRun puts a run that a dead (or silent) worker held back on
// queue, the same attempt, to be sent again, and reports whether this
// call did it (of several rescuers, one does). The run's earlier start
// is forgotten; extra notes the owner it was recovered from.
func RecoverRun(ctx context.Context, q Querier, id int64, deadOwner, queue, note string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, "UPDATE execute_task SET status = ?, owner = '', started_at = NULL, heartbeat_at = NULL, queue = ?, queue_epoch = '', retry_at = ?, error = ? "+
		"WHERE id = ? AND status = ? AND owner = ? AND queue <> ''",
		RunQueued, queue, q.Dialect().time(now), note, id, RunRunning, deadOwner)
	if err != nil {
		return false, fmt.Errorf("recover run %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ListQueuedOn returns the runs queued on queue, oldest first.
func ListQueuedOn(ctx context.Context, q Querier, queue string, limit int) ([]ExecuteTask, error) {
	var rs []ExecuteTask
	err := sqlx.SelectContext(ctx, q, &rs, "SELECT "+executeTaskColumns+" FROM execute_task WHERE status = ? AND queue = ? ORDER BY id LIMIT ?",
		RunQueued, queue, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs queued on %s: %w", queue, err)
	}
	return rs, nil
}

// MoveQueued moves a queued run to another queue, to be sent again, and
// reports whether this call did it.
func MoveQueued(ctx context.Context, q Querier, id int64, from, to string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, "UPDATE execute_task SET queue = ?, queue_epoch = '', retry_at = ? WHERE id = ? AND status = ? AND queue = ?",
		to, q.Dialect().time(now), id, RunQueued, from)
	if err != nil {
		return false, fmt.Errorf("move run %d from %s to %s: %w", id, from, to, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// QueueStat is how a queue stands, read from its rows.
type QueueStat struct {
	Queue  string
	Queued int64     // runs waiting for a worker
	Oldest time.Time // when the oldest of them was sent
}

// QueueStats returns each queue that has queued runs, by name.
func QueueStats(ctx context.Context, q Querier) ([]QueueStat, error) {
	rows, err := q.QueryContext(ctx, "SELECT queue, COUNT(*), MIN(retry_at) FROM execute_task WHERE status = ? GROUP BY queue ORDER BY queue", RunQueued)
	if err != nil {
		return nil, fmt.Errorf("read queue stats: %w", err)
	}
	defer rows.Close()
	var out []QueueStat
	for rows.Next() {
		var s QueueStat
		var oldest any
		if err := rows.Scan(&s.Queue, &s.Queued, &oldest); err != nil {
			return nil, fmt.Errorf("read queue stats: %w", err)
		}
		if s.Oldest, err = parseAnyTime(oldest); err != nil {
			return nil, fmt.Errorf("read queue stats: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
