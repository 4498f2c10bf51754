package api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"taskrunner/libs/trigger"
	"taskrunner/models"
	"taskrunner/tasks"
	"taskrunner/tasks/engine"
)

// preview is a schedule's canonical form and next fire times, as
// `taskrunner next` prints them.
type preview struct {
	AppliedSpec string   `json:"applied_spec"` // kind and canonical spec, as task.applied_spec
	Trigger     string   `json:"trigger"`
	Spec        string   `json:"spec"`
	Timezone    string   `json:"timezone"`
	Times       []string `json:"times"` // RFC 3339, in the zone
}

func countParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("n")
	if s == "" {
		return 5, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		return 0, errorf(http.StatusBadRequest, "query n: want 1 to 1000, got %q", s)
	}
	return n, nil
}

func (s *Server) preview(kind, spec string, loc *time.Location, ref time.Time, n int) (any, error) {
	now := s.now()
	sched, err := engine.ParseSchedule(kind, spec, loc, ref)
	if err != nil {
		fe := engine.FieldError{Field: "spec", Message: err.Error()}
		if col, m, ok := strings.Cut(strings.TrimPrefix(err.Error(), "column "), ": "); ok {
			fe = engine.FieldError{Field: col, Message: m}
		}
		return nil, invalid([]engine.FieldError{fe})
	}
	p := preview{AppliedSpec: sched.Kind() + " " + sched.Spec(), Trigger: sched.Kind(), Spec: sched.Spec(), Timezone: loc.String(), Times: []string{}}
	for _, t := range trigger.NextN(sched, now, n) {
		p.Times = append(p.Times, t.In(loc).Format(time.RFC3339))
	}
	return p, nil
}

// taskNext previews a stored task: its zone, and its text phrases
// measured from its update_at, as the engine applies them.
func (s *Server) taskNext(r *http.Request) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	n, err := countParam(r)
	if err != nil {
		return nil, err
	}
	t, err := models.GetTask(r.Context(), s.db, id)
	if err != nil {
		return nil, notFound(err, id)
	}
	loc, err := s.eng.TaskLocation(t.Extra)
	if err != nil {
		var fe engine.FieldError
		if errors.As(err, &fe) {
			return nil, invalid([]engine.FieldError{fe})
		}
		return nil, err
	}
	return s.preview(t.Trigger, t.Spec, loc, t.UpdateAt, n)
}

// specNext previews an unsaved trigger, spec and zone.
func (s *Server) specNext(r *http.Request) (any, error) {
	q := r.URL.Query()
	n, err := countParam(r)
	if err != nil {
		return nil, err
	}
	kind := q.Get("trigger")
	if kind == "" {
		kind = "cron"
	}
	if q.Get("spec") == "" {
		return nil, invalid([]engine.FieldError{{Field: "spec", Message: "is required"}})
	}
	loc := s.eng.Location()
	if tz := q.Get("tz"); tz != "" {
		if loc, err = time.LoadLocation(tz); err != nil {
			return nil, invalid([]engine.FieldError{{Field: "tz", Message: fmt.Sprintf("unknown time zone %q (want an IANA name such as \"Asia/Shanghai\")", tz)}})
		}
	}
	return s.preview(kind, q.Get("spec"), loc, s.now(), n)
}

