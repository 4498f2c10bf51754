package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"taskrunner/api"
	"taskrunner/conf"
	"taskrunner/models"
	"taskrunner/tasks"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/system"
)

// dbBackend reads and edits the tables directly, as migrate does. Edits
// are checked as the engine would check them and audited in the same
// transaction (source cli); the daemons apply them at their next sync.
type dbBackend struct {
	db    *models.DB
	cfg   engine.Config
	reg   *tasks.Registry
	actor string // cli:<os user>
	host  string // the audit's remote: where the edit came from
	now   func() time.Time
	done  func()
}

// openDBBackend connects to the database of the configuration in
// confDir, giving up after 15 s.
func openDBBackend(ctx context.Context, confDir string) (*dbBackend, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	a, err := open(ctx, confDir)
	if err != nil {
		return nil, err
	}
	reg, err := registry(nil, nil, system.Config{})
	if err != nil {
		a.close()
		return nil, err
	}
	return newDBBackend(a.db, a.cfg.Common.Scheduler, reg, a.close), nil
}

// newDBBackend builds a backend on db; done is called by close.
func newDBBackend(db *models.DB, cfg engine.Config, reg *tasks.Registry, done func()) *dbBackend {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	host, _ := os.Hostname()
	return &dbBackend{db: db, cfg: cfg, reg: reg, actor: "cli:" + osUser(), host: host, now: time.Now, done: done}
}

// osUser is the name of the user running the command.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

func (d *dbBackend) close() {
	if d.done != nil {
		d.done()
	}
}

func (d *dbBackend) zone(context.Context) (*time.Location, error) { return d.cfg.Location, nil }

func (d *dbBackend) view(t models.Task) taskView {
	v := taskView{ID: t.ID, Key: t.Key, Desc: t.Desc, Func: t.Func, Trigger: t.Trigger, Spec: t.Spec, Args: t.Args,
		IsValid: t.IsValid, Status: t.Status, Extra: rawJSON(t.Extra), CreateAt: t.CreateAt, UpdateAt: t.UpdateAt,
		AppliedSpec: t.AppliedSpec, SchedError: t.SchedError, LastStatus: t.LastStatus, LastError: string(t.LastError)}
	if t.NextFireAt.Valid {
		v.NextFireAt = &t.NextFireAt.Time
	}
	if t.LastFireAt.Valid {
		v.LastFireAt = &t.LastFireAt.Time
	}
	v.localize(d.cfg.Location)
	return v
}

func (d *dbBackend) listTasks(ctx context.Context, f models.TaskFilter) ([]taskView, error) {
	limit := f.Limit
	var out []taskView
	for limit <= 0 || len(out) < limit {
		f.Limit = 1000
		if limit > 0 {
			f.Limit = min(1000, limit-len(out))
		}
		ts, err := models.ListTasksPage(ctx, d.db, f)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			out = append(out, d.view(t))
		}
		if len(ts) < f.Limit {
			break
		}
		f.AfterID = ts[len(ts)-1].ID
	}
	return out, nil
}

// find returns the row of a key as task does.
func (d *dbBackend) find(ctx context.Context, q models.Querier, key string) (models.Task, error) {
	ts, err := models.ListTasksPage(ctx, q, models.TaskFilter{Key: key, Valid: -1, Limit: 100})
	if err != nil {
		return models.Task{}, err
	}
	if len(ts) == 0 {
		if id, ok := keyAsID(key); ok {
			return models.GetTask(ctx, q, id)
		}
		return models.Task{}, fmt.Errorf("task %q: %w", key, models.ErrTaskNotFound)
	}
	views := make([]taskView, len(ts))
	for i, t := range ts {
		views[i] = taskView{ID: t.ID, Key: t.Key, IsValid: t.IsValid}
	}
	v, err := pickTask(key, views)
	if err != nil {
		return models.Task{}, err
	}
	for _, t := range ts {
		if t.ID == v.ID {
			return t, nil
		}
	}
	return models.Task{}, fmt.Errorf("task %q: %w", key, models.ErrTaskNotFound)
}

func (d *dbBackend) task(ctx context.Context, key string) (taskView, error) {
	t, err := d.find(ctx, d.db, key)
	if err != nil {
		return taskView{}, err
	}
	return d.view(t), nil
}

