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
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"taskrunner/libs/phrase"
	"taskrunner/libs/trigger"
	"taskrunner/models"
	"taskrunner/models/modelstest"
	"taskrunner/tasks"
	"taskrunner/tasks/engine"
)

// The raw tokens of the test server, by role.
var testTokens = map[string]string{"read": "tok-read", "operate": "tok-operate", "admin": "tok-admin"}

// TestMain reads text specs as main does.
func TestMain(m *testing.M) {
	trigger.SetTextFunc(phrase.Parse)
	os.Exit(m.Run())
}

func hashOf(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

type fixture struct {
	t   *testing.T
	db  *models.DB
	eng *engine.Engine
	srv *Server
	ts  *httptest.Server
}

func setup(t *testing.T, db *models.DB, tune ...func(*Config)) *fixture {
	t.Helper()
	reg := tasks.NewRegistry()
	must(t, reg.Add("echo", func(ctx context.Context, run *tasks.Run) error {
		run.Printf("starting\nargs=%s\n", run.Args)
		return nil
	}))
	must(t, reg.Add("fail", func(ctx context.Context, run *tasks.Run) error {
		run.Printf("partial\n")
		return errors.New("first line\nit broke")
	}))
	must(t, reg.Add("block", func(ctx context.Context, run *tasks.Run) error {
		<-ctx.Done()
		return ctx.Err()
	}))
	must(t, reg.Add("shell", func(ctx context.Context, run *tasks.Run) error { return nil }))
	cfg := engine.DefaultConfig()
	cfg.Location = time.UTC
	cfg.ShutdownTimeout = 2 * time.Second
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := engine.New(cfg, db, reg, log)
	must(t, err)
	ctx := context.Background()
	must(t, eng.Start(ctx))
	t.Cleanup(func() { _ = eng.Shutdown() })
	must(t, eng.SyncOnce(ctx))

	c := DefaultConfig()
	for _, role := range []string{"read", "operate", "admin"} {
		c.Tokens = append(c.Tokens, Token{Name: role + "-bot", Role: role, SHA256: hashOf(testTokens[role])})
	}
	for _, f := range tune {
		f(&c)
	}
	srv, err := New(Options{Config: c, DB: db, Engine: eng, Log: log,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "up 1\n") })})
	must(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &fixture{t: t, db: db, eng: eng, srv: srv, ts: ts}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type reply struct {
	status int
	header http.Header
	Code   int             `json:"code"`
	Data   json.RawMessage `json:"data"`
	Msg    string          `json:"msg"`
}

func (r reply) into(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("data %s: %v", r.Data, err)
	}
}

// call sends a request as role ("" for none) with body (a string, or a
// value to encode) and headers as "Name: value".
func (f *fixture) call(method, path, role string, body any, headers ...string) reply {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, f.ts.URL+path, rd)
	if role != "" {
		tok := testTokens[role]
		if tok == "" {
			tok = role // a raw token
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header}
	if err := json.Unmarshal(raw, &r); err != nil && path != "/openapi.json" && path != "/metrics" {
		f.t.Fatalf("%s %s: not the envelope: %s", method, path, raw)
	}
	return r
}

// want fails unless the reply has the status and, for an error, a code
// equal to it and a message containing says.
func (r reply) want(t *testing.T, status int, says string) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: code %d msg %q data %s", r.status, status, r.Code, r.Msg, r.Data)
	}
	if status >= 400 && r.Code != status {
		t.Errorf("code %d, want %d", r.Code, status)
	}
	if !strings.Contains(r.Msg, says) {
		t.Errorf("msg %q does not say %q", r.Msg, says)
	}
	return r
}

