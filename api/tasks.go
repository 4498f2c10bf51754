package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"taskrunner/models"
	"taskrunner/tasks/engine"
)

// taskOut is a task as the API shows it: its columns, and its ETag.
type taskOut struct {
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
	CreateAt    time.Time       `json:"create_at"`
	UpdateAt    time.Time       `json:"update_at"`
	AppliedSpec string          `json:"applied_spec"`
	SchedError  string          `json:"sched_error"`
	NextFireAt  *time.Time      `json:"next_fire_at"`
	LastFireAt  *time.Time      `json:"last_fire_at"`
	LastStatus  string          `json:"last_status"`
	LastError   string          `json:"last_error"`
	ETag        string          `json:"etag"`
}

func nullTime(v bool, t time.Time) *time.Time {
	if !v {
		return nil
	}
	t = t.UTC()
	return &t
}

// rawJSON is s when it is JSON, else s as a JSON string.
func rawJSON(s string) json.RawMessage {
	if json.Valid([]byte(s)) && strings.TrimSpace(s) != "" {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

func showTask(t models.Task) taskOut {
	return taskOut{
		ID: t.ID, Key: t.Key, Desc: t.Desc, Func: t.Func, Trigger: t.Trigger, Spec: t.Spec, Args: t.Args, IsValid: t.IsValid,
		Status: t.Status, Extra: rawJSON(t.Extra), CreateAt: t.CreateAt.UTC(), UpdateAt: t.UpdateAt.UTC(),
		AppliedSpec: t.AppliedSpec, SchedError: t.SchedError,
		NextFireAt: nullTime(t.NextFireAt.Valid, t.NextFireAt.Time), LastFireAt: nullTime(t.LastFireAt.Valid, t.LastFireAt.Time),
		LastStatus: t.LastStatus, LastError: string(t.LastError), ETag: etag(t),
	}
}

// etag is a row's version: a hash of its user columns and update_at. Any
// edit of the definition changes it (update_at alone has one-second
// resolution on MySQL); the engine's own writes do not.
func etag(t models.Task) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %q %q %q %d %q %s", t.Key, t.Desc, t.Func, t.Trigger, t.Spec, t.Args, t.IsValid, t.Extra,
		t.UpdateAt.UTC().Format(time.RFC3339Nano))
	return `"` + hex.EncodeToString(h.Sum(nil))[:32] + `"`
}

// definition is what the audit keeps of a row: the user's columns.
func definition(t models.Task) string { return models.TaskDefinition(t) }

// taskIn is a create or update body; an absent field keeps its value
// (an update) or its default (a create).
type taskIn struct {
	Key     *string         `json:"task_key"`
	Desc    *string         `json:"desc"`
	Func    *string         `json:"execute_func"`
	Trigger *string         `json:"trigger"`
	Spec    *string         `json:"spec"`
	Args    json.RawMessage `json:"args"`
	IsValid *int            `json:"is_valid"`
	Extra   json.RawMessage `json:"extra"`
}

// decodeBody reads a JSON body into v; an unknown field, a wrong type or
// bad JSON is a 400 naming the field.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return errorf(http.StatusBadRequest, "read body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errorf(http.StatusBadRequest, "body: want a JSON object, got nothing")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return invalid([]engine.FieldError{{Field: te.Field, Message: fmt.Sprintf("want a %s, got a JSON %s", te.Type, te.Value)}})
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return invalid([]engine.FieldError{{Field: f, Message: "unknown field"}})
		}
		return errorf(http.StatusBadRequest, "body: not valid JSON: %v", err)
	}
	return nil
}

