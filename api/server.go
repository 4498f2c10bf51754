// Package api is the daemon's HTTP API: tasks (list, get, create, update,
// enable, disable, delete, preview, trigger), runs (query, get, kill),
// replicas, the audit log, health and readiness, and its OpenAPI
// description. Every answer is celery-service's envelope,
// {"code": 0, "data": ..., "msg": ""}; an error has a non-zero code (the
// HTTP status), a message naming what is wrong, and that status.
//
// The web console (package console) is served at /console/, its files
// without a token; it calls the same routes with the user's token.
//
// Every route but /healthz needs a bearer token of a role (read, operate,
// admin) from api.toml; tokens are kept as SHA-256 hashes and compared in
// constant time. Writes go to the task table, are audited in the same
// transaction, and apply at once through the engine's Reload.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"taskrunner/api/console"
	"taskrunner/models"
	"taskrunner/tasks"
	"taskrunner/tasks/engine"
)

// Engine is what the API needs of the engine (*engine.Engine).
type Engine interface {
	Reload(ctx context.Context, ids ...int64) error
	RunNow(ctx context.Context, key string, args tasks.Args) (engine.ManualRun, error)
	Cancel(ctx context.Context, runID int64) error
	PlanBackfill(ctx context.Context, key string, from, to time.Time) (engine.BackfillPlan, error)
	Backfill(ctx context.Context, key string, from, to time.Time, every time.Duration) (engine.BackfillReport, error)
	CheckTask(t models.Task, ref time.Time) []engine.FieldError
	TaskLocation(extra string) (*time.Location, error)
	Location() *time.Location
	Synced() bool
}

// Options are what a Server is built from.
type Options struct {
	Config Config
	DB     *models.DB
	Engine Engine
	Log    *slog.Logger
	// Metrics, when not nil, is served at /metrics (role read): the
	// metrics package's handler is mounted here.
	Metrics http.Handler
	// Now is the clock of audit times and previews. Defaults to time.Now.
	Now func() time.Time
	// Edited, when not nil, is told of every task row an edit changed,
	// once this replica applied it: it tells the other replicas (Redis
	// pub/sub), which otherwise apply it at their next sync.
	Edited func(ctx context.Context, ids ...int64)
}

// Server serves the API. Build it with New.
type Server struct {
	cfg    Config
	db     *models.DB
	eng    Engine
	log    *slog.Logger
	keys   *keyring
	now    func() time.Time
	edited func(ctx context.Context, ids ...int64)
	routes []route
	mux    *http.ServeMux
}

// route is one line of the route table, which the mux and the OpenAPI
// test both read.
type route struct {
	method, path string
	role         Role
	h            func(*http.Request) (any, error)
	raw          http.Handler // served as is (after auth) instead of h
}

// New builds a server; it refuses a configuration Validate refuses.
func New(o Options) (*Server, error) {
	if key, err := o.Config.Validate(); err != nil {
		return nil, fmt.Errorf("api: %s: %w", key, err)
	}
	keys, err := newKeyring(o.Config)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &Server{cfg: o.Config, db: o.DB, eng: o.Engine, log: o.Log.With("component", "api"), keys: keys, now: o.Now, edited: o.Edited}
	if s.now == nil {
		s.now = time.Now
	}
	s.routes = s.routeTable(o.Metrics)
	s.mux = http.NewServeMux()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	// The console's files are public (the data it fetches needs a
	// token); "/" leads to it.
	s.mux.Handle("GET /console/", http.StripPrefix("/console", console.Handler()))
	s.mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.keys.authenticate(r, RoleRead); err != nil {
			writeError(w, err)
			return
		}
		writeError(w, errorf(http.StatusNotFound, "no route %s %s; GET /openapi.json lists them", r.Method, r.URL.Path))
	})
	return s, nil
}