func count(t *testing.T, db *models.DB, table string) int {
	t.Helper()
	var n int
	must(t, db.QueryRowx("SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

func (f *fixture) create(body map[string]any) taskOut {
	f.t.Helper()
	var out taskOut
	f.call("POST", "/api/v1/tasks", "admin", body).want(f.t, http.StatusCreated, "").into(f.t, &out)
	return out
}

func cronTask(key string) map[string]any {
	return map[string]any{"task_key": key, "execute_func": "echo", "trigger": "cron", "spec": "0 0 1 1 *", "args": "1,2"}
}

func TestAuth(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		f := setup(t, db)
		f.call("GET", "/healthz", "", nil).want(t, 200, "")
		// Every route but /healthz: 401 without a token or with a wrong one.
		for _, rt := range f.srv.routes {
			if rt.role == RoleNone {
				continue
			}
			path := strings.ReplaceAll(rt.path, "{id}", "1")
			r := f.call(rt.method, path, "", nil)
			if r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s without a token: %d, want 401 with WWW-Authenticate", rt.method, path, r.status)
			}
			if r := f.call(rt.method, path, "not-a-token", nil); r.status != 401 {
				t.Errorf("%s %s with a wrong token: %d, want 401", rt.method, path, r.status)
			}
			// A role too weak: 403.
			for _, weak := range []string{"read", "operate"} {
				if role, _ := parseRole(weak); role < rt.role {
					if r := f.call(rt.method, path, weak, nil); r.status != 403 || !strings.Contains(r.Msg, "needs "+rt.role.String()) {
						t.Errorf("%s %s as %s: %d %q, want 403", rt.method, path, weak, r.status, r.Msg)
					}
				}
			}
		}
		f.call("GET", "/api/v1/nothing", "", nil).want(t, 401, "bearer")
		f.call("GET", "/api/v1/nothing", "read", nil).want(t, 404, "no route")
		f.call("GET", "/api/v1/tasks", "read", nil).want(t, 200, "")
		f.call("POST", "/api/v1/tasks", "operate", cronTask("x")).want(t, 403, `token "operate-bot" has role operate; this needs admin`)
		if n := count(t, db, "task"); n != 0 {
			t.Errorf("%d rows written by refused requests", n)
		}

		// An address outside the allow-list: 403, but /healthz answers.
		g := setup(t, db, func(c *Config) { c.Allow = []string{"10.0.0.0/8"} })
		g.call("GET", "/api/v1/tasks", "admin", nil).want(t, 403, "allow-list")
		g.call("GET", "/healthz", "", nil).want(t, 200, "")

		// An operate token may not trigger, enable or disable a shell task.
		sh := f.create(map[string]any{"task_key": "sh", "execute_func": "shell", "trigger": "interval", "spec": "1h", "is_valid": 0})
		f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/enable", sh.ID), "operate", nil).want(t, 403, "needs admin")
		f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/enable", sh.ID), "admin", nil).want(t, 200, "")
		f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/trigger", sh.ID), "operate", nil).want(t, 403, "to trigger a shell task needs admin")
	})
}

