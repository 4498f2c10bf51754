package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"taskrunner/api"
	"taskrunner/models"
)

// connFlags say where a verb goes: a running daemon's API (--server or
// TASKRUNNER_SERVER, with --token or TASKRUNNER_TOKEN), else the
// configured database; and how it prints (--json).
type connFlags struct {
	server, token string
	json          bool
}

// Variables a verb reads when its flag is not given.
const (
	envServer = "TASKRUNNER_SERVER"
	envToken  = "TASKRUNNER_TOKEN"
)

// addConnFlags adds --server, --token and --json to cmd and, as
// persistent flags, to its subcommands.
func addConnFlags(cmd *cobra.Command, cf *connFlags) {
	f := cmd.PersistentFlags()
	f.StringVar(&cf.server, "server", "", "a running daemon's API, e.g. http://127.0.0.1:8080 (default $"+envServer+"); without it, the database of --conf")
	f.StringVar(&cf.token, "token", "", "bearer token for --server (default $"+envToken+"; the variable keeps it out of ps)")
	f.BoolVar(&cf.json, "json", false, "print JSON for scripts instead of a table")
}

// serverURL is --server, else TASKRUNNER_SERVER ("" for none).
func (cf *connFlags) serverURL() string {
	if cf.server != "" {
		return cf.server
	}
	return os.Getenv(envServer)
}

// bearer is --token, else TASKRUNNER_TOKEN.
func (cf *connFlags) bearer() string {
	if cf.token != "" {
		return cf.token
	}
	return os.Getenv(envToken)
}

// backend is what the verbs read and change, the same through the API or
// straight on the database.
type backend interface {
	// listTasks returns the rows f selects, in id order.
	listTasks(ctx context.Context, f models.TaskFilter) ([]taskView, error)
	// task returns the row of a key (the valid one, else the lowest id),
	// or of an id given as a number when no row has that key.
	task(ctx context.Context, key string) (taskView, error)
	// taskByID returns a row, or models.ErrTaskNotFound.
	taskByID(ctx context.Context, id int64) (taskView, error)
	createTask(ctx context.Context, in taskEdit) (taskView, error)
	editTask(ctx context.Context, key string, in taskEdit) (taskView, error)
	setEnabled(ctx context.Context, key string, on bool) (taskView, error)
	deleteTask(ctx context.Context, key string) (taskView, error)
	listRuns(ctx context.Context, f models.RunFilter) ([]runView, error)
	listReplicas(ctx context.Context, kind string, deadWithin time.Duration) ([]replicaView, error)
	listAudit(ctx context.Context, taskID int64, limit int) ([]auditView, error)
	// zone is the zone of tasks without their own ([app] timezone).
	zone(ctx context.Context) (*time.Location, error)
	close()
}