// trigger runs a task now. Without ?wait it answers at once with the run
// id (202); with ?wait=true it waits up to ?timeout (30s, at most
// max_wait) for the outcome and answers as celery-service's sync API
// did: code 0 and the last line of output on success, code 1 and the
// last error line otherwise; code 2 (202) when the wait ran out.
func (s *Server) trigger(r *http.Request) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	wait, timeout := false, 30*time.Second
	if v := q.Get("wait"); v != "" {
		if wait, err = strconv.ParseBool(v); err != nil {
			return nil, errorf(http.StatusBadRequest, "query wait: want true or false, got %q", v)
		}
	}
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > s.cfg.MaxWait {
			return nil, errorf(http.StatusBadRequest, "query timeout: want a duration from 1ms to %s, such as \"30s\", got %q", s.cfg.MaxWait, v)
		}
		timeout = d
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	var args tasks.Args
	if b := bytes.TrimSpace(body); len(b) > 0 {
		if b[0] != '[' && b[0] != '{' {
			return nil, invalid([]engine.FieldError{{Field: "args", Message: "the body is the args to append: a JSON array (positional) or object (named)"}})
		}
		if args, err = tasks.ParseArgs(string(b)); err != nil {
			return nil, invalid([]engine.FieldError{{Field: "args", Message: err.Error()}})
		}
	}
	t, err := models.GetTask(r.Context(), s.db, id)
	if err != nil {
		return nil, notFound(err, id)
	}
	if err := needAdminFor(r, s, t, "trigger"); err != nil {
		return nil, err
	}
	run, err := s.eng.RunNow(r.Context(), t.Key, args)
	switch {
	case errors.Is(err, engine.ErrNotScheduled):
		return nil, errorf(http.StatusConflict, "task %d (%s) is not scheduled here: status %s %s", id, t.Key, t.Status, t.SchedError)
	case errors.Is(err, engine.ErrOverlap):
		return nil, errorf(http.StatusConflict, "task %d: %v", id, err)
	case errors.Is(err, tasks.ErrBadArgs):
		return nil, invalid([]engine.FieldError{{Field: "args", Message: err.Error()}})
	case errors.Is(err, engine.ErrRunExists):
		// RunNow's fire time is the instant, which SQLite stores to the
		// millisecond: a second trigger in the same one finds it taken.
		return nil, errorf(http.StatusConflict, "task %d: %v; try again", id, err)
	case err != nil:
		return nil, err
	}
	hdr := map[string]string{"Location": fmt.Sprintf("/api/v1/runs/%d", run.ID), "X-Run-Id": strconv.FormatInt(run.ID, 10)}
	if !wait {
		return result{status: http.StatusAccepted, data: run.ID, header: hdr}, nil
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-run.Done:
	case <-timer.C:
		return result{status: http.StatusAccepted, code: 2, data: run.ID, header: hdr,
			msg: fmt.Sprintf("run %d is still running after %s; GET /api/v1/runs/%d for its outcome", run.ID, timeout, run.ID)}, nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	rec, err := models.GetRun(r.Context(), s.db, run.ID)
	if err != nil {
		return nil, err
	}
	code := 0
	if rec.Status != models.RunSuccess {
		code = 1
	}
	hdr["X-Run-Status"] = rec.Status
	return result{status: http.StatusOK, code: code, data: lastLine(string(rec.Output)), msg: lastLine(string(rec.Error)), header: hdr}, nil
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// Run is a run as the API shows it (the CLI shows the same).
type Run struct {
	ID          int64      `json:"id"`
	TaskID      int64      `json:"task_id"`
	TaskKey     string     `json:"task_key"`
	Status      string     `json:"status"`
	TraceID     string     `json:"trace_id"`
	ScheduledAt *time.Time `json:"scheduled_at"`
	Attempt     int        `json:"attempt"`
	FirstID     *int64     `json:"first_id"`
	Source      string     `json:"source"`
	StartedAt   *time.Time `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	DurationMS  *int64     `json:"duration_ms"`
	RetryAt     *time.Time `json:"retry_at"`
	Host        string     `json:"host"`
	Owner       string     `json:"owner"`
	Error       string     `json:"error"`
	Output      *string    `json:"output,omitempty"` // the tail, in one run's answer
}

// ShowRun is a row of execute_task as the API shows it.
func ShowRun(r models.ExecuteTask) Run {
	o := Run{ID: r.ID, TaskID: r.TaskID, TaskKey: r.TaskKey, Status: r.Status, TraceID: r.TraceID,
		ScheduledAt: nullTime(r.ScheduledAt.Valid, r.ScheduledAt.Time), Attempt: r.Attempt, Source: r.Source,
		StartedAt: nullTime(r.StartedAt.Valid, r.StartedAt.Time), FinishedAt: nullTime(r.FinishedAt.Valid, r.FinishedAt.Time),
		RetryAt: nullTime(r.RetryAt.Valid, r.RetryAt.Time), Host: r.Host, Owner: r.Owner, Error: string(r.Error)}
	if r.FirstID.Valid {
		o.FirstID = &r.FirstID.Int64
	}
	if r.DurationMS.Valid {
		o.DurationMS = &r.DurationMS.Int64
	}
	return o
}

func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, errorf(http.StatusBadRequest, "query %s: want an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", name, v)
	}
	return t, nil
}

// listRuns: runs newest first. With task_id the pages follow the unique
// key (task_id, scheduled_at, attempt); the cursor is "<unix µs>.<attempt>"
// there and a run id otherwise.
func (s *Server) listRuns(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := limitParam(r)
	if err != nil {
		return nil, err
	}
	f := models.RunFilter{Status: q.Get("status"), Limit: limit}
	if v := q.Get("task_id"); v != "" {
		if f.TaskID, err = strconv.ParseInt(v, 10, 64); err != nil || f.TaskID <= 0 {
			return nil, errorf(http.StatusBadRequest, "query task_id: want a positive integer, got %q", v)
		}
	}
	if f.Since, err = timeParam(r, "since"); err != nil {
		return nil, err
	}
	if f.Until, err = timeParam(r, "until"); err != nil {
		return nil, err
	}
	if c := q.Get("cursor"); c != "" {
		bad := errorf(http.StatusBadRequest, "query cursor: want the next_cursor of the previous page, got %q", c)
		if f.TaskID != 0 {
			us, att, ok := strings.Cut(c, ".")
			u, err1 := strconv.ParseInt(us, 10, 64)
			a, err2 := strconv.Atoi(att)
			if !ok || err1 != nil || err2 != nil {
				return nil, bad
			}
			f.BeforeAt, f.BeforeAttempt = time.UnixMicro(u).UTC(), a
		} else if f.BeforeID, err = strconv.ParseInt(c, 10, 64); err != nil {
			return nil, bad
		}
	}
	rs, err := models.ListRunsPage(r.Context(), s.db, f)
	if err != nil {
		return nil, err
	}
	out := make([]Run, len(rs))
	for i, run := range rs {
		out[i] = ShowRun(run)
	}
	p := page{Items: out}
	if len(rs) == limit {
		last := rs[len(rs)-1]
		if f.TaskID != 0 && last.ScheduledAt.Valid {
			p.NextCursor = fmt.Sprintf("%d.%d", last.ScheduledAt.Time.UnixMicro(), last.Attempt)
		} else if f.TaskID == 0 {
			p.NextCursor = strconv.FormatInt(last.ID, 10)
		}
	}
	return p, nil
}

func (s *Server) loadRun(r *http.Request) (models.ExecuteTask, error) {
	id, err := pathID(r)
	if err != nil {
		return models.ExecuteTask{}, err
	}
	run, err := models.GetRun(r.Context(), s.db, id)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return run, errorf(http.StatusNotFound, "run %d not found", id)
		}
		return run, err
	}
	return run, nil
}

// getRun: one run with the tail of its output (?tail bytes, 4096 by
// default) and every attempt of its fire.
func (s *Server) getRun(r *http.Request) (any, error) {
	run, err := s.loadRun(r)
	if err != nil {
		return nil, err
	}
	tail := 4096
	if v := r.URL.Query().Get("tail"); v != "" {
		if tail, err = strconv.Atoi(v); err != nil || tail < 0 {
			return nil, errorf(http.StatusBadRequest, "query tail: want a number of bytes, got %q", v)
		}
	}
	out := ShowRun(run)
	o := string(run.Output)
	if len(o) > tail {
		o = o[len(o)-tail:]
		for len(o) > 0 && o[0]&0xC0 == 0x80 { // start on a whole character
			o = o[1:]
		}
	}
	out.Output = &o
	atts, err := models.ListAttempts(r.Context(), s.db, run)
	if err != nil {
		return nil, err
	}
	attempts := make([]Run, len(atts))
	for i, a := range atts {
		attempts[i] = ShowRun(a)
	}
	return map[string]any{"run": out, "attempts": attempts}, nil
}

func (s *Server) killRun(r *http.Request) (any, error) {
	run, err := s.loadRun(r)
	if err != nil {
		return nil, err
	}
	if t, err := models.GetTask(r.Context(), s.db, run.TaskID); err == nil {
		if err := needAdminFor(r, s, t, "kill"); err != nil {
			return nil, err
		}
	}
	switch err := s.eng.Cancel(r.Context(), run.ID); {
	case errors.Is(err, engine.ErrRunNotFound):
		return nil, errorf(http.StatusNotFound, "run %d not found", run.ID)
	case errors.Is(err, engine.ErrNotRunning):
		return nil, errorf(http.StatusConflict, "%v", err)
	case err != nil:
		return nil, err
	}
	return map[string]any{"id": run.ID, "status": models.RunKilled}, nil
}

// listReplicas: live replicas and workers, and those dead within
// ?dead_within (a duration; none by default).
func (s *Server) listReplicas(r *http.Request) (any, error) {
	q := r.URL.Query()
	since := s.now().Add(time.Second) // none dead
	if v := q.Get("dead_within"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, errorf(http.StatusBadRequest, "query dead_within: want a duration such as \"1h\", got %q", v)
		}
		since = s.now().Add(-d)
	}
	kind := q.Get("kind")
	if kind != "" && kind != models.KindReplica && kind != models.KindWorker {
		return nil, errorf(http.StatusBadRequest, "query kind: want replica or worker, got %q", kind)
	}
	rs, err := models.ListReplicas(r.Context(), s.db, kind, since)
	if err != nil {
		return nil, err
	}
	out := make([]Replica, len(rs))
	for i, x := range rs {
		out[i] = ShowReplica(x)
	}
	return out, nil
}

// listAudit: changes of task definitions, newest first.
func (s *Server) listAudit(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := limitParam(r)
	if err != nil {
		return nil, err
	}
	f := models.AuditFilter{Limit: limit}
	if v := q.Get("task_id"); v != "" {
		if f.TaskID, err = strconv.ParseInt(v, 10, 64); err != nil || f.TaskID <= 0 {
			return nil, errorf(http.StatusBadRequest, "query task_id: want a positive integer, got %q", v)
		}
	}
	if v := q.Get("cursor"); v != "" {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, errorf(http.StatusBadRequest, "query cursor: want the next_cursor of the previous page, got %q", v)
		}
	}
	as, err := models.ListAudit(r.Context(), s.db, f)
	if err != nil {
		return nil, err
	}
	type auditOut struct {
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
	out := make([]auditOut, len(as))
	for i, a := range as {
		o := auditOut{a.ID, a.At.UTC(), a.Actor, a.Source, a.Remote, a.Action, a.TaskID, a.TaskKey, json.RawMessage("null"), json.RawMessage("null")}
		if a.Before != "" {
			o.Before = rawJSON(string(a.Before))
		}
		if a.After != "" {
			o.After = rawJSON(string(a.After))
		}
		out[i] = o
	}
	p := page{Items: out}
	if len(as) == limit {
		p.NextCursor = strconv.FormatInt(as[len(as)-1].ID, 10)
	}
	return p, nil
}

// backfill runs (or, with dry_run, lists) a task's fire times between
// from and to that did not run, oldest first, at least every apart. The
// runs go on in the background on this replica; each is a row of its own
// fire time (source backfill), so the runs list shows the progress.
func (s *Server) backfill(r *http.Request) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	var from, to time.Time
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		v := q.Get(p.name)
		if v == "" {
			return nil, errorf(http.StatusBadRequest, "query %s: required, an RFC 3339 time such as 2026-01-01T00:00:00Z", p.name)
		}
		if *p.dst, err = time.Parse(time.RFC3339, v); err != nil {
			return nil, errorf(http.StatusBadRequest, "query %s: want an RFC 3339 time such as 2026-01-01T00:00:00Z, got %q", p.name, v)
		}
	}
	dry := false
	if v := q.Get("dry_run"); v != "" {
		if dry, err = strconv.ParseBool(v); err != nil {
			return nil, errorf(http.StatusBadRequest, "query dry_run: want true or false, got %q", v)
		}
	}
	every := time.Duration(0)
	if v := q.Get("every"); v != "" {
		if every, err = time.ParseDuration(v); err != nil || every < 0 {
			return nil, errorf(http.StatusBadRequest, "query every: want a duration such as \"1s\", got %q", v)
		}
	}
	t, err := models.GetTask(r.Context(), s.db, id)
	if err != nil {
		return nil, notFound(err, id)
	}
	if err := needAdminFor(r, s, t, "backfill"); err != nil {
		return nil, err
	}
	plan, err := s.eng.PlanBackfill(r.Context(), t.Key, from, to)
	switch {
	case errors.Is(err, engine.ErrNotScheduled):
		return nil, errorf(http.StatusConflict, "task %d (%s) is not scheduled here: status %s %s", id, t.Key, t.Status, t.SchedError)
	case err != nil:
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
	out := backfillPlan{Times: plan.Times, Done: plan.Done, Pending: len(plan.Pending())}
	if dry {
		return out, nil
	}
	go func() {
		rep, err := s.eng.Backfill(context.WithoutCancel(r.Context()), t.Key, from, to, every)
		s.log.Info("backfill done", "task_key", t.Key, "started", rep.Started, "taken", rep.Taken, "skipped", rep.Skipped, "error", err)
	}()
	return result{status: http.StatusAccepted, data: out}, nil
}

// backfillPlan is a backfill's fire times, and which already ran.
type backfillPlan struct {
	Times   []time.Time `json:"times"`
	Done    []bool      `json:"done"`
	Pending int         `json:"pending"`
}

// Replica is a row of replica as the API shows it (the CLI shows the
// same): a taskrunner process or a worker.
type Replica struct {
	ID          string          `json:"id"`
	Kind        string          `json:"kind"`
	Host        string          `json:"host"`
	PID         int             `json:"pid"`
	Version     string          `json:"version"`
	Info        json.RawMessage `json:"info"`
	StartedAt   time.Time       `json:"started_at"`
	HeartbeatAt time.Time       `json:"heartbeat_at"`
	DeadAt      *time.Time      `json:"dead_at"`
	DeadReason  string          `json:"dead_reason"`
}

// ShowReplica is a row of replica as the API shows it.
func ShowReplica(x models.Replica) Replica {
	return Replica{x.ID, x.Kind, x.Host, x.PID, x.Version, rawJSON(x.Info), x.StartedAt.UTC(), x.HeartbeatAt.UTC(),
		nullTime(x.DeadAt.Valid, x.DeadAt.Time), x.DeadReason}
}