func TestTasks_CRUD(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		f := setup(t, db)
		a := f.create(map[string]any{"task_key": "a", "desc": "first", "execute_func": "echo", "trigger": "cron", "spec": "0 9 * * 1-5",
			"args": []any{1, "x"}, "extra": map[string]any{"timeout": "30s", "mine": true}})
		if a.Status != models.TaskReady || a.AppliedSpec != "cron 0 9 * * 1-5" || a.NextFireAt == nil || a.Args != `[1,"x"]` {
			t.Errorf("created row not applied at once: %+v", a)
		}
		for i := range 4 {
			f.create(cronTask(fmt.Sprintf("k%d", i)))
		}
		f.create(map[string]any{"task_key": "off", "execute_func": "fail", "trigger": "interval", "spec": "5", "is_valid": 0})

		// Get, with its ETag.
		r := f.call("GET", fmt.Sprintf("/api/v1/tasks/%d", a.ID), "read", nil).want(t, 200, "")
		if r.header.Get("ETag") != a.ETag {
			t.Errorf("ETag %q, want %q", r.header.Get("ETag"), a.ETag)
		}
		f.call("GET", "/api/v1/tasks/999999", "read", nil).want(t, 404, "task 999999 not found")
		f.call("GET", "/api/v1/tasks/abc", "read", nil).want(t, 400, "path id")

		// List: filters and pages.
		var p struct {
			Items      []taskOut `json:"items"`
			NextCursor string    `json:"next_cursor"`
		}
		f.call("GET", "/api/v1/tasks?limit=2", "read", nil).want(t, 200, "").into(t, &p)
		if len(p.Items) != 2 || p.Items[0].Key != "a" || p.NextCursor == "" {
			t.Fatalf("first page: %+v", p)
		}
		var keys []string
		for cursor := p.NextCursor; cursor != ""; {
			var q struct {
				Items      []taskOut `json:"items"`
				NextCursor string    `json:"next_cursor"`
			}
			f.call("GET", "/api/v1/tasks?limit=2&cursor="+cursor, "read", nil).want(t, 200, "").into(t, &q)
			for _, it := range q.Items {
				keys = append(keys, it.Key)
			}
			cursor = q.NextCursor
		}
		if strings.Join(keys, ",") != "k1,k2,k3,off" {
			t.Errorf("pages after the first: %q", keys)
		}
		for query, want := range map[string]string{
			"key=k2": "k2", "function=fail": "off", "trigger=interval": "off", "enabled=false": "off", "status=disabled": "off",
			"enabled=true&function=echo&limit=1": "a",
		} {
			var q struct{ Items []taskOut }
			f.call("GET", "/api/v1/tasks?"+query, "read", nil).want(t, 200, "").into(t, &q)
			if len(q.Items) != 1 || q.Items[0].Key != want {
				t.Errorf("?%s: %d rows, want %s", query, len(q.Items), want)
			}
		}
		f.call("GET", "/api/v1/tasks?enabled=maybe", "read", nil).want(t, 400, "query enabled")
		f.call("GET", "/api/v1/tasks?limit=0", "read", nil).want(t, 400, "query limit")

		// Update: If-Match required; a stale one is refused with 412.
		path := fmt.Sprintf("/api/v1/tasks/%d", a.ID)
		f.call("PATCH", path, "admin", map[string]any{"spec": "0 10 * * *"}).want(t, 428, "If-Match")
		var b taskOut
		f.call("PATCH", path, "admin", map[string]any{"spec": "0 10 * * *", "desc": "second"}, "If-Match: "+a.ETag).want(t, 200, "").into(t, &b)
		if b.AppliedSpec != "cron 0 10 * * *" || b.Desc != "second" || b.ETag == a.ETag || b.Key != "a" {
			t.Errorf("updated row: %+v", b)
		}
		f.call("PATCH", path, "admin", map[string]any{"spec": "0 11 * * *"}, "If-Match: "+a.ETag).want(t, 412, "changed since you read it")
		var got taskOut
		f.call("GET", path, "read", nil).into(t, &got)
		if got.Spec != "0 10 * * *" {
			t.Errorf("a stale update was written: spec %q", got.Spec)
		}

		// Disable, enable, delete.
		var d taskOut
		f.call("POST", path+"/disable", "operate", nil).want(t, 200, "").into(t, &d)
		if d.IsValid != 0 || d.Status != models.TaskDisabled {
			t.Errorf("disabled row: %+v", d)
		}
		f.call("POST", path+"/enable", "operate", nil, "If-Match: "+b.ETag).want(t, 412, "")
		f.call("POST", path+"/enable", "operate", nil).want(t, 200, "").into(t, &d)
		if d.IsValid != 1 || d.Status != models.TaskReady {
			t.Errorf("enabled row: %+v", d)
		}
		f.call("DELETE", path, "admin", nil).want(t, 200, "")
		f.call("GET", path, "read", nil).want(t, 404, "")
		f.call("DELETE", path, "admin", nil).want(t, 404, "")
		f.call("POST", "/api/v1/tasks/999999/enable", "operate", nil).want(t, 404, "")

		// The audit: who, when, from where, before and after.
		var au struct {
			Items []struct {
				Actor, Source, Remote, Action, TaskKey string
				At                                     time.Time
				TaskID                                 int64           `json:"task_id"`
				Before                                 json.RawMessage `json:"before"`
				After                                  json.RawMessage `json:"after"`
			}
		}
		f.call("GET", fmt.Sprintf("/api/v1/audit?task_id=%d", a.ID), "read", nil).want(t, 200, "").into(t, &au)
		var actions []string
		for _, it := range au.Items {
			actions = append(actions, it.Action)
			if it.Actor == "" || it.Source != "api" || it.Remote != "127.0.0.1" || time.Since(it.At) > time.Minute {
				t.Errorf("audit row: %+v", it)
			}
		}
		if strings.Join(actions, ",") != "delete,enable,disable,update,create" {
			t.Fatalf("audit actions, newest first: %q", actions)
		}
		upd := au.Items[3]
		if upd.Actor != "admin-bot" || !strings.Contains(string(upd.Before), `"spec":"0 9 * * 1-5"`) || !strings.Contains(string(upd.After), `"spec":"0 10 * * *"`) ||
			!strings.Contains(string(upd.After), `"extra":{"mine":true,"timeout":"30s"}`) {
			t.Errorf("update audit: %s -> %s", upd.Before, upd.After)
		}
		if au.Items[0].Actor != "admin-bot" || string(au.Items[0].After) != "null" || au.Items[4].Before != nil && string(au.Items[4].Before) != "null" {
			t.Errorf("delete/create audit: %+v / %+v", au.Items[0], au.Items[4])
		}
		if au.Items[1].Actor != "operate-bot" {
			t.Errorf("enable by %q, want operate-bot", au.Items[1].Actor)
		}
	})
}