func (d *dbBackend) taskByID(ctx context.Context, id int64) (taskView, error) {
	t, err := models.GetTask(ctx, d.db, id)
	if err != nil {
		return taskView{}, err
	}
	return d.view(t), nil
}

// check refuses a row the engine would not schedule, or whose key a
// valid row holds already, as the API does.
func (d *dbBackend) check(ctx context.Context, tx *models.Tx, t models.Task) error {
	errs := engine.CheckTask(d.cfg, d.reg, t, d.now())
	if t.IsValid == 1 {
		other, err := models.ValidTaskWithKey(ctx, tx, t.Key, t.ID)
		if err != nil {
			return err
		}
		if other != 0 {
			errs = append(errs, engine.FieldError{Field: "task_key", Message: fmt.Sprintf("%q is already used by task row %d", t.Key, other)})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Field + ": " + e.Message
	}
	return fmt.Errorf("task %q refused, nothing written: %s", t.Key, strings.Join(msgs, "; "))
}

// write runs change in a transaction with its audit row and returns the
// row as it now is.
func (d *dbBackend) write(ctx context.Context, change func(tx *models.Tx) (action string, before, after *models.Task, err error)) (taskView, error) {
	tx, err := d.db.Begin(ctx)
	if err != nil {
		return taskView{}, err
	}
	defer func() { _ = tx.Rollback() }()
	action, before, after, err := change(tx)
	if err != nil {
		return taskView{}, err
	}
	if action == "" { // nothing to change
		return d.view(*before), nil
	}
	a := models.Audit{At: d.now().UTC(), Actor: d.actor, Source: models.AuditSourceCLI, Remote: d.host, Action: action}
	if before != nil {
		a.TaskID, a.TaskKey, a.Before = before.ID, before.Key, models.NullString(definition(*before))
	}
	if after != nil {
		a.TaskID, a.TaskKey, a.After = after.ID, after.Key, models.NullString(definition(*after))
	}
	if _, err := models.InsertAudit(ctx, tx, a); err != nil {
		return taskView{}, err
	}
	if err := tx.Commit(); err != nil {
		if models.IsConflict(err) {
			return taskView{}, errors.New("the task was changed by someone else at the same moment; read it again and retry")
		}
		return taskView{}, err
	}
	if after == nil {
		return d.view(*before), nil
	}
	t, err := models.GetTask(ctx, d.db, a.TaskID)
	if err != nil {
		return taskView{}, err
	}
	return d.view(t), nil
}

// definition is what the audit keeps of a row, as the API writes it.
func definition(t models.Task) string {
	b, _ := json.Marshal(map[string]any{
		"task_key": t.Key, "desc": t.Desc, "execute_func": t.Func, "trigger": t.Trigger, "spec": t.Spec,
		"args": t.Args, "is_valid": t.IsValid, "extra": rawJSON(t.Extra),
	})
	return string(b)
}

// apply merges an edit into t.
func (e taskEdit) apply(t *models.Task) {
	for _, f := range []struct {
		src *string
		dst *string
	}{{e.Key, &t.Key}, {e.Func, &t.Func}, {e.Trigger, &t.Trigger}, {e.Spec, &t.Spec}} {
		if f.src != nil {
			*f.dst = strings.TrimSpace(*f.src) // as the API does
		}
	}
	if e.Desc != nil {
		t.Desc = *e.Desc
	}
	if e.Args != nil {
		t.Args = *e.Args
	}
	if e.IsValid != nil {
		t.IsValid = *e.IsValid
	}
	if e.Extra != nil {
		t.Extra = string(e.Extra)
	}
	if t.Extra == "" {
		t.Extra = "{}"
	}
}

func (d *dbBackend) createTask(ctx context.Context, in taskEdit) (taskView, error) {
	t := models.Task{IsValid: 1}
	in.apply(&t)
	return d.write(ctx, func(tx *models.Tx) (string, *models.Task, *models.Task, error) {
		if err := d.check(ctx, tx, t); err != nil {
			return "", nil, nil, err
		}
		t.Status = models.TaskReady
		if t.IsValid != 1 {
			t.Status = models.TaskDisabled
		}
		id, err := models.InsertTask(ctx, tx, t)
		if err != nil {
			return "", nil, nil, err
		}
		t.ID = id
		return models.AuditCreate, nil, &t, nil
	})
}

// change edits the row of key in a transaction: edit returns the action
// and the new row, or "" when nothing changes.
func (d *dbBackend) change(ctx context.Context, key string, edit func(old models.Task) (string, models.Task)) (taskView, error) {
	return d.write(ctx, func(tx *models.Tx) (string, *models.Task, *models.Task, error) {
		found, err := d.find(ctx, tx, key)
		if err != nil {
			return "", nil, nil, err
		}
		old, err := models.GetTaskForUpdate(ctx, tx, found.ID)
		if err != nil {
			return "", nil, nil, err
		}
		action, t := edit(old)
		if action == "" || definition(t) == definition(old) {
			return "", &old, nil, nil
		}
		if action == models.AuditDelete {
			if err := models.DeleteTask(ctx, tx, old.ID); err != nil {
				return "", nil, nil, err
			}
			return action, &old, nil, nil
		}
		if action != models.AuditDisable {
			if err := d.check(ctx, tx, t); err != nil {
				return "", nil, nil, err
			}
		}
		if err := models.UpdateTaskDefinition(ctx, tx, t); err != nil {
			return "", nil, nil, err
		}
		return action, &old, &t, nil
	})
}

func (d *dbBackend) editTask(ctx context.Context, key string, in taskEdit) (taskView, error) {
	return d.change(ctx, key, func(old models.Task) (string, models.Task) {
		t := old
		in.apply(&t)
		return models.AuditUpdate, t
	})
}

func (d *dbBackend) setEnabled(ctx context.Context, key string, on bool) (taskView, error) {
	return d.change(ctx, key, func(old models.Task) (string, models.Task) {
		t := old
		if on {
			t.IsValid = 1
			return models.AuditEnable, t
		}
		t.IsValid = 0
		return models.AuditDisable, t
	})
}

func (d *dbBackend) deleteTask(ctx context.Context, key string) (taskView, error) {
	return d.change(ctx, key, func(old models.Task) (string, models.Task) {
		return models.AuditDelete, models.Task{}
	})
}

func (d *dbBackend) listRuns(ctx context.Context, f models.RunFilter) ([]runView, error) {
	rs, err := models.ListRunsPage(ctx, d.db, f)
	if err != nil {
		return nil, err
	}
	out := make([]runView, len(rs))
	for i, r := range rs {
		out[i] = runView{Run: api.ShowRun(r)}
	}
	return out, nil
}

func nullTime(valid bool, t time.Time) *time.Time {
	if !valid {
		return nil
	}
	return &t
}

func (d *dbBackend) listReplicas(ctx context.Context, kind string, deadWithin time.Duration) ([]replicaView, error) {
	rs, err := models.ListReplicas(ctx, d.db, kind, d.now().Add(-deadWithin))
	if err != nil {
		return nil, err
	}
	out := make([]replicaView, len(rs))
	for i, r := range rs {
		out[i] = replicaView{Replica: api.ShowReplica(r)}
		out[i].localize(d.cfg.Location)
	}
	return out, nil
}

func (d *dbBackend) listAudit(ctx context.Context, taskID int64, limit int) ([]auditView, error) {
	as, err := models.ListAudit(ctx, d.db, models.AuditFilter{TaskID: taskID, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]auditView, len(as))
	for i, a := range as {
		out[i] = auditView{ID: a.ID, At: a.At, Actor: a.Actor, Source: a.Source, Remote: a.Remote, Action: a.Action,
			TaskID: a.TaskID, TaskKey: a.TaskKey, Before: json.RawMessage("null"), After: json.RawMessage("null")}
		if a.Before != "" {
			out[i].Before = rawJSON(string(a.Before))
		}
		if a.After != "" {
			out[i].After = rawJSON(string(a.After))
		}
		out[i].localize(d.cfg.Location)
	}
	return out, nil
}

// configFor is the engine configuration of confDir, for checks made
// without a database (validate through --server); nil when it cannot
// be read.
func configFor(confDir string) *conf.Config {
	cfg, err := conf.Load(confDir, appEnv())
	if err != nil {
		return nil
	}
	return cfg
}
