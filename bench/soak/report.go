package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"taskrunner/models"
	"time"
)

// report counts pairs over the fire times from 5 s after the start to 5 s
// before the end, when every replica had had time to start.
func report(ctx context.Context, db *models.DB, s settings, began, ended time.Time, kills []kill) error {
	from, to := began.Add(5*time.Second).Truncate(time.Second), ended.Add(-5*time.Second).Truncate(time.Second)
	seconds := int(to.Sub(from)/time.Second) + 1
	var ran, runsTwice, lost, requeued, statuses, accounted, skipped, missed int
	q := func(dst *int, query string) error {
		return db.GetContext(ctx, dst, query, from, to)
	}
	// A pair ran if its function completed (test_interval always succeeds).
	if err := q(&ran, "SELECT COUNT(*) FROM (SELECT DISTINCT task_id, scheduled_at FROM execute_task WHERE status = 'success' AND scheduled_at BETWEEN ? AND ?) p"); err != nil {
		return err
	}
	// A pair ran twice if two rows of it finished successfully.
	if err := q(&runsTwice, "SELECT COUNT(*) FROM (SELECT task_id FROM execute_task WHERE status = 'success' AND scheduled_at BETWEEN ? AND ? GROUP BY task_id, scheduled_at HAVING COUNT(*) > 1) p"); err != nil {
		return err
	}
	if err := q(&lost, "SELECT COUNT(*) FROM execute_task WHERE status = 'lost' AND scheduled_at BETWEEN ? AND ?"); err != nil {
		return err
	}
	if err := q(&requeued, "SELECT COUNT(*) FROM execute_task WHERE extra LIKE '%requeued_from%' AND scheduled_at BETWEEN ? AND ?"); err != nil {
		return err
	}
	if err := q(&statuses, "SELECT COUNT(*) FROM execute_task WHERE status IN ('running', 'pending') AND scheduled_at BETWEEN ? AND ?"); err != nil {
		return err
	}
	// A pair is accounted for if it has a row of any status: ran, skipped,
	// lost... A missed record (attempt 0) stands for a span of fire times
	// but is keyed by its first: those are counted apart.
	if err := q(&accounted, "SELECT COUNT(*) FROM (SELECT DISTINCT task_id, scheduled_at FROM execute_task WHERE attempt >= 1 AND scheduled_at BETWEEN ? AND ?) p"); err != nil {
		return err
	}
	if err := q(&skipped, "SELECT COUNT(*) FROM execute_task WHERE status = 'skipped' AND attempt = 1 AND scheduled_at BETWEEN ? AND ?"); err != nil {
		return err
	}
	if err := q(&missed, "SELECT COUNT(*) FROM execute_task WHERE status = 'missed' AND scheduled_at BETWEEN ? AND ?"); err != nil {
		return err
	}
	perKill, err := deadSkips(ctx, db, from, to, kills)
	if err != nil {
		return err
	}
	expected := s.tasks * seconds
	fmt.Printf("soak result: %d kills; fire times %s..%s (%d s x %d tasks = %d pairs)\n", len(kills), from.Format(time.TimeOnly), to.Format(time.TimeOnly), seconds, s.tasks, expected)
	fmt.Printf("  ran once: %d, ran twice: %d, not run: %d, of which lost mid-run (killed while the function ran; max_retries 0): %d; claimed by a killed replica and requeued: %d; still running/pending: %d\n",
		ran-runsTwice, runsTwice, expected-ran, lost, requeued, statuses)
	var totals, perTask []int
	for _, tasks := range perKill {
		n := 0
		for _, fires := range tasks {
			n += fires
			perTask = append(perTask, fires)
		}
		totals = append(totals, n)
	}
	dead := sum(totals)
	fmt.Printf("  skipped: %d, of which because of a dead replica's runs: %d (per kill: max %d, median %d; per task of a kill: max %d, median %d); missed records: %d; no row at all: %d\n",
		skipped, dead, maxOf(totals), median(totals), maxOf(perTask), median(perTask), missed, expected-accounted)
	for i, k := range kills {
		fires := make([]int, 0, len(perKill[i]))
		for _, n := range perKill[i] {
			fires = append(fires, n)
		}
		fmt.Printf("    kill %d at %s (replica %d, %s): %d fires skipped, of %d tasks (per task max %d, median %d)\n",
			i+1, k.at.Format(time.TimeOnly), k.replica, k.host, sum(fires), len(fires), maxOf(fires), median(fires))
	}
	return nil
}

// deadSkips counts, by kill and task, the fires recorded skipped with "run
// N is still running (overlap forbid)" while run N was held by a killed
// replica, decided after the kill:
//   - N was a claim the killed replica never started, requeued by another
//     replica (extra names the dead owner's host in requeued_from; host
//     becomes the taker's), and the skip was decided before the taker
//     started N;
//   - otherwise N's host is the killed process's.
func deadSkips(ctx context.Context, db *models.DB, from, to time.Time, kills []kill) ([]map[int64]int, error) {
	var rows []struct {
		TaskID  int64        `db:"task_id"`
		Decided time.Time    `db:"decided"` // a skipped row's started_at is when the skip was decided
		Host    string       `db:"host"`
		Extra   string       `db:"extra"`
		Started sql.NullTime `db:"started_at"`
	}
	err := db.SelectContext(ctx, &rows, `SELECT s.task_id, s.started_at AS decided, b.host, COALESCE(b.extra, '') AS extra, b.started_at
		FROM execute_task s JOIN execute_task b ON b.id = CAST(SUBSTRING_INDEX(SUBSTRING(s.error, 5), ' ', 1) AS UNSIGNED)
		WHERE s.status = 'skipped' AND s.error LIKE 'run % is still running (overlap forbid)' AND s.scheduled_at BETWEEN ? AND ?`, from, to)
	if err != nil {
		return nil, fmt.Errorf("skips: %w", err)
	}
	byHost := map[string]int{}
	perKill := make([]map[int64]int, len(kills))
	for i, k := range kills {
		byHost[k.host] = i
		perKill[i] = map[int64]int{}
	}
	killed := func(host string, decided time.Time) (int, bool) {
		i, ok := byHost[host]
		return i, ok && !decided.Before(kills[i].at)
	}
	for _, r := range rows {
		var note struct {
			From string `json:"requeued_from"` // "owner (host)"
		}
		_ = json.Unmarshal([]byte(r.Extra), &note)
		_, dead, _ := strings.Cut(note.From, " (")
		if i, ok := killed(strings.TrimSuffix(dead, ")"), r.Decided); ok && (!r.Started.Valid || r.Decided.Before(r.Started.Time)) {
			perKill[i][r.TaskID]++
		} else if i, ok := killed(r.Host, r.Decided); ok {
			perKill[i][r.TaskID]++
		}
	}
	return perKill, nil
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func maxOf(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	return slices.Max(xs)
}

// median is the upper median; 0 of none.
func median(xs []int) int {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}