func TestTasks_BadInputWritesNothing(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		f := setup(t, db)
		taken := f.create(cronTask("taken"))
		before := count(t, db, "audit")
		with := func(k string, v any) map[string]any {
			b := cronTask("new")
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
			return b
		}
		cases := []struct {
			name  string
			body  any
			field string
			says  string
		}{
			{"bad spec", with("spec", "61 * * * *"), "spec", "61"},
			{"unknown trigger", with("trigger", "weekly"), "trigger", "weekly"},
			{"unknown function", with("execute_func", "nope"), "execute_func", "nope"},
			{"args that do not decode", with("args", "1,,2"), "args", "bad args"},
			{"unknown option value", with("extra", map[string]any{"overlap": "sometimes"}), "extra", "overlap"},
			{"bad option", with("extra", map[string]any{"timeout": "soon"}), "extra", "timeout"},
			{"extra not an object", with("extra", []int{1}), "extra", "JSON object"},
			{"duplicate key", with("task_key", "taken"), "task_key", fmt.Sprintf("already used by task row %d", taken.ID)},
			{"missing key", with("task_key", nil), "task_key", "required"},
			{"unknown field", with("colour", "red"), "colour", "unknown field"},
			{"wrong type", with("is_valid", "yes"), "is_valid", "want a int"},
			{"bad is_valid", with("is_valid", 7), "is_valid", "0 or 1"},
			{"bad zone", with("extra", map[string]any{"timezone": "Mars/Base"}), "extra", "Mars/Base"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := f.call("POST", "/api/v1/tasks", "admin", c.body).want(t, 400, c.field+": ")
				var d struct {
					Errors []engine.FieldError `json:"errors"`
				}
				r.into(t, &d)
				if len(d.Errors) == 0 || d.Errors[0].Field != c.field || !strings.Contains(d.Errors[0].Message, c.says) {
					t.Errorf("errors %+v, want field %s saying %q", d.Errors, c.field, c.says)
				}
			})
		}
		f.call("POST", "/api/v1/tasks", "admin", "{not json").want(t, 400, "not valid JSON")
		f.call("POST", "/api/v1/tasks", "admin", "").want(t, 400, "body")
		// Several fields wrong at once: each named.
		r := f.call("POST", "/api/v1/tasks", "admin", map[string]any{"task_key": "z", "execute_func": "nope", "trigger": "cron", "spec": "bad"}).want(t, 400, "")
		if !strings.Contains(r.Msg, "spec: ") || !strings.Contains(r.Msg, "execute_func: ") {
			t.Errorf("msg %q does not name both fields", r.Msg)
		}
		// A disabled row may share the key; enabling it is then refused.
		off := f.create(map[string]any{"task_key": "taken", "execute_func": "echo", "trigger": "interval", "spec": "5", "is_valid": 0})
		f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/enable", off.ID), "operate", nil).want(t, 400, "task_key: ")
		// An update to a bad spec is refused and changes nothing.
		f.call("PATCH", fmt.Sprintf("/api/v1/tasks/%d", taken.ID), "admin", map[string]any{"spec": "99 * * * *"}, "If-Match: "+taken.ETag).want(t, 400, "spec: ")

		if n := count(t, db, "task"); n != 2 {
			t.Errorf("%d task rows, want the 2 valid creates", n)
		}
		if n := count(t, db, "audit"); n != before+1 {
			t.Errorf("%d audit rows, want %d: refused requests audited", n, before+1)
		}
		var spec string
		must(t, db.QueryRowx("SELECT spec FROM task WHERE id = ?", taken.ID).Scan(&spec))
		if spec != "0 0 1 1 *" {
			t.Errorf("refused update written: spec %q", spec)
		}
	})
}