// apply merges the body into t and returns what is wrong with the body's
// form (the row's meaning is checked by the engine afterwards).
func (in taskIn) apply(t *models.Task, create bool) []engine.FieldError {
	var errs []engine.FieldError
	str := func(field string, src *string, dst *string, required bool) {
		switch {
		case src != nil:
			*dst = strings.TrimSpace(*src)
			if field == "desc" {
				*dst = *src
			}
		case required && create:
			errs = append(errs, engine.FieldError{Field: field, Message: "is required"})
			return
		}
		if required && *dst == "" && src != nil {
			errs = append(errs, engine.FieldError{Field: field, Message: "must not be empty"})
		}
		if len(*dst) > 255 {
			errs = append(errs, engine.FieldError{Field: field, Message: fmt.Sprintf("at most 255 bytes, got %d", len(*dst))})
		}
	}
	str("task_key", in.Key, &t.Key, true)
	str("desc", in.Desc, &t.Desc, false)
	str("execute_func", in.Func, &t.Func, true)
	str("trigger", in.Trigger, &t.Trigger, true)
	str("spec", in.Spec, &t.Spec, true)
	if in.IsValid != nil {
		if *in.IsValid != 0 && *in.IsValid != 1 {
			errs = append(errs, engine.FieldError{Field: "is_valid", Message: fmt.Sprintf("want 0 or 1, got %d", *in.IsValid)})
		}
		t.IsValid = *in.IsValid
	} else if create {
		t.IsValid = 1
	}
	if in.Args != nil {
		// The column's own form as a string ("1,2,3"), or JSON values.
		var s string
		if err := json.Unmarshal(in.Args, &s); err == nil {
			t.Args = s
		} else if string(in.Args) == "null" {
			t.Args = ""
		} else {
			var buf bytes.Buffer
			_ = json.Compact(&buf, in.Args)
			t.Args = buf.String()
		}
		if len(t.Args) > 255 {
			errs = append(errs, engine.FieldError{Field: "args", Message: fmt.Sprintf("at most 255 bytes, got %d", len(t.Args))})
		}
	}
	if in.Extra != nil {
		var obj map[string]json.RawMessage
		switch {
		case string(in.Extra) == "null":
			t.Extra = "{}"
		case json.Unmarshal(in.Extra, &obj) != nil:
			errs = append(errs, engine.FieldError{Field: "extra", Message: "want a JSON object, got " + truncate(string(in.Extra), 40)})
		default:
			var buf bytes.Buffer
			_ = json.Compact(&buf, in.Extra)
			t.Extra = buf.String()
		}
	}
	if t.Extra == "" {
		t.Extra = "{}"
	}
	return errs
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// pathID reads {id}.
func pathID(r *http.Request) (int64, error) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf(http.StatusBadRequest, "path id: want a positive integer, got %q", s)
	}
	return id, nil
}

func notFound(err error, id int64) error {
	if errors.Is(err, models.ErrTaskNotFound) {
		return errorf(http.StatusNotFound, "task %d not found", id)
	}
	return err
}

// limitParam reads ?limit (default 100, at most 1000).
func limitParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		return 0, errorf(http.StatusBadRequest, "query limit: want 1 to 1000, got %q", s)
	}
	return n, nil
}

// page is a list with the cursor of the next page ("" at the end).
type page struct {
	Items      any    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (s *Server) listTasks(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := limitParam(r)
	if err != nil {
		return nil, err
	}
	f := models.TaskFilter{Key: q.Get("key"), Func: q.Get("function"), Trigger: q.Get("trigger"), Status: q.Get("status"), Valid: -1, Limit: limit}
	switch v := q.Get("enabled"); v {
	case "":
	case "true", "1":
		f.Valid = 1
	case "false", "0":
		f.Valid = 0
	default:
		return nil, errorf(http.StatusBadRequest, "query enabled: want true or false, got %q", v)
	}
	if c := q.Get("cursor"); c != "" {
		if f.AfterID, err = strconv.ParseInt(c, 10, 64); err != nil || f.AfterID < 0 {
			return nil, errorf(http.StatusBadRequest, "query cursor: want the next_cursor of the previous page, got %q", c)
		}
	}
	ts, err := models.ListTasksPage(r.Context(), s.db, f)
	if err != nil {
		return nil, err
	}
	out := make([]taskOut, len(ts))
	for i, t := range ts {
		out[i] = showTask(t)
	}
	p := page{Items: out}
	if len(ts) == limit {
		p.NextCursor = strconv.FormatInt(ts[len(ts)-1].ID, 10)
	}
	return p, nil
}

func (s *Server) getTask(r *http.Request) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	t, err := models.GetTask(r.Context(), s.db, id)
	if err != nil {
		return nil, notFound(err, id)
	}
	return withETag(showTask(t)), nil
}

