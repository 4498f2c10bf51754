package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"taskrunner/models"
)

// httpBackend talks to a running daemon's API: the envelope
// {"code","data","msg"}, a bearer token, ids in paths (a key is looked
// up first).
type httpBackend struct {
	base  string
	token string
	hc    *http.Client
	loc   *time.Location // the daemon's [app] timezone, once asked
}

func newHTTPBackend(server, token string) (*httpBackend, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--server: want the API's URL, such as http://127.0.0.1:8080, got %q", server)
	}
	return &httpBackend{base: strings.TrimRight(server, "/"), token: token, hc: &http.Client{}}, nil
}

func (h *httpBackend) close() {}

// apiReply is the envelope, with the status and headers it came with.
type apiReply struct {
	status int
	header http.Header
	Code   int             `json:"code"`
	Data   json.RawMessage `json:"data"`
	Msg    string          `json:"msg"`
}

// apiError is an answer with an error status.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("server: %s (HTTP %d)", e.msg, e.status) }

// Is makes a 404 match models.ErrTaskNotFound.
func (e *apiError) Is(target error) bool {
	return e.status == http.StatusNotFound && target == models.ErrTaskNotFound
}

// call sends a request and reads the envelope; a status of 400 or more is
// an *apiError. body is JSON-encoded unless nil.
func (h *httpBackend) call(ctx context.Context, method, path string, q url.Values, body any, header ...string) (apiReply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return apiReply{}, err
		}
		rd = bytes.NewReader(b)
	}
	u := h.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return apiReply{}, err
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := h.hc.Do(req)
	if err != nil {
		// The URL error names the server, never the token.
		return apiReply{}, fmt.Errorf("server: %w", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return apiReply{}, fmt.Errorf("server: %s %s: %w", method, path, err)
	}
	r := apiReply{status: res.StatusCode, header: res.Header}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("server: %s %s answered HTTP %d, not the API's envelope: %s", method, path, res.StatusCode, clip(string(raw), 120))
	}
	if res.StatusCode >= 400 {
		msg := r.Msg
		if res.StatusCode == http.StatusUnauthorized && h.token == "" {
			msg += fmt.Sprintf(" (give a token with --token or $%s)", envToken)
		}
		return r, &apiError{status: res.StatusCode, msg: msg}
	}
	return r, nil
}

// get calls and decodes data into v.
func (h *httpBackend) get(ctx context.Context, path string, q url.Values, v any) error {
	r, err := h.call(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	return decodeData(r, v)
}

func decodeData(r apiReply, v any) error {
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("server: unexpected data %s: %w", clip(string(r.Data), 120), err)
	}
	return nil
}

// apiPage is a page of a list.
type apiPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (h *httpBackend) zone(ctx context.Context) (*time.Location, error) {
	if h.loc != nil {
		return h.loc, nil
	}
	// A preview of a spec without tz is in the daemon's zone, and says
	// which.
	var p struct {
		Timezone string `json:"timezone"`
	}
	if err := h.get(ctx, "/api/v1/next", url.Values{"trigger": {"interval"}, "spec": {"1h"}, "n": {"1"}}, &p); err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(p.Timezone)
	if err != nil {
		loc = time.UTC
	}
	h.loc = loc
	return loc, nil
}

// views localizes tasks read from the API.
func (h *httpBackend) views(ctx context.Context, ts []taskView) error {
	def, err := h.zone(ctx)
	if err != nil {
		return err
	}
	for i := range ts {
		ts[i].localize(def)
	}
	return nil
}

func (h *httpBackend) listTasks(ctx context.Context, f models.TaskFilter) ([]taskView, error) {
	q := url.Values{}
	for k, v := range map[string]string{"key": f.Key, "function": f.Func, "trigger": f.Trigger, "status": f.Status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Valid >= 0 {
		q.Set("enabled", strconv.FormatBool(f.Valid == 1))
	}
	var out []taskView
	for f.Limit <= 0 || len(out) < f.Limit {
		n := 1000
		if f.Limit > 0 {
			n = min(n, f.Limit-len(out))
		}
		q.Set("limit", strconv.Itoa(n))
		var p apiPage[taskView]
		if err := h.get(ctx, "/api/v1/tasks", q, &p); err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			break
		}
		q.Set("cursor", p.NextCursor)
	}
	return out, h.views(ctx, out)
}

