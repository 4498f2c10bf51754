package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Task statuses. The original framework used ready and doing.
const (
	TaskReady    = "ready"    // scheduled, no run in progress
	TaskDoing    = "doing"    // scheduled, a run is in progress
	TaskError    = "error"    // cannot be scheduled: sched_error says why
	TaskDisabled = "disabled" // is_valid = 0
	TaskDone     = "done"     // a date task with no fire time left
)

// Task is a row of task: the definition a user writes (the original
// columns) and the state the engine writes back.
type Task struct {
	ID       int64     `db:"id"`
	Key      string    `db:"task_key"`
	Desc     string    `db:"desc"`
	Func     string    `db:"execute_func"`
	Trigger  string    `db:"trigger"`
	Spec     string    `db:"spec"`
	Args     string    `db:"args"`
	IsValid  int       `db:"is_valid"`
	Status   string    `db:"status"`
	Extra    string    `db:"extra"`
	CreateAt time.Time `db:"create_at"`
	UpdateAt time.Time `db:"update_at"`

	AppliedSpec string       `db:"applied_spec"`
	SchedError  string       `db:"sched_error"`
	NextFireAt  sql.NullTime `db:"next_fire_at"`
	LastFireAt  sql.NullTime `db:"last_fire_at"`
	LastStatus  string       `db:"last_status"`
	LastError   NullString   `db:"last_error"`
}

// NullString reads a nullable text column; NULL reads as "".
type NullString string

// Scan implements sql.Scanner.
func (s *NullString) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*s = ""
	case string:
		*s = NullString(v)
	case []byte:
		*s = NullString(v)
	default:
		return fmt.Errorf("scan %T into NullString", v)
	}
	return nil
}

const taskColumns = "id, task_key, `desc`, execute_func, `trigger`, spec, args, is_valid, status, extra, " +
	"create_at, update_at, applied_spec, sched_error, next_fire_at, last_fire_at, last_status, last_error"

// ListTasks returns every row, in id order.
func ListTasks(ctx context.Context, q Querier) ([]Task, error) {
	var ts []Task
	err := sqlx.SelectContext(ctx, q, &ts, "SELECT "+taskColumns+" FROM task ORDER BY id")
	return ts, err
}

// ListTasksUpdatedSince returns the rows whose update_at is at or after t.
// It reads the update_at index only, so an idle table costs almost nothing.
func ListTasksUpdatedSince(ctx context.Context, q Querier, t time.Time) ([]Task, error) {
	var ts []Task
	err := sqlx.SelectContext(ctx, q, &ts,
		"SELECT "+taskColumns+" FROM task WHERE update_at >= ? ORDER BY id", q.Dialect().time(t))
	return ts, err
}

// GetTask returns one row, or ErrTaskNotFound.
func GetTask(ctx context.Context, q Querier, id int64) (Task, error) {
	var t Task
	err := sqlx.GetContext(ctx, q, &t, "SELECT "+taskColumns+" FROM task WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("task %d: %w", id, ErrTaskNotFound)
	}
	return t, err
}