func withETag(t taskOut) result {
	return result{status: http.StatusOK, data: t, header: map[string]string{"ETag": t.ETag}}
}

// check refuses a row the engine would not schedule, or whose key a
// valid row holds already (read in tx).
func (s *Server) check(ctx context.Context, tx *models.Tx, t models.Task) error {
	if errs := s.eng.CheckTask(t, s.now()); len(errs) > 0 {
		return invalid(errs)
	}
	if t.IsValid != 1 {
		return nil
	}
	other, err := models.ValidTaskWithKey(ctx, tx, t.Key, t.ID)
	if err != nil {
		return err
	}
	if other != 0 {
		return invalid([]engine.FieldError{{Field: "task_key", Message: fmt.Sprintf("%q is already used by task row %d", t.Key, other)}})
	}
	return nil
}

// write runs change in a transaction with its audit row, commits, applies
// the row through Reload, and returns it as it now is.
func (s *Server) write(r *http.Request, id int64, change func(tx *models.Tx) (action string, before, after *models.Task, err error)) (any, error) {
	ctx := r.Context()
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	action, before, after, err := change(tx)
	if err != nil {
		if models.IsConflict(err) {
			return nil, errorf(http.StatusConflict, "the task was changed by someone else at the same moment; read it again and retry")
		}
		return nil, err
	}
	if action == "" { // nothing to change
		return withETag(showTask(*before)), nil
	}
	if after != nil && id == 0 {
		id = after.ID
	}
	p := who(r)
	a := models.Audit{At: s.now().UTC(), Actor: p.name, Source: models.AuditSourceAPI, Remote: p.remote, Action: action, TaskID: id}
	if before != nil {
		a.Before, a.TaskKey = models.NullString(definition(*before)), before.Key
	}
	if after != nil {
		a.After, a.TaskKey = models.NullString(definition(*after)), after.Key
	}
	if _, err := models.InsertAudit(ctx, tx, a); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		if models.IsConflict(err) {
			return nil, errorf(http.StatusConflict, "the task was changed by someone else at the same moment; read it again and retry")
		}
		return nil, err
	}
	msg := ""
	if err := s.eng.Reload(ctx, id); err != nil {
		s.log.Warn("written, not applied yet: the next sync applies it", "task_id", id, "error", err)
		msg = "saved; not applied yet (" + err.Error() + "): the next sync applies it"
	}
	if s.edited != nil {
		s.edited(ctx, id)
	}
	if action == models.AuditDelete {
		return result{status: http.StatusOK, data: map[string]any{"id": id, "deleted": true}, msg: msg}, nil
	}
	t, err := models.GetTask(ctx, s.db, id)
	if err != nil {
		return nil, notFound(err, id)
	}
	out := showTask(t)
	status := http.StatusOK
	if action == models.AuditCreate {
		status = http.StatusCreated
	}
	return result{status: status, data: out, msg: msg, header: map[string]string{"ETag": out.ETag}}, nil
}