func (s *Server) routeTable(metrics http.Handler) []route {
	rs := []route{
		{method: "GET", path: "/healthz", role: RoleNone, h: s.healthz},
		{method: "GET", path: "/readyz", role: RoleRead, h: s.readyz},
		{method: "GET", path: "/openapi.json", role: RoleRead, raw: http.HandlerFunc(serveOpenAPI)},

		{method: "GET", path: "/api/v1/tasks", role: RoleRead, h: s.listTasks},
		{method: "POST", path: "/api/v1/tasks", role: RoleAdmin, h: s.createTask},
		{method: "GET", path: "/api/v1/tasks/{id}", role: RoleRead, h: s.getTask},
		{method: "PATCH", path: "/api/v1/tasks/{id}", role: RoleAdmin, h: s.updateTask},
		{method: "DELETE", path: "/api/v1/tasks/{id}", role: RoleAdmin, h: s.deleteTask},
		{method: "POST", path: "/api/v1/tasks/{id}/enable", role: RoleOperate, h: s.enableTask},
		{method: "POST", path: "/api/v1/tasks/{id}/disable", role: RoleOperate, h: s.disableTask},
		{method: "GET", path: "/api/v1/tasks/{id}/next", role: RoleRead, h: s.taskNext},
		{method: "POST", path: "/api/v1/tasks/{id}/trigger", role: RoleOperate, h: s.trigger},
		{method: "POST", path: "/api/v1/tasks/{id}/backfill", role: RoleOperate, h: s.backfill},
		{method: "GET", path: "/api/v1/next", role: RoleRead, h: s.specNext},

		{method: "GET", path: "/api/v1/runs", role: RoleRead, h: s.listRuns},
		{method: "GET", path: "/api/v1/runs/{id}", role: RoleRead, h: s.getRun},
		{method: "POST", path: "/api/v1/runs/{id}/kill", role: RoleOperate, h: s.killRun},

		{method: "GET", path: "/api/v1/replicas", role: RoleRead, h: s.listReplicas},
		{method: "GET", path: "/api/v1/audit", role: RoleRead, h: s.listAudit},
		{method: "GET", path: "/api/v1/stats/runs", role: RoleRead, h: s.runStats},
		{method: "GET", path: "/api/v1/whoami", role: RoleRead, h: s.whoami},
	}
	if metrics != nil {
		rs = append(rs, route{method: "GET", path: "/metrics", role: RoleRead, raw: metrics})
	}
	return rs
}

// Handler returns the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.mux }

// Serve serves on l until ctx ends, then shuts down, waiting up to 5 s for
// requests in flight (a synchronous trigger is cut off).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// wrap authenticates, runs a route's handler and writes its envelope.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.role != RoleNone {
			p, err := s.keys.authenticate(r, rt.role)
			if err != nil {
				// The token is never logged; its name only once known.
				s.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "remote", p.remote, "token", p.name, "reason", err.Error())
				writeError(w, err)
				return
			}
			r = r.WithContext(withPrincipal(r.Context(), p))
		}
		if rt.raw != nil {
			rt.raw.ServeHTTP(w, r)
			return
		}
		data, err := rt.h(r)
		if r.Method != http.MethodGet {
			p := who(r)
			if err != nil {
				s.log.Info("request failed", "method", r.Method, "path", r.URL.Path, "token", p.name, "remote", p.remote, "error", err.Error())
			} else {
				s.log.Info("request", "method", r.Method, "path", r.URL.Path, "token", p.name, "remote", p.remote)
			}
		}
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				s.log.Error("request", "method", r.Method, "path", r.URL.Path, "error", err)
			}
			writeError(w, err)
			return
		}
		if res, ok := data.(result); ok {
			for k, v := range res.header {
				w.Header().Set(k, v)
			}
			writeJSON(w, res.status, envelope{Code: res.code, Data: res.data, Msg: res.msg})
			return
		}
		writeJSON(w, http.StatusOK, envelope{Data: data})
	})
}

// envelope is celery-service's answer: code 0 and data, or a non-zero
// code and msg.
type envelope struct {
	Code int    `json:"code"`
	Data any    `json:"data"`
	Msg  string `json:"msg"`
}

// result is a handler's answer when it is not 200 with code 0.
type result struct {
	status, code int
	data         any
	msg          string
	header       map[string]string
}

// apiError is an error answered with its status; its code is the status.
type apiError struct {
	status int
	msg    string
	fields []engine.FieldError // for 400: what is wrong, column by column
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// invalid is a 400 naming each field at fault.
func invalid(fields []engine.FieldError) *apiError {
	msgs := make([]string, len(fields))
	for i, f := range fields {
		msgs[i] = f.Field + ": " + f.Message
	}
	return &apiError{status: http.StatusBadRequest, msg: strings.Join(msgs, "; "), fields: fields}
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: http.StatusInternalServerError, msg: "internal error: " + err.Error()}
	}
	if ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="taskrunner"`)
	}
	var data any
	if len(ae.fields) > 0 {
		data = map[string]any{"errors": ae.fields}
	}
	writeJSON(w, ae.status, envelope{Code: ae.status, Data: data, Msg: ae.msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// healthz: the process is up.
func (s *Server) healthz(*http.Request) (any, error) { return "ok", nil }

// readyz: the database answers and the first sync is done.
func (s *Server) readyz(r *http.Request) (any, error) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		return nil, errorf(http.StatusServiceUnavailable, "database unreachable: %v", err)
	}
	if !s.eng.Synced() {
		return nil, errorf(http.StatusServiceUnavailable, "the schedule is not loaded yet: the first sync has not finished")
	}
	return "ready", nil
}

// adminFunc reports whether a function is one only admins may run.
func (s *Server) adminFunc(name string) bool { return slices.Contains(s.cfg.AdminFuncs, name) }

// needAdminFor refuses an operate token an action on an admin function.
func needAdminFor(r *http.Request, s *Server, t models.Task, action string) error {
	if p := who(r); s.adminFunc(t.Func) && p.role < RoleAdmin {
		return errorf(http.StatusForbidden, "token %q has role %s; to %s a %s task needs admin", p.name, p.role, action, t.Func)
	}
	return nil
}
