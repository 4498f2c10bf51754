package kinds

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"taskrunner/models"
	"taskrunner/tasks"
)

// Option changes what New builds.
type Option func(*Kinds)

// WithTaskDB gives the kinds the task database: sql_produce reads its
// target there and enqueues the target's runs. Without it, a sql_produce
// run fails.
func WithTaskDB(db *models.DB) Option { return func(k *Kinds) { k.taskDB = db } }

// produceOptions are the keys of extra the sql_produce kind reads.
type produceOptions struct {
	Datasource string // a name in config sql.datasources
	Query      string // one query, with ? for args
	Target     string // the key of the task whose runs are enqueued
	MaxRows    int    // runs enqueued at most; 0: config sql.produce_max_rows
}

// SQLProduce runs a query (extra keys datasource, query) with args as its
// parameters, and enqueues a pending run of the target task (key target)
// per result row: the row, an object {column: value}, follows the
// target's own args, and the run's extra names this run (producer_run).
// It enqueues at most max_rows runs (by default, and at most, config
// sql.produce_max_rows), and none for a row still queued for the target.
// The retrier of any replica starts them within a sync interval.
func (k *Kinds) SQLProduce(ctx context.Context, run *tasks.Run, args SQLArgs) error {
	o, err := k.produceOptions(run)
	if err != nil {
		return inputError(fmt.Errorf("sql_produce: %w", err))
	}
	ds, toks, err := k.checkStatement(o.Datasource, "query", o.Query)
	if err == nil && !isQuery(toks) {
		err = fmt.Errorf("%w: key \"query\": want a query that returns rows (SELECT, WITH, VALUES ...), got %q", ErrBadExtra, models.FitText(o.Query, 80))
	}
	if err != nil {
		return inputError(fmt.Errorf("sql_produce: %w", err))
	}
	if k.taskDB == nil {
		return inputError(errors.New("sql_produce: no task database to enqueue runs in (kinds.WithTaskDB)"))
	}
	target, err := k.produceTarget(ctx, o.Target)
	if err != nil {
		return fmt.Errorf("sql_produce: %w", err)
	}
	start := time.Now()
	tx, err := k.begin(ctx, o.Datasource, ds)
	if err != nil {
		return fmt.Errorf("sql_produce: %w", err)
	}
	defer tx.Rollback() // it only reads
	var queryErr, rowErr error
	var rows iter.Seq2[json.RawMessage, error] = func(yield func(json.RawMessage, error) bool) {
		_, queryErr = eachRow(ctx, tx, o.Query, args, func(cols []*sql.ColumnType, vals []any) bool {
			var obj json.RawMessage
			if obj, rowErr = rowObject(cols, vals); rowErr != nil {
				return false
			}
			return yield(obj, nil)
		})
	}
	at := run.ScheduledAt
	if at.IsZero() {
		at = start
	}
	rep, err := models.ProduceRuns(ctx, k.taskDB, models.Produce{TaskID: target.ID, TaskKey: target.Key, ProducerRun: run.ExecID,
		ProducerTask: run.TaskKey, Args: rows, Max: o.MaxRows, At: at})
	switch {
	case rowErr != nil:
		return fmt.Errorf("sql_produce: %w", rowErr)
	case queryErr != nil:
		return fmt.Errorf("sql_produce: %w", statementError(o.Datasource, queryErr))
	case err != nil:
		return fmt.Errorf("sql_produce: %w", err)
	}
	run.Printf("target: %s (task %d)\nproduced: %d\ndeduplicated: %d (still queued)\n", target.Key, target.ID, rep.Produced, rep.Deduplicated)
	if rep.Collided > 0 {
		run.Printf("not enqueued: %d (another run of the target held their fire time)\n", rep.Collided)
	}
	if rep.Cut {
		run.Printf("cut off: yes, at max_rows %d; the query had more rows\n", o.MaxRows)
	} else {
		run.Printf("cut off: no (max_rows %d)\n", o.MaxRows)
	}
	run.Printf("in %s\n", time.Since(start).Round(time.Millisecond))
	logger(run).Info("runs produced", "target", target.Key, "produced", rep.Produced, "deduplicated", rep.Deduplicated, "cut", rep.Cut)
	return nil
}