// ListTasksByID returns the given rows, in id order.
func ListTasksByID(ctx context.Context, q Querier, ids []int64) ([]Task, error) {
	var out []Task
	for _, part := range chunks(ids, inList) {
		var ts []Task
		if err := selectIn(ctx, q, &ts, "SELECT "+taskColumns+" FROM task WHERE id IN (?) ORDER BY id", part); err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

// TaskStats is what a sync compares to notice deletions without reading rows.
type TaskStats struct {
	Count int64
	Now   time.Time // the database's clock, which sets update_at
}

// GetTaskStats counts the rows and reads the database's clock.
func GetTaskStats(ctx context.Context, q Querier) (TaskStats, error) {
	var (
		st  TaskStats
		now any
	)
	query := "SELECT COUNT(*), " + q.Dialect().nowUTC + " FROM task"
	if err := q.QueryRowxContext(ctx, query).Scan(&st.Count, &now); err != nil {
		return st, err
	}
	t, err := parseAnyTime(now)
	st.Now = t
	return st, err
}

// ListTaskIDs returns every id, in order.
func ListTaskIDs(ctx context.Context, q Querier) ([]int64, error) {
	var ids []int64
	err := sqlx.SelectContext(ctx, q, &ids, "SELECT id FROM task ORDER BY id")
	return ids, err
}

// TaskState is what the engine writes back after applying a definition.
type TaskState struct {
	Status      string
	AppliedSpec string
	SchedError  string
	NextFireAt  time.Time // zero writes NULL
}

// SetTaskState writes the same state to all ids, in batches.
func SetTaskState(ctx context.Context, q Querier, ids []int64, st TaskState) error {
	for _, part := range chunks(ids, inList) {
		query := "UPDATE task SET status = ?, applied_spec = ?, sched_error = ?, next_fire_at = ?" +
			q.Dialect().keepUpdateAt + " WHERE id IN (?)"
		if _, err := execIn(ctx, q, query, st.Status, st.AppliedSpec, truncate(st.SchedError, 1024), q.Dialect().nullTime(st.NextFireAt), part); err != nil {
			return fmt.Errorf("set state of %d tasks: %w", len(part), err)
		}
	}
	return nil
}

// MarkTasksFired records a claimed fire on its tasks: the fire time, the
// next one, and, with doing, status doing.
func MarkTasksFired(ctx context.Context, q Querier, ids []int64, fired, next time.Time, doing bool) error {
	status := "status"
	if doing {
		status = "'" + TaskDoing + "'"
	}
	for _, part := range chunks(ids, inList) {
		// last_fire_at only moves forward: a catch-up of an old fire time
		// must not make older fires look missed.
		f := q.Dialect().time(fired)
		query := "UPDATE task SET status = " + status + ", " +
			"last_fire_at = CASE WHEN last_fire_at IS NULL OR last_fire_at < ? THEN ? ELSE last_fire_at END, " +
			"next_fire_at = ?" + q.Dialect().keepUpdateAt + " WHERE id IN (?)"
		if _, err := execIn(ctx, q, query, f, f, q.Dialect().nullTime(next), part); err != nil {
			return fmt.Errorf("mark %d tasks fired: %w", len(part), err)
		}
	}
	return nil
}

// FinishTaskRun records the outcome of a run on its task. status is the
// task status to return to (ready, or done for a finished date task).
func FinishTaskRun(ctx context.Context, q Querier, id int64, status, runStatus, runError string) error {
	_, err := q.ExecContext(ctx, "UPDATE task SET status = ?, last_status = ?, last_error = ?"+
		q.Dialect().keepUpdateAt+" WHERE id = ? AND status = ?",
		status, runStatus, runError, id, TaskDoing)
	if err != nil {
		return fmt.Errorf("finish run of task %d: %w", id, err)
	}
	return nil
}

// TaskOutcome is what FinishTaskRuns writes to the tasks of a batch of runs.
type TaskOutcome struct {
	Status, RunStatus, RunError string
}

// FinishTaskRuns is FinishTaskRun for many runs: one statement per
// distinct outcome, and rows that already say it are not written (a task
// that keeps succeeding costs a read, not a write).
func FinishTaskRuns(ctx context.Context, q Querier, byOutcome map[TaskOutcome][]int64) error {
	nullSafeEq := q.Dialect().nullSafeEq
	for o, ids := range byOutcome {
		for _, part := range chunks(ids, inList) {
			var errText any
			if o.RunError != "" {
				errText = o.RunError
			}
			query := "UPDATE task SET status = CASE WHEN status = ? THEN ? ELSE status END, last_status = ?, last_error = ?" +
				q.Dialect().keepUpdateAt + " WHERE id IN (?) AND (status = ? OR last_status <> ? OR NOT (last_error " + nullSafeEq + " ?))"
			if _, err := execIn(ctx, q, query, TaskDoing, o.Status, o.RunStatus, errText, part, TaskDoing, o.RunStatus, errText); err != nil {
				return fmt.Errorf("finish runs of %d tasks: %w", len(part), err)
			}
		}
	}
	return nil
}

// InsertTask inserts a row and returns its id. The engine never calls it;
// it is for the sample rows, tests and the operator surfaces.
func InsertTask(ctx context.Context, q Querier, t Task) (int64, error) {
	if t.Extra == "" {
		t.Extra = "{}"
	}
	if t.Status == "" {
		t.Status = TaskReady
	}
	res, err := q.ExecContext(ctx, "INSERT INTO task (task_key, `desc`, execute_func, `trigger`, spec, args, is_valid, status, extra) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		t.Key, t.Desc, t.Func, t.Trigger, t.Spec, t.Args, t.IsValid, t.Status, t.Extra)
	if err != nil {
		return 0, fmt.Errorf("insert task %q: %w", t.Key, err)
	}
	return res.LastInsertId()
}

// InsertTasks inserts rows in statements of 500 (for bulk loads).
func InsertTasks(ctx context.Context, q Querier, ts []Task) error {
	for _, part := range chunks(ts, 500) {
		var sb strings.Builder
		args := make([]any, 0, len(part)*9)
		sb.WriteString("INSERT INTO task (task_key, `desc`, execute_func, `trigger`, spec, args, is_valid, status, extra) VALUES ")
		for i, t := range part {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
			if t.Extra == "" {
				t.Extra = "{}"
			}
			if t.Status == "" {
				t.Status = TaskReady
			}
			args = append(args, t.Key, t.Desc, t.Func, t.Trigger, t.Spec, t.Args, t.IsValid, t.Status, t.Extra)
		}
		if _, err := q.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("insert %d tasks: %w", len(part), err)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so the column never gets half a character.
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// parseAnyTime reads an aggregate time, which SQLite returns as text.
func parseAnyTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return v.UTC(), nil
	case []byte:
		return parseAnyTime(string(v))
	case string:
		for _, layout := range []string{sqliteTimeLayout, "2006-01-02 15:04:05.999999999", time.RFC3339Nano} {
			if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("cannot read time %q", v)
	}
	return time.Time{}, fmt.Errorf("cannot read time from %T", v)
}

// SampleTasks are the original framework's three sample rows: test_interval
// runs every 5 seconds; test_date and test_cron are there, switched off.
func SampleTasks() []Task {
	return []Task{
		{Key: "test_interval", Desc: "测试interval任务", Func: "test_interval", Trigger: "interval", Spec: "5", Args: "1,2,3", IsValid: 1},
		{Key: "test_date", Desc: "测试date任务", Func: "test_date", Trigger: "date", Spec: "2020-04-24 18:08:00", Args: `"guess","hello"`, IsValid: 0},
		{Key: "test_cron", Desc: "测试cron任务", Func: "test_cron", Trigger: "cron", Spec: "* * * * *", Args: "4,5,6", IsValid: 0},
	}
}