func TestPreview(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		f := setup(t, db)
		now := time.Now()
		var p preview
		f.call("GET", "/api/v1/next?trigger=text&spec="+strings.ReplaceAll("每周一三五 10:00", " ", "%20")+"&tz=Asia/Shanghai&n=3", "read", nil).
			want(t, 200, "").into(t, &p)
		if p.AppliedSpec != "cron 0 10 * * 1,3,5" || len(p.Times) != 3 || !strings.HasSuffix(p.Times[0], "T10:00:00+08:00") {
			t.Errorf("text preview %+v", p)
		}
		f.call("GET", "/api/v1/next?trigger=cron&spec=0%209%20*%20*%201-5&tz=America/New_York&n=3", "read", nil).want(t, 200, "").into(t, &p)
		s, err := engine.ParseSchedule("cron", "0 9 * * 1-5", mustZone(t, "America/New_York"), now)
		must(t, err)
		want := s.Next(now)
		if p.AppliedSpec != "cron 0 9 * * 1-5" || p.Timezone != "America/New_York" || len(p.Times) != 3 || p.Times[0] != want.In(mustZone(t, "America/New_York")).Format(time.RFC3339) {
			t.Errorf("preview %+v, first want %s", p, want)
		}
		f.call("GET", "/api/v1/next?trigger=interval&spec=90s&n=2", "read", nil).want(t, 200, "").into(t, &p)
		if p.AppliedSpec != "interval 1m30s" || len(p.Times) != 2 {
			t.Errorf("interval preview %+v", p)
		}
		f.call("GET", "/api/v1/next?spec=61%20*%20*%20*%20*", "read", nil).want(t, 400, "spec: ")
		f.call("GET", "/api/v1/next?spec=@daily&tz=Mars", "read", nil).want(t, 400, "tz: ")
		f.call("GET", "/api/v1/next", "read", nil).want(t, 400, "spec: is required")

		tk := f.create(map[string]any{"task_key": "p", "execute_func": "echo", "trigger": "cron", "spec": "0 9 * * *", "extra": map[string]any{"timezone": "Asia/Shanghai"}})
		f.call("GET", fmt.Sprintf("/api/v1/tasks/%d/next?n=2", tk.ID), "read", nil).want(t, 200, "").into(t, &p)
		if p.Timezone != "Asia/Shanghai" || len(p.Times) != 2 || !strings.HasSuffix(p.Times[0], "T09:00:00+08:00") {
			t.Errorf("stored task preview %+v", p)
		}
		f.call("GET", "/api/v1/tasks/999/next", "read", nil).want(t, 404, "")
	})
}

