package models

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// Run statuses of execute_task.
const (
	RunPending     = "pending" // a retry waiting for its retry_at
	RunQueued      = "queued"  // handed to a named queue, for a worker to take
	RunRunning     = "running"
	RunSuccess     = "success"
	RunFailed      = "failed"
	RunTimeout     = "timeout"
	RunInterrupted = "interrupted" // cut off by shutdown
	RunLost        = "lost"        // its owner stopped heartbeating
	RunSkipped     = "skipped"     // the function said so, or an overlap policy did
	RunMissed      = "missed"      // fire times not run (misfire policy); attempt 0
	RunCancelled   = "cancelled"   // replaced by a newer run (overlap replace)
	RunKilled      = "killed"      // killed by an operator (taskrunner kill, the API, the console)
)

// Run sources.
const (
	SourceSchedule = "schedule"
	SourceCatchup  = "catchup"
	SourceRetry    = "retry"
	SourceMisfire  = "misfire"
	SourceManual   = "manual"
	SourceChild    = "child"    // started by its parent task's run (extra.then); extra.parent_run names it
	SourceBackfill = "backfill" // a past fire time run on request
)

// ExecuteTask is a row of execute_task: one run of a task.
type ExecuteTask struct {
	ID          int64         `db:"id"`
	TaskID      int64         `db:"task_id"`
	Status      string        `db:"status"`
	Extra       string        `db:"extra"`
	TraceID     string        `db:"trace_id"`
	CreateAt    time.Time     `db:"create_at"`
	UpdateAt    time.Time     `db:"update_at"`
	TaskKey     string        `db:"task_key"`
	ScheduledAt sql.NullTime  `db:"scheduled_at"`
	Attempt     int           `db:"attempt"`
	FirstID     sql.NullInt64 `db:"first_id"`
	Source      string        `db:"source"`
	StartedAt   sql.NullTime  `db:"started_at"`
	FinishedAt  sql.NullTime  `db:"finished_at"`
	DurationMS  sql.NullInt64 `db:"duration_ms"`
	HeartbeatAt sql.NullTime  `db:"heartbeat_at"`
	RetryAt     sql.NullTime  `db:"retry_at"`
	Host        string        `db:"host"`
	Owner       string        `db:"owner"`
	Error       NullString    `db:"error"`
	Output      NullString    `db:"output"`
	Queue       string        `db:"queue"`
	QueueEpoch  string        `db:"queue_epoch"`
	Shard       int           `db:"shard"`
	ShardTotal  int           `db:"shard_total"`
}

const executeTaskColumns = "id, task_id, status, extra, trace_id, create_at, update_at, task_key, scheduled_at, attempt, " +
	"first_id, source, started_at, finished_at, duration_ms, heartbeat_at, retry_at, host, owner, error, output, queue, queue_epoch, shard, shard_total"

// Claim asks for one fire of a task. The unique key (task_id,
// scheduled_at, attempt) lets exactly one claimant in the whole cluster
// create the row; the others find it taken.
type Claim struct {
	TaskID      int64
	TaskKey     string
	ScheduledAt time.Time
	Attempt     int
	FirstID     int64 // 0 for attempt 1
	Source      string
	TraceID     string // unique per claim: it tells the winner
	Host        string
	Owner       string
	StartedAt   time.Time
	// Status is the row's status: running (the default), or a final one
	// (skipped, missed) recorded as finished at StartedAt, or pending
	// until RetryAt.
	Status  string
	Error   string
	RetryAt time.Time
	// Extra is the row's extra JSON; "" writes {}.
	Extra string
	// Shard and Shards: the claim is shard Shard of Shards runs of its
	// fire (extra.shards, or a broadcast's workers); Shards 0 for a fire of
	// one run.
	Shard, Shards int
	// Queue and QueueEpoch, for a claim of Status queued: the run is
	// handed to that queue by the claim itself, as sent under that epoch
	// at its fire time (retry_at, its not-before, is ScheduledAt).
	Queue, QueueEpoch string
}

