package models

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// HourCount is how many runs of one status were scheduled in one hour.
type HourCount struct {
	Hour   string `db:"hour"` // "YYYY-MM-DD HH", UTC
	Status string `db:"status"`
	N      int64  `db:"n"`
}

// createSlack is how long before its fire time a run's row may be
// inserted (a claim made ahead of the fire): the create_at bound of a
// window starts that much earlier so that no run of the window is missed.
const createSlack = time.Hour

// RunsPerHour counts the runs scheduled in [since, until) by hour and
// status. The rows are found through the create_at index (a run's row is
// inserted at its fire time or later), not by a scan of the table; a run
// inserted long after its fire (a backfill) counts only when its fire
// time is in the window too.
func RunsPerHour(ctx context.Context, q Querier, since, until time.Time) ([]HourCount, error) {
	d := q.Dialect()
	hour := d.hourOf("scheduled_at")
	query := "SELECT " + hour + " AS hour, status, COUNT(*) AS n FROM execute_task" +
		" WHERE create_at >= ? AND scheduled_at >= ? AND scheduled_at < ? GROUP BY " + hour + ", status ORDER BY hour"
	var hs []HourCount
	if err := sqlx.SelectContext(ctx, q, &hs, query, d.time(since.Add(-createSlack)), d.time(since), d.time(until)); err != nil {
		return nil, fmt.Errorf("runs per hour: %w", err)
	}
	return hs, nil
}

// Lateness is a started run's fire time and start time.
type Lateness struct {
	ScheduledAt time.Time `db:"scheduled_at"`
	StartedAt   time.Time `db:"started_at"`
}

// RecentLateness returns the fire and start times of the latest limit
// scheduled runs (first attempts of source schedule: a retry, a manual
// run or a backfill is late on purpose) inserted and due since since that
// have started, newest first. It reads the create_at index backwards from now
// and stops at limit rows or at since, whatever the table's size.
func RecentLateness(ctx context.Context, q Querier, since time.Time, limit int) ([]Lateness, error) {
	d := q.Dialect()
	var ls []Lateness
	err := sqlx.SelectContext(ctx, q, &ls, "SELECT scheduled_at, started_at FROM execute_task"+
		" WHERE create_at >= ? AND scheduled_at >= ? AND started_at IS NOT NULL AND attempt = 1 AND source = ?"+
		" ORDER BY create_at DESC LIMIT ?", d.time(since), d.time(since), SourceSchedule, limit)
	if err != nil {
		return nil, fmt.Errorf("recent lateness: %w", err)
	}
	return ls, nil
}

// FailingTasks returns up to limit tasks that cannot be scheduled or
// whose latest run failed, timed out or was lost, in id order.
func FailingTasks(ctx context.Context, q Querier, limit int) ([]Task, error) {
	var ts []Task
	err := sqlx.SelectContext(ctx, q, &ts, "SELECT "+taskColumns+" FROM task"+
		" WHERE status = ? OR (is_valid = 1 AND last_status IN (?, ?, ?)) ORDER BY id LIMIT ?",
		TaskError, RunFailed, RunTimeout, RunLost, limit)
	if err != nil {
		return nil, fmt.Errorf("failing tasks: %w", err)
	}
	return ts, nil
}
