package models

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Audit actions: what a change did to a task definition.
const (
	AuditCreate  = "create"
	AuditUpdate  = "update"
	AuditEnable  = "enable"
	AuditDisable = "disable"
	AuditDelete  = "delete"
)

// Audit sources: through which surface the change came.
const (
	AuditSourceAPI = "api"
	AuditSourceCLI = "cli"
	AuditSourceSQL = "sql" // a raw edit the sync noticed
)

// Audit is a row of audit: one change of a task definition, who made it,
// when, from where, and the definition before and after (JSON objects;
// "" before a create and after a delete).
type Audit struct {
	ID      int64      `db:"id"`
	At      time.Time  `db:"at"`
	Actor   string     `db:"actor"`
	Source  string     `db:"source"`
	Remote  string     `db:"remote"`
	Action  string     `db:"action"`
	TaskID  int64      `db:"task_id"`
	TaskKey string     `db:"task_key"`
	Before  NullString `db:"before_json"`
	After   NullString `db:"after_json"`
}

const auditColumns = "id, at, actor, source, remote, action, task_id, task_key, before_json, after_json"

// InsertAudit records a change and returns its id. Write it in the
// transaction of the change, so that neither is kept without the other.
func InsertAudit(ctx context.Context, q Querier, a Audit) (int64, error) {
	null := func(s NullString) any {
		if s == "" {
			return nil
		}
		return string(s)
	}
	res, err := q.ExecContext(ctx, "INSERT INTO audit (at, actor, source, remote, action, task_id, task_key, before_json, after_json) "+
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		q.Dialect().time(a.At), a.Actor, a.Source, truncate(a.Remote, 64), a.Action, a.TaskID, a.TaskKey, null(a.Before), null(a.After))
	if err != nil {
		return 0, fmt.Errorf("audit %s of task %d: %w", a.Action, a.TaskID, err)
	}
	return res.LastInsertId()
}

// AuditFilter selects audit rows: of one task (0 for all), older than
// BeforeID (0 for the newest), at most Limit.
type AuditFilter struct {
	TaskID   int64
	BeforeID int64
	Limit    int
}

// ListAudit returns audit rows, newest first.
func ListAudit(ctx context.Context, q Querier, f AuditFilter) ([]Audit, error) {
	query := "SELECT " + auditColumns + " FROM audit WHERE 1 = 1"
	var args []any
	if f.TaskID != 0 {
		query += " AND task_id = ?"
		args = append(args, f.TaskID)
	}
	if f.BeforeID != 0 {
		query += " AND id < ?"
		args = append(args, f.BeforeID)
	}
	query += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit)
	var out []Audit
	if err := sqlx.SelectContext(ctx, q, &out, query, args...); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

// TaskDefinition is what the audit keeps of a row: the user's columns,
// as a JSON object (extra as JSON when it is, else as a string).
func TaskDefinition(t Task) string {
	extra := json.RawMessage(t.Extra)
	if strings.TrimSpace(t.Extra) == "" || !json.Valid(extra) {
		extra, _ = json.Marshal(t.Extra)
	}
	b, _ := json.Marshal(map[string]any{
		"task_key": t.Key, "desc": t.Desc, "execute_func": t.Func, "trigger": t.Trigger, "spec": t.Spec,
		"args": t.Args, "is_valid": t.IsValid, "extra": extra,
	})
	return string(b)
}

// InsertAuditsOnce records changes, leaving out each one the task's
// latest audit row already says (the same action and definition after):
// a change made through the API or the CLI was audited there, and the
// replicas noticing one raw edit record it once. The tasks' rows that
// still exist are locked meanwhile (in id order), so two replicas check
// one after the other. Four statements for up to 500 changes. It returns
// how many rows it wrote.
func InsertAuditsOnce(ctx context.Context, db *DB, audits []Audit) (int, error) {
	slices.SortFunc(audits, func(a, b Audit) int { return cmp.Compare(a.TaskID, b.TaskID) })
	written := 0
	for _, part := range chunks(audits, inList) {
		n, err := insertAuditsOnce(ctx, db, part)
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

func insertAuditsOnce(ctx context.Context, db *DB, audits []Audit) (int, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	ids := make([]int64, len(audits))
	for i, a := range audits {
		ids[i] = a.TaskID
	}
	lock := " ORDER BY id FOR UPDATE"
	if tx.Dialect().sqlite {
		lock = "" // one writer at a time
	}
	var locked []int64
	if err := selectIn(ctx, tx, &locked, "SELECT id FROM task WHERE id IN (?)"+lock, ids); err != nil {
		return 0, fmt.Errorf("audit: lock tasks: %w", err)
	}
	var last []Audit
	if err := selectIn(ctx, tx, &last, "SELECT "+auditColumns+" FROM audit WHERE id IN "+
		"(SELECT MAX(id) FROM audit WHERE task_id IN (?) GROUP BY task_id)", ids); err != nil {
		return 0, fmt.Errorf("audit: read the latest: %w", err)
	}
	latest := make(map[int64]Audit, len(last))
	for _, a := range last {
		latest[a.TaskID] = a
	}
	b := newValuesBuilder(tx, "INSERT INTO audit (at, actor, source, remote, action, task_id, task_key, before_json, after_json) VALUES ", len(audits), 400)
	for _, a := range audits {
		if l, ok := latest[a.TaskID]; ok && l.Action == a.Action && l.After == a.After {
			continue
		}
		latest[a.TaskID] = a
		b.row()
		b.time(a.At)
		b.word(a.Actor)
		b.word(a.Source)
		b.word(truncate(a.Remote, 64))
		b.word(a.Action)
		b.int(a.TaskID)
		b.word(a.TaskKey)
		b.nullText(string(a.Before))
		b.nullText(string(a.After))
	}
	if b.rows == 0 {
		return 0, nil
	}
	b.endRows()
	if err := b.exec(ctx, tx); err != nil {
		return 0, fmt.Errorf("audit %d changes: %w", b.rows, err)
	}
	return b.rows, tx.Commit()
}
