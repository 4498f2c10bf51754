package models

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// SourceProduced marks a run enqueued by a producer (the sql_produce
// kind): its extra holds the args it runs with and names the producer run.
const SourceProduced = "produced"

// extraMax is the size of execute_task.extra (TEXT).
const extraMax = 65535

// Produce asks for one pending run of a target task per args.
type Produce struct {
	TaskID  int64  // the target task
	TaskKey string // its key
	// ProducerRun and ProducerTask name the run that produced the rows,
	// written into each row's extra.
	ProducerRun  int64
	ProducerTask string
	// Args yields each run's args, a JSON object (or array); it is read
	// no further than needed to fill Max rows and learn whether more
	// would follow.
	Args iter.Seq2[json.RawMessage, error]
	// Max bounds the rows inserted; it must be positive.
	Max int
	// At is when the rows are due (retry_at). Each row is a fire of its
	// own under the unique key, scheduled at At plus a step or more of the
	// stored time's precision (a microsecond on MySQL, a millisecond on
	// SQLite), never on a whole second, where the target's own fires fall.
	At   time.Time
	Host string
}

// ProduceReport says what ProduceRuns did.
type ProduceReport struct {
	Produced     int  // rows inserted
	Deduplicated int  // args still queued for the target, or repeated in Args
	Cut          bool // Args had more to enqueue than Max
	// Collided counts rows not inserted because other rows of the target
	// held each fire time they were tried at (see produceTries).
	Collided int
}

// producedExtra is the extra of a produced row.
type producedExtra struct {
	ProducerRun  int64           `json:"producer_run"`
	ProducerTask string          `json:"producer_task"`
	Args         json.RawMessage `json:"args"`
	ArgsHash     string          `json:"args_hash"`
}

// ProduceRuns inserts a pending run of the target, due at p.At, for each
// of p.Args not already waiting for it: args whose hash matches a row of
// the target still pending or queued, or args seen earlier in p.Args,
// are counted as deduplicated. Two producers of one target writing at
// the same instant may both insert a row for the same args: the check
// and the insert are separate statements.
func ProduceRuns(ctx context.Context, q Querier, p Produce) (ProduceReport, error) {
	if p.Max <= 0 {
		return ProduceReport{}, fmt.Errorf("produce runs of task %q: max %d, want a positive bound", p.TaskKey, p.Max)
	}
	seen, err := queuedHashes(ctx, q, p.TaskID)
	if err != nil {
		return ProduceReport{}, fmt.Errorf("produce runs of task %q: %w", p.TaskKey, err)
	}
	claims, rep, err := produceClaims(p, seen)
	if err == nil {
		rep.Produced, rep.Collided, err = insertProduced(ctx, q, p.At, claims)
	}
	if err != nil {
		return rep, fmt.Errorf("produce runs of task %q: %w", p.TaskKey, err)
	}
	return rep, nil
}

// produceClaims reads p.Args into at most p.Max claims, skipping args
// whose hash is in seen (which it adds to), and reports what it skipped
// and whether it stopped at the bound.
func produceClaims(p Produce, seen map[string]bool) ([]Claim, ProduceReport, error) {
	var rep ProduceReport
	var claims []Claim
	for args, err := range p.Args {
		if err != nil {
			return nil, rep, err
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, args); err != nil {
			return nil, rep, fmt.Errorf("args %d: %w", len(claims)+rep.Deduplicated+1, err)
		}
		hash := sha256Hex(buf.Bytes())
		if seen[hash] {
			rep.Deduplicated++
			continue
		}
		if len(claims) == p.Max {
			rep.Cut = true
			break
		}
		seen[hash] = true
		extra, err := json.Marshal(producedExtra{ProducerRun: p.ProducerRun, ProducerTask: p.ProducerTask, Args: buf.Bytes(), ArgsHash: hash})
		if err != nil {
			return nil, rep, err
		}
		if len(extra) > extraMax {
			return nil, rep, fmt.Errorf("args %s...: %d bytes, more than execute_task.extra holds (%d)", FitText(buf.String(), 80), len(extra), extraMax)
		}
		claims = append(claims, Claim{
			TaskID: p.TaskID, TaskKey: p.TaskKey, Attempt: 1, Source: SourceProduced, TraceID: uuid.NewString(), Host: p.Host,
			Status: RunPending, RetryAt: p.At, Extra: string(extra),
		})
	}
	return claims, rep, nil
}