// ClaimRuns inserts a running row for each claim whose fire is not taken
// yet, and returns the ids of the rows this call created, by claim index;
// 0 means another claimant won.
//
// On a pool, the statements go over claimConns connections at once: the
// database spreads them over its cores. Chunks lock disjoint keys, in the
// same order on every replica.
func ClaimRuns(ctx context.Context, q Querier, claims []Claim) ([]int64, error) {
	ids := make([]int64, len(claims))
	parts := chunks(claims, 500)
	workers := 1
	if _, pool := q.(*DB); pool {
		workers = min(claimConns, len(parts))
	}
	errs := make([]error, len(parts))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(parts); i = int(next.Add(1) - 1) {
				if errs[i] = claimChunk(ctx, q, parts[i], ids[i*500:]); errs[i] != nil {
					next.Store(int64(len(parts))) // stop taking chunks
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ids, nil
}

// claimConns is how many connections one ClaimRuns uses at most.
const claimConns = 2

func claimChunk(ctx context.Context, q Querier, claims []Claim, ids []int64) error {
	b := newValuesBuilder(q, "INSERT INTO execute_task (task_id, status, extra, trace_id, task_key, scheduled_at, attempt, first_id, "+
		"source, started_at, heartbeat_at, finished_at, duration_ms, retry_at, host, owner, error, shard, shard_total, queue, queue_epoch) VALUES ",
		len(claims), 300+len(claims[0].Host)+len(claims[0].Owner)+len(claims[0].QueueEpoch))
	for _, c := range claims {
		var started, heartbeat, finished, retryAt time.Time
		duration := "NULL"
		status := c.Status
		switch status {
		case "", RunRunning:
			// started_at stays NULL until the outcome: a claim whose owner
			// dies before starting it (no run_start row has it) can be run
			// by another replica.
			status = RunRunning
			heartbeat = c.StartedAt
		case RunPending:
			retryAt = c.RetryAt
		case RunQueued: // handed to its queue by the claim: sent at its time
			retryAt = c.ScheduledAt
		default: // recorded as already finished
			started, finished, duration = c.StartedAt, c.StartedAt, "0"
		}
		first := "NULL"
		if c.FirstID != 0 {
			first = strconv.FormatInt(c.FirstID, 10)
		}
		b.row()
		b.int(c.TaskID)
		b.word(status)
		if c.Extra == "" {
			b.lit("'{}'")
		} else {
			b.text(c.Extra)
		}
		b.word(c.TraceID)
		b.word(c.TaskKey)
		b.time(c.ScheduledAt)
		b.int(int64(c.Attempt))
		b.lit(first)
		b.word(c.Source)
		b.time(started)
		b.time(heartbeat)
		b.time(finished)
		b.lit(duration)
		b.time(retryAt)
		b.word(c.Host)
		b.word(c.Owner)
		b.nullText(c.Error)
		b.int(int64(c.Shard))
		b.int(int64(c.Shards))
		b.word(c.Queue)
		b.word(c.QueueEpoch)
	}
	b.endRows()
	b.raw(q.Dialect().insertNothing)
	if err := b.exec(ctx, q); err != nil {
		return fmt.Errorf("claim %d runs: %w", len(claims), err)
	}

	// Read back which rows carry our trace ids.
	taskIDs := make([]int64, len(claims))
	at := map[time.Time]bool{}
	var times []any
	for i, c := range claims {
		taskIDs[i] = c.TaskID
		if t := c.ScheduledAt.UTC(); !at[t] {
			at[t] = true
			times = append(times, q.Dialect().time(t))
		}
	}
	query, args, err := sqlx.In("SELECT id, trace_id FROM execute_task"+q.Dialect().fireIndex+" WHERE task_id IN (?) AND scheduled_at IN (?)", taskIDs, times)
	if err != nil {
		return err
	}
	rows, err := q.QueryContext(ctx, q.Rebind(query), args...)
	if err != nil {
		return fmt.Errorf("read back %d claims: %w", len(claims), err)
	}
	defer rows.Close()
	won := make(map[string]int64, len(claims))
	for rows.Next() {
		var id int64
		var trace []byte
		if err := rows.Scan(&id, &trace); err != nil {
			return fmt.Errorf("read back %d claims: %w", len(claims), err)
		}
		won[string(trace)] = id
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read back %d claims: %w", len(claims), err)
	}
	for i, c := range claims {
		ids[i] = won[c.TraceID]
	}
	return nil
}

// Finish is the outcome of a run.
type Finish struct {
	Status     string
	Error      string
	Output     string
	StartedAt  time.Time // when the function was called; zero keeps the claim's
	FinishedAt time.Time
	Duration   time.Duration
}

// Outcome is a run's outcome with the identity of its row, for
// FinishRuns: the row is completed only while it is still running, owned
// by Owner, at Attempt (the fence: a replica or worker that lost the run
// cannot overwrite what its new owner records).
type Outcome struct {
	ID      int64
	TaskID  int64
	TraceID string
	Owner   string
	Attempt int
	Finish
}

// Column limits of execute_task's text columns (TEXT: 65,535 bytes).
const (
	OutputMax = 65535
	ErrorMax  = 65535
)

// FitText makes s fit a text column of max bytes: invalid UTF-8 is
// replaced and the text is cut at a character boundary, so neither
// "data too long" nor "incorrect string value" can fail the write.
func FitText(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return truncate(s, max)
}

// FinishRuns completes many running rows, one statement per 500; it
// sorts fs by id (one lock order for all writers). Rows no longer running,
// or no longer the outcome's owner and attempt (closed meanwhile as lost
// or cancelled, or requeued to another owner), keep what they say.
// Output and error are fitted to their columns (FitText).
func FinishRuns(ctx context.Context, q Querier, fs []Outcome) error {
	slices.SortFunc(fs, func(a, b Outcome) int { return cmp.Compare(a.ID, b.ID) }) // one lock order
	for _, part := range chunks(fs, 500) {
		// An upsert on the primary key: MySQL runs it as 500 point
		// updates, where an UPDATE joined to a derived table of the
		// outcomes materialises that table on disk first (3x slower).
		// task_id and trace_id are only there for the insert half, which
		// never happens: every id is a row its owner claimed.
		b := newValuesBuilder(q, "INSERT INTO execute_task (id, task_id, trace_id, owner, attempt, status, error, output, started_at, finished_at, duration_ms) VALUES ", len(part), 180)
		for _, f := range part {
			b.row()
			b.int(f.ID)
			b.int(f.TaskID)
			b.word(f.TraceID)
			b.word(f.Owner)
			b.int(int64(f.Attempt))
			b.word(f.Status)
			b.nullText(FitText(f.Error, ErrorMax))
			b.nullText(FitText(f.Output, OutputMax))
			b.time(f.StartedAt)
			b.time(f.FinishedAt)
			b.int(f.Duration.Milliseconds())
		}
		b.endRows()
		b.raw(q.Dialect().finishRuns)
		if err := b.exec(ctx, q); err != nil {
			return fmt.Errorf("finish %d runs: %w", len(part), err)
		}
	}
	return nil
}

// FinishRun completes one running row, fenced as FinishRuns is, and
// reports whether it did.
func FinishRun(ctx context.Context, q Querier, o Outcome) (bool, error) {
	var errText, out any
	if o.Error != "" {
		errText = FitText(o.Error, ErrorMax)
	}
	if o.Output != "" {
		out = FitText(o.Output, OutputMax)
	}
	d := q.Dialect()
	res, err := q.ExecContext(ctx, "UPDATE execute_task SET status = ?, error = ?, output = ?, started_at = COALESCE(?, started_at), "+
		"finished_at = ?, duration_ms = ? WHERE id = ? AND status = ? AND owner = ? AND attempt = ?",
		o.Status, errText, out, d.nullTime(o.StartedAt), d.time(o.FinishedAt), o.Duration.Milliseconds(), o.ID, RunRunning, o.Owner, o.Attempt)
	if err != nil {
		return false, fmt.Errorf("finish run %d: %w", o.ID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ListRuns returns the history of one task, newest fire first (and, for a
// fire, its latest attempt first).
func ListRuns(ctx context.Context, q Querier, taskID int64, limit int) ([]ExecuteTask, error) {
	var rs []ExecuteTask
	// The unique key (task_id, scheduled_at, attempt) serves this order.
	err := sqlx.SelectContext(ctx, q, &rs, "SELECT "+executeTaskColumns+" FROM execute_task WHERE task_id = ? "+
		"ORDER BY scheduled_at DESC, attempt DESC LIMIT ?", taskID, limit)
	return rs, err
}

// StartRuns records, in one run_start row, that owner lets the claimed
// runs ids start now, and returns the row's id, for EndRunStart. From
// then on a run whose owner dies is lost; before, it is requeued.
//
// The row is written only while owner is a live replica: ok is false when
// it was declared dead (or never registered), and the caller must then
// not start the runs, which a rescuer requeues. Why a start cannot slip
// past the rescuer: the rescuer first declares the owner dead
// (MarkDeadReplicas, committed), then reads run_start (StartedRuns). The
// INSERT ... SELECT reads the owner's replica row with a shared lock (said
// explicitly: InnoDB takes it by itself only above READ COMMITTED). If it
// locks the row first, the rescuer's UPDATE waits until the insert has
// committed, and its later read sees the run_start row; if the UPDATE is
// first, the insert waits for it, its locking read sees dead_at, and it
// inserts nothing. SQLite has one writer at a time: the two are ordered.
func StartRuns(ctx context.Context, q Querier, owner string, ids []int64, at time.Time) (id int64, ok bool, err error) {
	res, err := q.ExecContext(ctx, "INSERT INTO run_start (owner, started_at, run_ids) SELECT ?, ?, ? FROM replica WHERE id = ? AND dead_at IS NULL"+q.Dialect().shareLock,
		owner, q.Dialect().time(at), formatRanges(ids), owner)
	if err != nil {
		return 0, false, fmt.Errorf("record %d runs started: %w", len(ids), err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, false, err
	}
	id, err = res.LastInsertId()
	return id, err == nil, err
}

// EndRunStart deletes a run_start row once all its runs are recorded.
func EndRunStart(ctx context.Context, q Querier, id int64) error {
	if _, err := q.ExecContext(ctx, "DELETE FROM run_start WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete run_start %d: %w", id, err)
	}
	return nil
}

// StartedRuns returns which of ids owner recorded as started, and when.
func StartedRuns(ctx context.Context, q Querier, owner string, ids []int64) (map[int64]time.Time, error) {
	rows, err := q.QueryContext(ctx, q.Rebind("SELECT started_at, run_ids FROM run_start WHERE owner = ?"), owner)
	if err != nil {
		return nil, fmt.Errorf("read run_start of %s: %w", owner, err)
	}
	defer rows.Close()
	out := map[int64]time.Time{}
	for rows.Next() {
		var at any
		var list string
		if err := rows.Scan(&at, &list); err != nil {
			return nil, fmt.Errorf("read run_start of %s: %w", owner, err)
		}
		started, err := parseAnyTime(at)
		if err != nil {
			return nil, fmt.Errorf("run_start of %s: %w", owner, err)
		}
		rs, err := parseRanges(list)
		if err != nil {
			return nil, fmt.Errorf("run_start of %s: %w", owner, err)
		}
		for _, id := range ids {
			if _, ok := slices.BinarySearchFunc(rs, id, func(r [2]int64, id int64) int {
				switch {
				case r[1] < id:
					return -1
				case r[0] > id:
					return 1
				}
				return 0
			}); ok {
				out[id] = started
			}
		}
	}
	return out, rows.Err()
}

// ForgetRunStarts deletes the run_start rows of replicas that have no
// running rows left: their runs were all recorded, or taken over. (A
// row is normally deleted as its last run is recorded; this clears those
// left by a crash or a failed delete. A replica claims its runs before
// it writes their run_start row, so a row it still needs always has a
// running row beside it.)
func ForgetRunStarts(ctx context.Context, q Querier) error {
	_, err := q.ExecContext(ctx, "DELETE FROM run_start WHERE NOT EXISTS "+
		"(SELECT 1 FROM execute_task WHERE execute_task.status = ? AND execute_task.owner = run_start.owner)", RunRunning)
	if err != nil {
		return fmt.Errorf("delete old run_start rows: %w", err)
	}
	return nil
}

// formatRanges writes ids as sorted ranges: 1-500,731,900-1200.
func formatRanges(ids []int64) string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var sb strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatInt(ids[i], 10))
		if j > i {
			sb.WriteByte('-')
			sb.WriteString(strconv.FormatInt(ids[j], 10))
		}
		i = j + 1
	}
	return sb.String()
}

// parseRanges reads what formatRanges wrote.
func parseRanges(s string) ([][2]int64, error) {
	var out [][2]int64
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad id range %q", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("bad id range %q", part)
			}
		}
		out = append(out, [2]int64{a, b})
	}
	return out, nil
}