// connect opens the backend cf names: the API when a server is set, else
// the database of the configuration in confDir.
func connect(ctx context.Context, g *globals, cf *connFlags) (backend, error) {
	if s := cf.serverURL(); s != "" {
		h, err := newHTTPBackend(s, cf.bearer())
		if err != nil {
			return nil, err
		}
		return h, nil
	}
	d, err := openDBBackend(ctx, g.confDir)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// needServer refuses a verb that needs a running engine when no server
// is given.
func needServer(cf *connFlags, verb string) (*httpBackend, error) {
	s := cf.serverURL()
	if s == "" {
		return nil, usagef("%s needs a running daemon: give its API with --server URL (or $%s) and a token with --token (or $%s)",
			verb, envServer, envToken)
	}
	return newHTTPBackend(s, cf.bearer())
}

// taskView is a task row as the verbs show it: the API's shape, times in
// the task's zone.
type taskView struct {
	ID          int64           `json:"id"`
	Key         string          `json:"task_key"`
	Desc        string          `json:"desc"`
	Func        string          `json:"execute_func"`
	Trigger     string          `json:"trigger"`
	Spec        string          `json:"spec"`
	Args        string          `json:"args"`
	IsValid     int             `json:"is_valid"`
	Status      string          `json:"status"`
	Extra       json.RawMessage `json:"extra"`
	Timezone    string          `json:"timezone"` // the zone its spec and times are in
	CreateAt    time.Time       `json:"create_at"`
	UpdateAt    time.Time       `json:"update_at"`
	AppliedSpec string          `json:"applied_spec"`
	SchedError  string          `json:"sched_error"`
	NextFireAt  *time.Time      `json:"next_fire_at"`
	LastFireAt  *time.Time      `json:"last_fire_at"`
	LastStatus  string          `json:"last_status"`
	LastError   string          `json:"last_error"`
	ETag        string          `json:"-"` // the API's version, for If-Match

	loc *time.Location
}

// localize sets the task's zone (extra's timezone, else def) and puts its
// times in it.
func (t *taskView) localize(def *time.Location) {
	t.loc = extraZone(string(t.Extra), def)
	t.Timezone = t.loc.String()
	t.CreateAt, t.UpdateAt = t.CreateAt.In(t.loc), t.UpdateAt.In(t.loc)
	for _, p := range []**time.Time{&t.NextFireAt, &t.LastFireAt} {
		if *p != nil {
			v := (*p).In(t.loc)
			*p = &v
		}
	}
}

// row is the task as the engine reads it, for engine.CheckTask.
func (t taskView) row() models.Task {
	return models.Task{ID: t.ID, Key: t.Key, Desc: t.Desc, Func: t.Func, Trigger: t.Trigger, Spec: t.Spec, Args: t.Args,
		IsValid: t.IsValid, Status: t.Status, Extra: extraText(t.Extra), CreateAt: t.CreateAt, UpdateAt: t.UpdateAt}
}

// extraText is the extra column as stored: a JSON object, or the text a
// bad one held.
func extraText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// extraZone is the zone an extra column names in "timezone", else def.
// A bad extra is for validate to report; its times are shown in def.
func extraZone(extra string, def *time.Location) *time.Location {
	var o struct {
		Timezone string `json:"timezone"`
	}
	if json.Unmarshal([]byte(extra), &o) == nil && o.Timezone != "" {
		if loc, err := time.LoadLocation(o.Timezone); err == nil {
			return loc
		}
	}
	return def
}

// rawJSON is s when it is JSON, else s as a JSON string.
func rawJSON(s string) json.RawMessage {
	if strings.TrimSpace(s) != "" && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

// pickTask chooses among the rows of one key: the valid one (the one the
// engine runs), else the lowest id.
func pickTask(key string, ts []taskView) (taskView, error) {
	for _, t := range ts {
		if t.Key == key && t.IsValid == 1 {
			return t, nil
		}
	}
	for _, t := range ts {
		if t.Key == key {
			return t, nil
		}
	}
	return taskView{}, fmt.Errorf("task %q: %w", key, models.ErrTaskNotFound)
}

// keyAsID reads a key that no row holds as a row id.
func keyAsID(key string) (int64, bool) {
	id, err := strconv.ParseInt(key, 10, 64)
	return id, err == nil && id > 0
}

// taskEdit is a create or an edit: the columns given (nil keeps a
// column as it is, or at its default for a create). It is the API's
// request body.
type taskEdit struct {
	Key     *string         `json:"task_key,omitempty"`
	Desc    *string         `json:"desc,omitempty"`
	Func    *string         `json:"execute_func,omitempty"`
	Trigger *string         `json:"trigger,omitempty"`
	Spec    *string         `json:"spec,omitempty"`
	Args    *string         `json:"args,omitempty"`
	IsValid *int            `json:"is_valid,omitempty"`
	Extra   json.RawMessage `json:"extra,omitempty"`
}

// empty reports whether the edit changes nothing.
func (e taskEdit) empty() bool {
	return e.Key == nil && e.Desc == nil && e.Func == nil && e.Trigger == nil && e.Spec == nil && e.Args == nil &&
		e.IsValid == nil && e.Extra == nil
}

// runView is a run as the verbs show it: the API's shape, times in its
// task's zone.
type runView struct {
	api.Run
	loc *time.Location
}

func (r *runView) localize(loc *time.Location) {
	r.loc = loc
	for _, p := range []**time.Time{&r.ScheduledAt, &r.StartedAt, &r.FinishedAt, &r.RetryAt} {
		if *p != nil {
			v := (*p).In(loc)
			*p = &v
		}
	}
}

// replicaView is a row of replica as the verbs show it: the API's shape,
// and whether it is live.
type replicaView struct {
	api.Replica
	State string `json:"state"` // live or dead
}

func (r *replicaView) localize(loc *time.Location) {
	r.StartedAt, r.HeartbeatAt = r.StartedAt.In(loc), r.HeartbeatAt.In(loc)
	r.State = "live"
	if r.DeadAt != nil {
		v := r.DeadAt.In(loc)
		r.DeadAt, r.State = &v, "dead"
	}
}

// auditView is a row of audit: one change of a task definition.
type auditView struct {
	ID      int64           `json:"id"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Source  string          `json:"source"`
	Remote  string          `json:"remote"`
	Action  string          `json:"action"`
	TaskID  int64           `json:"task_id"`
	TaskKey string          `json:"task_key"`
	Before  json.RawMessage `json:"before"`
	After   json.RawMessage `json:"after"`
}

// localize puts the time in the zone of the task as it was after the
// change (before it, for a delete).
func (a *auditView) localize(def *time.Location) {
	def = extraZone(definitionExtra(a.Before), def)
	a.At = a.At.In(extraZone(definitionExtra(a.After), def))
}

// definitionExtra is the extra of an audited definition.
func definitionExtra(def json.RawMessage) string {
	var d struct {
		Extra json.RawMessage `json:"extra"`
	}
	if json.Unmarshal(def, &d) != nil {
		return ""
	}
	return extraText(d.Extra)
}

// runZones returns the zone of each run's task.
func runZones(ctx context.Context, b backend, runs []runView) error {
	def, err := b.zone(ctx)
	if err != nil {
		return err
	}
	zones := map[int64]*time.Location{}
	for i := range runs {
		loc, ok := zones[runs[i].TaskID]
		if !ok {
			loc = def
			t, err := b.taskByID(ctx, runs[i].TaskID)
			switch {
			case err == nil:
				loc = t.loc
			case !isNotFound(err):
				return err
			}
			zones[runs[i].TaskID] = loc
		}
		runs[i].localize(loc)
	}
	return nil
}

// parseWhen reads a time: RFC 3339, or "YYYY-MM-DD[ HH:MM[:SS]]" in loc.
func parseWhen(flag, s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("--%s: want a time such as 2026-12-01T09:00:00+08:00 or \"2026-12-01 09:00\" (in %s), got %q", flag, loc, s)
}