// produceOptions reads and checks the run's extra.
func (k *Kinds) produceOptions(run *tasks.Run) (produceOptions, error) {
	var o produceOptions
	err := decodeExtra(run.Extra, map[string]any{"datasource": &o.Datasource, "query": &o.Query, "target": &o.Target, "max_rows": &o.MaxRows})
	limit := k.cfg.SQL.ProduceMaxRows
	switch {
	case err != nil:
		return o, err
	case o.Datasource == "" || strings.TrimSpace(o.Query) == "" || o.Target == "":
		return o, fmt.Errorf("%w: keys \"datasource\", \"query\" and \"target\" are required", ErrBadExtra)
	case o.Target == run.TaskKey:
		return o, fmt.Errorf("%w %q in key \"target\": a task cannot produce runs of itself", ErrBadTarget, o.Target)
	case o.MaxRows < 0 || o.MaxRows > limit:
		return o, fmt.Errorf("%w: key \"max_rows\": want 1 to %d (config sql.produce_max_rows), got %d", ErrBadExtra, limit, o.MaxRows)
	case o.MaxRows == 0:
		o.MaxRows = limit
	}
	return o, nil
}

// produceTarget returns the scheduled row holding key. A row that is
// missing, not scheduled, or whose args cannot take a produced row's (an
// object) is bad input.
func (k *Kinds) produceTarget(ctx context.Context, key string) (models.Task, error) {
	t, err := models.GetTaskByKey(ctx, k.taskDB, key)
	if errors.Is(err, models.ErrTaskNotFound) {
		return t, inputError(fmt.Errorf("%w %q in key \"target\": no task row has that key", ErrBadTarget, key))
	}
	if err != nil {
		return t, fmt.Errorf("target %q: %w", key, err)
	}
	why := ""
	switch {
	case t.IsValid != 1:
		why = fmt.Sprintf("its row (id %d) is disabled (is_valid = 0)", t.ID)
	case t.Status == models.TaskError:
		why = fmt.Sprintf("its row (id %d) is not scheduled: %s", t.ID, t.SchedError)
	case t.Status == models.TaskDone:
		why = fmt.Sprintf("its row (id %d) is a date task with no fire time left", t.ID)
	default:
		if a, err := tasks.ParseArgs(t.Args); err != nil || !a.IsObject() && len(a.Raw()) > 2 {
			why = fmt.Sprintf("its row (id %d) has args %q; a produced row's args are an object, so the target's must be empty or an object", t.ID, t.Args)
		}
	}
	if why != "" {
		return t, inputError(fmt.Errorf("%w %q in key \"target\": %s", ErrBadTarget, key, why))
	}
	return t, nil
}

// rowObject returns a result row as a JSON object {column: value}:
// numbers as numbers (whatever protocol the driver read them by), text
// and bytes as strings, times as RFC 3339 in UTC, NULL as null.
func rowObject(cols []*sql.ColumnType, vals []any) (json.RawMessage, error) {
	obj := make(map[string]any, len(cols))
	for i, c := range cols {
		if _, dup := obj[c.Name()]; dup {
			return nil, inputError(fmt.Errorf("%w: key \"query\": column %q appears twice; name the columns apart (AS)", ErrBadExtra, c.Name()))
		}
		switch v := vals[i].(type) {
		case []byte:
			if numericColumn[strings.TrimPrefix(c.DatabaseTypeName(), "UNSIGNED ")] {
				obj[c.Name()] = json.Number(v)
			} else {
				obj[c.Name()] = string(v)
			}
		case time.Time:
			obj[c.Name()] = v.UTC().Format(time.RFC3339Nano)
		default:
			obj[c.Name()] = v
		}
	}
	b, err := json.Marshal(obj) // keys sorted: one row, one text, one hash
	if err != nil {
		return nil, fmt.Errorf("row as JSON: %w", err)
	}
	return b, nil
}

// numericColumn are the database type names whose values a driver may
// hand over as text (MySQL's text protocol) but are numbers.
var numericColumn = map[string]bool{
	"TINYINT": true, "SMALLINT": true, "MEDIUMINT": true, "INT": true, "INTEGER": true, "BIGINT": true,
	"DECIMAL": true, "NUMERIC": true, "FLOAT": true, "DOUBLE": true, "REAL": true, "YEAR": true,
}
