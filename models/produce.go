package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
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

// runQueued is the status of a run waiting in the job queue. Another
// change adds it to the statuses of execute_task.go; until then this
// literal, so a produced row still waiting there is not enqueued twice.
const runQueued = "queued"

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
	// At is when the rows are due (retry_at). Row i is scheduled at At +
	// i steps of the stored time's precision (a microsecond on MySQL, a
	// millisecond on SQLite), a fire of its own under the unique key.
	At   time.Time
	Host string
}

// ProduceReport says what ProduceRuns did.
type ProduceReport struct {
	Produced     int  // rows inserted
	Deduplicated int  // args still queued for the target, or repeated in Args
	Cut          bool // Args had more to enqueue than Max
	// Collided counts rows not inserted because another row of the target
	// held their fire time (a producer run moments before or after).
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
	var rep ProduceReport
	if p.Max <= 0 {
		return rep, fmt.Errorf("produce runs of task %q: max %d, want a positive bound", p.TaskKey, p.Max)
	}
	seen, err := queuedHashes(ctx, q, p.TaskID)
	if err != nil {
		return rep, fmt.Errorf("produce runs of task %q: %w", p.TaskKey, err)
	}
	var claims []Claim
	step := time.Microsecond
	if q.Dialect().sqlite {
		step = time.Millisecond
	}
	at := p.At.UTC().Truncate(step)
	for args, err := range p.Args {
		if err != nil {
			return rep, err
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, args); err != nil {
			return rep, fmt.Errorf("produce runs of task %q: args %d: %w", p.TaskKey, len(claims)+rep.Deduplicated+1, err)
		}
		sum := sha256.Sum256(buf.Bytes())
		hash := hex.EncodeToString(sum[:])
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
			return rep, err
		}
		if len(extra) > extraMax {
			return rep, fmt.Errorf("produce runs of task %q: args %s...: %d bytes, more than execute_task.extra holds (%d)",
				p.TaskKey, FitText(buf.String(), 80), len(extra), extraMax)
		}
		claims = append(claims, Claim{
			TaskID: p.TaskID, TaskKey: p.TaskKey, ScheduledAt: at.Add(time.Duration(len(claims)) * step),
			Attempt: 1, Source: SourceProduced, TraceID: uuid.NewString(), Host: p.Host,
			Status: RunPending, RetryAt: p.At, Extra: string(extra),
		})
	}
	if len(claims) == 0 {
		return rep, nil
	}
	ids, err := ClaimRuns(ctx, q, claims)
	if err != nil {
		return rep, fmt.Errorf("produce runs of task %q: %w", p.TaskKey, err)
	}
	for _, id := range ids {
		if id != 0 {
			rep.Produced++
		} else {
			rep.Collided++
		}
	}
	return rep, nil
}

// queuedHashes returns the args hashes of the task's produced rows still
// waiting to run.
func queuedHashes(ctx context.Context, q Querier, taskID int64) (map[string]bool, error) {
	var extras []string
	err := sqlx.SelectContext(ctx, q, &extras, "SELECT extra FROM execute_task WHERE status IN (?, ?) AND task_id = ? AND source = ?",
		RunPending, runQueued, taskID, SourceProduced)
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