func (h *httpBackend) task(ctx context.Context, key string) (taskView, error) {
	ts, err := h.listTasks(ctx, models.TaskFilter{Key: key, Valid: -1, Limit: 100})
	if err != nil {
		return taskView{}, err
	}
	if len(ts) == 0 {
		if id, ok := keyAsID(key); ok {
			return h.taskByID(ctx, id)
		}
	}
	t, err := pickTask(key, ts)
	if err != nil {
		return t, err
	}
	// The list has no ETag header; the row's own answer has.
	return h.taskByID(ctx, t.ID)
}

func (h *httpBackend) taskByID(ctx context.Context, id int64) (taskView, error) {
	r, err := h.call(ctx, http.MethodGet, fmt.Sprintf("/api/v1/tasks/%d", id), nil, nil)
	if err != nil {
		return taskView{}, err
	}
	return h.decodeTask(ctx, r)
}

func (h *httpBackend) decodeTask(ctx context.Context, r apiReply) (taskView, error) {
	var t taskView
	if err := decodeData(r, &t); err != nil {
		return t, err
	}
	t.ETag = r.header.Get("ETag")
	ts := []taskView{t}
	err := h.views(ctx, ts)
	return ts[0], err
}

func (h *httpBackend) createTask(ctx context.Context, in taskEdit) (taskView, error) {
	r, err := h.call(ctx, http.MethodPost, "/api/v1/tasks", nil, in)
	if err != nil {
		return taskView{}, err
	}
	return h.decodeTask(ctx, r)
}

func (h *httpBackend) editTask(ctx context.Context, key string, in taskEdit) (taskView, error) {
	t, err := h.task(ctx, key)
	if err != nil {
		return t, err
	}
	r, err := h.call(ctx, http.MethodPatch, fmt.Sprintf("/api/v1/tasks/%d", t.ID), nil, in, "If-Match", t.ETag)
	if err != nil {
		return taskView{}, err
	}
	return h.decodeTask(ctx, r)
}

func (h *httpBackend) setEnabled(ctx context.Context, key string, on bool) (taskView, error) {
	t, err := h.task(ctx, key)
	if err != nil {
		return t, err
	}
	verb := "disable"
	if on {
		verb = "enable"
	}
	r, err := h.call(ctx, http.MethodPost, fmt.Sprintf("/api/v1/tasks/%d/%s", t.ID, verb), nil, nil, "If-Match", t.ETag)
	if err != nil {
		return taskView{}, err
	}
	return h.decodeTask(ctx, r)
}

func (h *httpBackend) deleteTask(ctx context.Context, key string) (taskView, error) {
	t, err := h.task(ctx, key)
	if err != nil {
		return t, err
	}
	_, err = h.call(ctx, http.MethodDelete, fmt.Sprintf("/api/v1/tasks/%d", t.ID), nil, nil, "If-Match", t.ETag)
	return t, err
}

func (h *httpBackend) listRuns(ctx context.Context, f models.RunFilter) ([]runView, error) {
	q := url.Values{"limit": {strconv.Itoa(f.Limit)}}
	if f.TaskID != 0 {
		q.Set("task_id", strconv.FormatInt(f.TaskID, 10))
	}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339))
	}
	var p apiPage[runView]
	err := h.get(ctx, "/api/v1/runs", q, &p)
	return p.Items, err
}

func (h *httpBackend) listReplicas(ctx context.Context, kind string, deadWithin time.Duration) ([]replicaView, error) {
	q := url.Values{"dead_within": {deadWithin.String()}}
	if kind != "" {
		q.Set("kind", kind)
	}
	var rs []replicaView
	if err := h.get(ctx, "/api/v1/replicas", q, &rs); err != nil {
		return nil, err
	}
	loc, err := h.zone(ctx)
	if err != nil {
		return nil, err
	}
	for i := range rs {
		rs[i].localize(loc)
	}
	return rs, nil
}

func (h *httpBackend) listAudit(ctx context.Context, taskID int64, limit int) ([]auditView, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if taskID != 0 {
		q.Set("task_id", strconv.FormatInt(taskID, 10))
	}
	var p apiPage[auditView]
	if err := h.get(ctx, "/api/v1/audit", q, &p); err != nil {
		return nil, err
	}
	loc, err := h.zone(ctx)
	if err != nil {
		return nil, err
	}
	for i := range p.Items {
		p.Items[i].localize(loc)
	}
	return p.Items, nil
}

// isNotFound reports whether err says a task (or a run) is not there.
func isNotFound(err error) bool {
	var ae *apiError
	return errors.Is(err, models.ErrTaskNotFound) || errors.As(err, &ae) && ae.status == http.StatusNotFound
}