// Requeue turns a running row that never started (its owner died between
// the claim and the start) back into a pending one, due now, noting the
// dead owner in extra ("requeued_from"), and reports whether this call
// did it.
func Requeue(ctx context.Context, q Querier, id int64, deadOwner string, now time.Time) (bool, error) {
	note, err := json.Marshal(map[string]string{"requeued_from": deadOwner})
	if err != nil {
		return false, err
	}
	res, err := q.ExecContext(ctx, "UPDATE execute_task SET status = ?, retry_at = ?, owner = '', extra = ? WHERE id = ? AND status = ? AND started_at IS NULL",
		RunPending, q.Dialect().time(now), string(note), id, RunRunning)
	if err != nil {
		return false, fmt.Errorf("requeue run %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RunningRun is a running row, as overlap policies see it.
type RunningRun struct {
	ID     int64  `db:"id"`
	TaskID int64  `db:"task_id"`
	Owner  string `db:"owner"`
}

// ListRunningByTask returns the live rows of the given tasks: running, or
// queued for a worker. A queued run's owner is returned empty: it is
// waiting for a worker, whether or not the replica that handed it over
// is alive. It reads those rows only (index on status).
func ListRunningByTask(ctx context.Context, q Querier, taskIDs []int64) (map[int64][]RunningRun, error) {
	out := map[int64][]RunningRun{}
	for _, part := range chunks(taskIDs, inList) {
		var rs []RunningRun
		if err := selectIn(ctx, q, &rs, "SELECT id, task_id, CASE WHEN status = ? THEN '' ELSE owner END AS owner FROM execute_task WHERE status IN (?, ?) AND task_id IN (?)",
			RunQueued, RunRunning, RunQueued, part); err != nil {
			return nil, fmt.Errorf("list running runs: %w", err)
		}
		for _, r := range rs {
			out[r.TaskID] = append(out[r.TaskID], r)
		}
	}
	return out, nil
}

// CloseRun moves a row from status from to a final status, with a
// message and finish time, and reports whether this call did it: of
// several replicas trying, exactly one does. started, when set, is the
// row's start time if it has none yet (a run let go, then lost).
func CloseRun(ctx context.Context, q Querier, id int64, from, to, msg string, at, started time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, "UPDATE execute_task SET status = ?, error = ?, finished_at = ?, started_at = COALESCE(started_at, ?) WHERE id = ? AND status = ?",
		to, msg, q.Dialect().time(at), q.Dialect().nullTime(started), id, from)
	if err != nil {
		return false, fmt.Errorf("close run %d as %s: %w", id, to, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Heartbeat renews the lease of running rows.
func Heartbeat(ctx context.Context, q Querier, ids []int64, at time.Time) error {
	ids = slices.Clone(ids)
	slices.Sort(ids) // one lock order with FinishRuns and MarkStarted
	for _, part := range chunks(ids, inList) {
		if _, err := execIn(ctx, q, "UPDATE execute_task SET heartbeat_at = ? WHERE status = ? AND id IN (?)", q.Dialect().time(at), RunRunning, part); err != nil {
			return fmt.Errorf("heartbeat %d runs: %w", len(part), err)
		}
	}
	return nil
}

// ListClosed returns, of the given ids, those no longer running, with
// their status: runs another replica closed (replaced, or taken for lost).
func ListClosed(ctx context.Context, q Querier, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	for _, part := range chunks(ids, inList) {
		var rs []struct {
			ID     int64  `db:"id"`
			Status string `db:"status"`
		}
		if err := selectIn(ctx, q, &rs, "SELECT id, status FROM execute_task WHERE status <> ? AND id IN (?)", RunRunning, part); err != nil {
			return nil, fmt.Errorf("list closed runs: %w", err)
		}
		for _, r := range rs {
			out[r.ID] = r.Status
		}
	}
	return out, nil
}

// ListStaleRuns returns running rows whose lease ended before t.
func ListStaleRuns(ctx context.Context, q Querier, before time.Time, limit int) ([]ExecuteTask, error) {
	var rs []ExecuteTask
	err := sqlx.SelectContext(ctx, q, &rs, "SELECT "+executeTaskColumns+" FROM execute_task WHERE status = ? AND heartbeat_at < ? ORDER BY id LIMIT ?",
		RunRunning, q.Dialect().time(before), limit)
	if err != nil {
		return nil, fmt.Errorf("list stale runs: %w", err)
	}
	return rs, nil
}

// ListDueRetries returns pending retries whose time has come.
func ListDueRetries(ctx context.Context, q Querier, now time.Time, limit int) ([]ExecuteTask, error) {
	var rs []ExecuteTask
	err := sqlx.SelectContext(ctx, q, &rs, "SELECT "+executeTaskColumns+" FROM execute_task WHERE status = ? AND retry_at <= ? ORDER BY retry_at LIMIT ?",
		RunPending, q.Dialect().time(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list due retries: %w", err)
	}
	return rs, nil
}

// ClaimPending starts a pending retry for owner, if no one else did and
// owner is a live replica (one declared dead claims nothing more).
func ClaimPending(ctx context.Context, q Querier, id int64, owner, host string, now time.Time) (bool, error) {
	t := q.Dialect().time(now)
	res, err := q.ExecContext(ctx, "UPDATE execute_task SET status = ?, owner = ?, host = ?, started_at = ?, heartbeat_at = ? WHERE id = ? AND status = ? "+
		"AND EXISTS (SELECT 1 FROM replica WHERE replica.id = ? AND replica.dead_at IS NULL)",
		RunRunning, owner, host, t, t, id, RunPending, owner)
	if err != nil {
		return false, fmt.Errorf("claim retry %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// LastFires returns, per task, the latest fire time claimed (run or
// recorded as missed), read from the unique key of execute_task.
func LastFires(ctx context.Context, q Querier, taskIDs []int64) (map[int64]time.Time, error) {
	out := map[int64]time.Time{}
	for _, part := range chunks(taskIDs, inList) {
		query, args, err := sqlx.In("SELECT task_id, MAX(scheduled_at) FROM execute_task"+q.Dialect().fireIndex+" WHERE task_id IN (?) GROUP BY task_id", part)
		if err != nil {
			return nil, err
		}
		rows, err := q.QueryxContext(ctx, q.Rebind(query), args...)
		if err != nil {
			return nil, fmt.Errorf("last fires: %w", err)
		}
		for rows.Next() {
			var id int64
			var at any
			if err := rows.Scan(&id, &at); err != nil {
				rows.Close()
				return nil, err
			}
			t, err := parseAnyTime(at)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = t
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetRun returns one row.
func GetRun(ctx context.Context, q Querier, id int64) (ExecuteTask, error) {
	var r ExecuteTask
	err := sqlx.GetContext(ctx, q, &r, "SELECT "+executeTaskColumns+" FROM execute_task WHERE id = ?", id)
	return r, err
}