func (s *Server) createTask(r *http.Request) (any, error) {
	var in taskIn
	if err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	var t models.Task
	if errs := in.apply(&t, true); len(errs) > 0 {
		return nil, invalid(errs)
	}
	return s.write(r, 0, func(tx *models.Tx) (string, *models.Task, *models.Task, error) {
		if err := s.check(r.Context(), tx, t); err != nil {
			return "", nil, nil, err
		}
		t.Status = models.TaskReady
		if t.IsValid != 1 {
			t.Status = models.TaskDisabled
		}
		id, err := models.InsertTask(r.Context(), tx, t)
		if err != nil {
			return "", nil, nil, err
		}
		t.ID = id
		return models.AuditCreate, nil, &t, nil
	})
}

// ifMatch checks the request's If-Match against the row's ETag: 412 on a
// mismatch; 428 when required and missing.
func ifMatch(r *http.Request, t models.Task, required bool) error {
	h := r.Header.Get("If-Match")
	if h == "" {
		if required {
			return errorf(http.StatusPreconditionRequired, "header If-Match: required; send the ETag of the task as you read it (%s)", "GET /api/v1/tasks/{id}")
		}
		return nil
	}
	cur := etag(t)
	for _, v := range strings.Split(h, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == cur || `"`+v+`"` == cur || v == "*" {
			return nil
		}
	}
	return errorf(http.StatusPreconditionFailed, "header If-Match: task %d was changed since you read it (its ETag is now %s); read it again", t.ID, cur)
}

func (s *Server) updateTask(r *http.Request) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	var in taskIn
	if err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	return s.write(r, id, func(tx *models.Tx) (string, *models.Task, *models.Task, error) {
		old, err := models.GetTaskForUpdate(r.Context(), tx, id)
		if err != nil {
			return "", nil, nil, notFound(err, id)
		}
		if err := ifMatch(r, old, true); err != nil {
			return "", nil, nil, err
		}
		t := old
		if errs := in.apply(&t, false); len(errs) > 0 {
			return "", nil, nil, invalid(errs)
		}
		if err := s.check(r.Context(), tx, t); err != nil {
			return "", nil, nil, err
		}
		if definition(t) == definition(old) {
			return "", &old, nil, nil
		}
		if err := models.UpdateTaskDefinition(r.Context(), tx, t); err != nil {
			return "", nil, nil, err
		}
		return models.AuditUpdate, &old, &t, nil
	})
}

func (s *Server) setValid(r *http.Request, valid int) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	action, verb := models.AuditEnable, "enable"
	if valid == 0 {
		action, verb = models.AuditDisable, "disable"
	}
	return s.write(r, id, func(tx *models.Tx) (string, *models.Task, *models.Task, error) {
		old, err := models.GetTaskForUpdate(r.Context(), tx, id)
		if err != nil {
			return "", nil, nil, notFound(err, id)
		}
		if err := needAdminFor(r, s, old, verb); err != nil {
			return "", nil, nil, err
		}
		if err := ifMatch(r, old, false); err != nil {
			return "", nil, nil, err
		}
		if old.IsValid == valid {
			return "", &old, nil, nil
		}
		t := old
		t.IsValid = valid
		if valid == 1 {
			if err := s.check(r.Context(), tx, t); err != nil {
				return "", nil, nil, err
			}
		}
		if err := models.UpdateTaskDefinition(r.Context(), tx, t); err != nil {
			return "", nil, nil, err
		}
		return action, &old, &t, nil
	})
}

func (s *Server) enableTask(r *http.Request) (any, error)  { return s.setValid(r, 1) }
func (s *Server) disableTask(r *http.Request) (any, error) { return s.setValid(r, 0) }

func (s *Server) deleteTask(r *http.Request) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return s.write(r, id, func(tx *models.Tx) (string, *models.Task, *models.Task, error) {
		old, err := models.GetTaskForUpdate(r.Context(), tx, id)
		if err != nil {
			return "", nil, nil, notFound(err, id)
		}
		if err := ifMatch(r, old, false); err != nil {
			return "", nil, nil, err
		}
		if err := models.DeleteTask(r.Context(), tx, id); err != nil {
			return "", nil, nil, err
		}
		return models.AuditDelete, &old, nil, nil
	})
}