func mustZone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	must(t, err)
	return loc
}

func TestTriggerAndRuns(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		f := setup(t, db)
		echo := f.create(cronTask("echo"))
		fail := f.create(map[string]any{"task_key": "fail", "execute_func": "fail", "trigger": "cron", "spec": "0 0 1 1 *"})
		block := f.create(map[string]any{"task_key": "block", "execute_func": "block", "trigger": "cron", "spec": "0 0 1 1 *"})
		off := f.create(map[string]any{"task_key": "off", "execute_func": "echo", "trigger": "cron", "spec": "0 0 1 1 *", "is_valid": 0})

		// Synchronous: the last output line as data, args appended.
		r := f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/trigger?wait=true&timeout=20s", echo.ID), "operate", `["x",3]`).want(t, 200, "")
		var data string
		r.into(t, &data)
		if r.Code != 0 || data != `args=[1,2,"x",3]` || r.header.Get("X-Run-Id") == "" {
			t.Errorf("sync trigger: code %d data %q msg %q", r.Code, data, r.Msg)
		}
		// A failing run: code 1 and the last error line.
		r = f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/trigger?wait=1", fail.ID), "operate", nil).want(t, 200, "it broke")
		r.into(t, &data)
		if r.Code != 1 || r.Msg != "it broke" || data != "partial" {
			t.Errorf("sync trigger of a failing task: code %d data %q msg %q", r.Code, data, r.Msg)
		}
		// Asynchronous: the run id at once.
		r = f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/trigger", block.ID), "operate", nil).want(t, 202, "")
		var blockRun int64
		r.into(t, &blockRun)
		if blockRun == 0 || r.header.Get("Location") != fmt.Sprintf("/api/v1/runs/%d", blockRun) {
			t.Fatalf("async trigger: %s %v", r.Data, r.header)
		}
		// Overlap forbid: a second run while it runs is refused.
		// (or, on SQLite within the same millisecond, the fire is taken).
		if r := f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/trigger", block.ID), "operate", nil); r.status != 409 ||
			!strings.Contains(r.Msg, "overlap") && !strings.Contains(r.Msg, "exists already") {
			t.Errorf("second trigger while running: %d %q, want 409", r.status, r.Msg)
		}
		f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/trigger", off.ID), "operate", nil).want(t, 409, "not scheduled")
		f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/trigger?timeout=forever", echo.ID), "operate", nil).want(t, 400, "query timeout")
		f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/trigger", echo.ID), "operate", `{"named": 1}`).want(t, 400, "args: ")
		f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/trigger", echo.ID), "operate", `5`).want(t, 400, "args: ")

		// A bounded wait that runs out: 202, code 2, the run id.
		blk2 := f.create(map[string]any{"task_key": "block2", "execute_func": "block", "trigger": "cron", "spec": "0 0 1 1 *"})
		r = f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/trigger?wait=true&timeout=200ms", blk2.ID), "operate", nil).want(t, 202, "still running")
		var blk2Run int64
		r.into(t, &blk2Run)
		if r.Code != 2 || blk2Run == 0 {
			t.Errorf("timed-out wait: code %d data %s", r.Code, r.Data)
		}

		// Runs: one, with its output tail and attempts; the list, filtered.
		var one struct {
			Run      Run   `json:"run"`
			Attempts []Run `json:"attempts"`
		}
		id := r.header.Get("X-Run-Id")
		f.call("GET", "/api/v1/runs/"+id, "read", nil).want(t, 200, "").into(t, &one)
		if one.Run.Status != models.RunRunning || len(one.Attempts) != 1 || one.Attempts[0].ID != blk2Run || one.Run.Output == nil {
			t.Errorf("run %s: %+v", id, one)
		}
		f.call("GET", "/api/v1/runs/999999", "read", nil).want(t, 404, "run 999999 not found")

		var runs struct {
			Items      []Run  `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		f.call("GET", fmt.Sprintf("/api/v1/runs?task_id=%d", echo.ID), "read", nil).want(t, 200, "").into(t, &runs)
		if len(runs.Items) != 1 || runs.Items[0].Status != models.RunSuccess || runs.Items[0].Source != models.SourceManual {
			t.Errorf("runs of echo: %+v", runs.Items)
		}
		f.call("GET", "/api/v1/runs?status=running", "read", nil).want(t, 200, "").into(t, &runs)
		if len(runs.Items) != 2 || runs.Items[0].ID != blk2Run || runs.Items[1].ID != blockRun {
			t.Errorf("running runs, newest first: %+v", runs.Items)
		}
		f.call("GET", "/api/v1/runs?limit=1", "read", nil).want(t, 200, "").into(t, &runs)
		first := runs.Items[0].ID
		f.call("GET", "/api/v1/runs?limit=1&cursor="+runs.NextCursor, "read", nil).want(t, 200, "").into(t, &runs)
		if len(runs.Items) != 1 || runs.Items[0].ID >= first {
			t.Errorf("second page of runs: %+v after %d", runs.Items, first)
		}
		since := url(time.Now().Add(-time.Hour))
		f.call("GET", "/api/v1/runs?since="+since+"&until="+url(time.Now().Add(time.Hour)), "read", nil).want(t, 200, "").into(t, &runs)
		if n := len(runs.Items); n != 4 && n != 5 { // 5 with the skipped overlap
			t.Errorf("runs in the last hour: %d, want 4 or 5", n)
		}
		f.call("GET", "/api/v1/runs?since=yesterday", "read", nil).want(t, 400, "query since")

		// Kill: the running one is cancelled; again, 409.
		f.call("POST", fmt.Sprintf("/api/v1/runs/%d/kill", blockRun), "operate", nil).want(t, 200, "")
		f.call("POST", fmt.Sprintf("/api/v1/runs/%d/kill", blockRun), "operate", nil).want(t, 409, "not running")
		f.call("POST", "/api/v1/runs/999999/kill", "operate", nil).want(t, 404, "")
		f.call("POST", fmt.Sprintf("/api/v1/runs/%d/kill", blk2Run), "operate", nil).want(t, 200, "")
	})
}

func url(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func TestHealthReadyReplicas(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		f := setup(t, db)
		f.call("GET", "/readyz", "read", nil).want(t, 200, "")
		var rs []struct {
			ID, Kind string
		}
		f.call("GET", "/api/v1/replicas", "read", nil).want(t, 200, "").into(t, &rs)
		if len(rs) != 1 || rs[0].ID != f.eng.ID() || rs[0].Kind != models.KindReplica {
			t.Errorf("replicas %+v, want this engine's %s", rs, f.eng.ID())
		}
		f.call("GET", "/api/v1/replicas?kind=robot", "read", nil).want(t, 400, "query kind")
		f.call("GET", "/api/v1/replicas?dead_within=1h&kind=worker", "read", nil).want(t, 200, "")
		if r := f.call("GET", "/metrics", "read", nil); r.status != 200 {
			t.Errorf("/metrics: %d", r.status)
		}
	})
}

func TestLocalToken(t *testing.T) {
	path := t.TempDir() + "/taskrunner.api-token.sha256"
	tok, created, err := LocalToken(path)
	must(t, err)
	if len(created) != 43 || tok.SHA256 != hashOf(created) || tok.Role != "admin" {
		t.Fatalf("token %q, entry %+v", created, tok)
	}
	again, created2, err := LocalToken(path)
	must(t, err)
	if created2 != "" || again.SHA256 != tok.SHA256 {
		t.Errorf("second start: printed %q, hash %s (want none, %s)", created2, again.SHA256, tok.SHA256)
	}
}

func TestConfig_Validate(t *testing.T) {
	good := Token{Name: "a", Role: "read", SHA256: hashOf("x")}
	for _, c := range []struct {
		key string
		cfg func(*Config)
	}{
		{"", func(*Config) {}},
		{"addr", func(c *Config) { c.Addr = "8080" }},
		{"allow", func(c *Config) { c.Allow = []string{"10.0.0.0/33"} }},
		{"token[1].name", func(c *Config) { c.Tokens = append(c.Tokens, good) }},
		{"token[0].role", func(c *Config) { c.Tokens[0].Role = "root" }},
		{"token[0].sha256", func(c *Config) { c.Tokens[0].SHA256 = "secret" }},
		{"max_wait", func(c *Config) { c.MaxWait = 0 }},
	} {
		cfg := DefaultConfig()
		cfg.Addr, cfg.Allow, cfg.Tokens = "127.0.0.1:8080", []string{"10.0.0.0/8", "::1"}, []Token{good}
		c.cfg(&cfg)
		if key, _ := cfg.Validate(); key != c.key {
			t.Errorf("want key %q at fault, got %q", c.key, key)
		}
	}
}

// Backfill: a dry run lists the fire times, a run starts those that did
// not run, each with its own scheduled time, and a second one finds
// nothing left; a bad range is refused.
func TestBackfill(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		f := setup(t, db)
		task := f.create(map[string]any{"task_key": "hourly", "execute_func": "echo", "trigger": "cron", "spec": "0 * * * *"})
		must(t, f.eng.SyncOnce(t.Context()))
		now := time.Now().UTC()
		hour := now.Truncate(time.Hour) // three fire times whatever the minute: hour-3h, hour-2h, hour-1h
		from, to := hour.Add(-3*time.Hour).Format(time.RFC3339), hour.Add(-time.Hour).Format(time.RFC3339)
		path := fmt.Sprintf("/api/v1/tasks/%d/backfill?from=%s&to=%s", task.ID, from, to)

		var plan backfillPlan
		f.call("POST", path+"&dry_run=true", "operate", nil).want(t, http.StatusOK, "").into(t, &plan)
		if len(plan.Times) != 3 || plan.Pending != 3 {
			t.Fatalf("dry run %+v", plan)
		}
		if n := count(t, db, "execute_task"); n != 0 {
			t.Fatalf("a dry run wrote %d runs", n)
		}
		f.call("POST", path, "read", nil).want(t, http.StatusForbidden, "")
		f.call("POST", path, "operate", nil).want(t, http.StatusAccepted, "")
		deadline := time.Now().Add(10 * time.Second)
		for {
			var n int
			must(t, db.QueryRowx("SELECT COUNT(*) FROM execute_task WHERE source = 'backfill' AND status = 'success'").Scan(&n))
			if n == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d backfill runs recorded, want 3", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		f.call("POST", path+"&dry_run=true", "operate", nil).want(t, http.StatusOK, "").into(t, &plan)
		if plan.Pending != 0 {
			t.Fatalf("after the backfill: %+v", plan)
		}
		f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/backfill?to=%s", task.ID, to), "operate", nil).want(t, http.StatusBadRequest, "query from")
		f.call("POST", fmt.Sprintf("/api/v1/tasks/%d/backfill?from=%s&to=%s", task.ID, from, now.Add(time.Hour).Format(time.RFC3339)), "operate", nil).
			want(t, http.StatusBadRequest, "in the future")
	})
}