// insertProduced inserts the claims at fire times after at, trying a
// claim whose time another row holds again at a later one, up to
// produceTries times.
func insertProduced(ctx context.Context, q Querier, at time.Time, claims []Claim) (inserted, collided int, err error) {
	fires := fireTimes(q.Dialect(), at)
	for try := 0; len(claims) > 0 && try < produceTries; try++ {
		for i := range claims {
			claims[i].ScheduledAt = fires()
		}
		ids, err := ClaimRuns(ctx, q, claims)
		if err != nil {
			return inserted, 0, err
		}
		taken := claims[:0]
		for i, id := range ids {
			if id != 0 {
				inserted++
			} else {
				taken = append(taken, claims[i])
			}
		}
		claims = taken
	}
	return inserted, len(claims), nil
}

// produceTries is how many fire times a produced row is tried at: another
// row of the target may hold one (a run of the same producer a moment
// earlier, or of another).
const produceTries = 3

// FireAfter is the first fire time after at that the database stores
// apart from at and from any whole second: the fire time of runs derived
// from at's fire (a sharded fire's child tasks), off the fires of
// schedules. A microsecond later on MySQL, a millisecond on SQLite.
func FireAfter(d *Dialect, at time.Time) time.Time { return fireTimes(d, at)() }

// fireTimes returns successive fire times after at, a step of the stored
// precision apart, skipping whole seconds.
func fireTimes(d *Dialect, at time.Time) func() time.Time {
	step := time.Microsecond
	if d.sqlite {
		step = time.Millisecond
	}
	at = at.UTC().Truncate(step)
	return func() time.Time {
		if at = at.Add(step); at.Nanosecond() == 0 {
			at = at.Add(step)
		}
		return at
	}
}

// queuedHashes returns the args hashes of the task's produced rows still
// waiting to run.
func queuedHashes(ctx context.Context, q Querier, taskID int64) (map[string]bool, error) {
	var extras []string
	err := sqlx.SelectContext(ctx, q, &extras, "SELECT extra FROM execute_task WHERE status IN (?, ?) AND task_id = ? AND source = ?",
		RunPending, RunQueued, taskID, SourceProduced)
	if err != nil {
		return nil, fmt.Errorf("list queued runs: %w", err)
	}
	seen := make(map[string]bool, len(extras))
	for _, e := range extras {
		var x producedExtra
		if json.Unmarshal([]byte(e), &x) == nil && x.ArgsHash != "" {
			seen[x.ArgsHash] = true
		}
	}
	return seen, nil
}

// ProducedArgs returns the args a producer gave a pending row (its
// extra's "args"), or nil for a row no producer made. A retry of a
// produced run carries none of its own: it runs with its first attempt's.
func ProducedArgs(ctx context.Context, q Querier, r ExecuteTask) (json.RawMessage, error) {
	if r.Source == SourceRetry && r.FirstID.Valid {
		first, err := GetRun(ctx, q, r.FirstID.Int64)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("run %d: %w: its first attempt, run %d, is gone", r.ID, ErrNoProducedArgs, r.FirstID.Int64)
		}
		if err != nil {
			return nil, fmt.Errorf("first attempt %d of run %d: %w", r.FirstID.Int64, r.ID, err)
		}
		r = first
	}
	if r.Source != SourceProduced {
		return nil, nil
	}
	var x producedExtra
	if err := json.Unmarshal([]byte(r.Extra), &x); err != nil || len(x.Args) == 0 {
		return nil, fmt.Errorf("run %d: %w: extra %s has no \"args\"", r.ID, ErrNoProducedArgs, FitText(r.Extra, 200))
	}
	return x.Args, nil
}
