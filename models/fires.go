package models

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Span is a stretch of one task's fire times that is accounted for: one
// fire (a run, whatever its outcome), or, for a missed record, every fire
// time from its scheduled_at to its missed_until.
type Span struct {
	From, To time.Time
}

// MissedExtra is the extra of a missed record: the last fire time it
// covers (its scheduled_at is the first).
type MissedExtra struct {
	Until time.Time `json:"missed_until"`
}

// AccountedFires returns, per task, the spans of fire times in (after,
// upto] that execute_task accounts for: a row of any attempt, or a missed
// record (attempt 0), whose span may start before after.
func AccountedFires(ctx context.Context, q Querier, taskIDs []int64, after, upto time.Time) (map[int64][]Span, error) {
	out := map[int64][]Span{}
	d := q.Dialect()
	for _, part := range chunks(taskIDs, inList) {
		var rs []struct {
			TaskID      int64     `db:"task_id"`
			ScheduledAt time.Time `db:"scheduled_at"`
			Attempt     int       `db:"attempt"`
			Extra       string    `db:"extra"`
		}
		// A missed record starting before after may reach into the range:
		// those are read from a day before (a record spans at most what
		// one outage or downtime misses; older ones are not looked for).
		err := selectIn(ctx, q, &rs, "SELECT task_id, scheduled_at, attempt, extra FROM execute_task"+d.fireIndex+
			" WHERE task_id IN (?) AND scheduled_at <= ? AND (scheduled_at > ? OR (attempt = 0 AND scheduled_at > ?))",
			part, d.time(upto), d.time(after), d.time(after.Add(-24*time.Hour)))
		if err != nil {
			return nil, fmt.Errorf("read accounted fires: %w", err)
		}
		for _, r := range rs {
			sp := Span{From: r.ScheduledAt.UTC(), To: r.ScheduledAt.UTC()}
			if r.Attempt == 0 {
				var m MissedExtra
				if json.Unmarshal([]byte(r.Extra), &m) == nil && m.Until.After(sp.From) {
					sp.To = m.Until.UTC()
				}
			}
			out[r.TaskID] = append(out[r.TaskID], sp)
		}
	}
	return out, nil
}
