package kinds

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"taskrunner/tasks"
)

// setup returns kinds on a fresh collect/ and logs/ in a temp dir, with
// config changed by edit.
func setup(t *testing.T, edit func(*Config)) (*Kinds, Config) {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Shell.CollectDir = filepath.Join(dir, "collect")
	cfg.Shell.LogDir = filepath.Join(dir, "logs")
	cfg.Shell.KillGrace = 300 * time.Millisecond
	if err := os.Mkdir(cfg.Shell.CollectDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&cfg)
	}
	k, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k, cfg
}

// newRun returns a run of task key with extra (an object, as JSON), whose
// log lines go to logs.
func newRun(t *testing.T, key string, extra any, logs *bytes.Buffer) *tasks.Run {
	t.Helper()
	run := tasks.NewRun(64 << 10)
	run.TaskID, run.TaskKey, run.ExecID, run.Attempt = 7, key, 42, 1
	run.TraceID = "trace-" + key
	run.ScheduledAt = time.Date(2026, 3, 1, 8, 30, 0, 0, time.FixedZone("CST", 8*3600))
	if logs == nil {
		logs = &bytes.Buffer{}
	}
	run.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	switch x := extra.(type) {
	case string:
		run.Extra = json.RawMessage(x)
	default:
		b, err := json.Marshal(extra)
		if err != nil {
			t.Fatal(err)
		}
		run.Extra = b
	}
	return run
}

// writeFile writes a file under dir with mode.
func writeFile(t *testing.T, dir, name, text string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKinds_Register(t *testing.T) {
	k, _ := setup(t, nil)
	r := tasks.NewRegistry()
	if err := k.Register(r); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Names(), ","); got != "http,shell,sql,sql_produce" {
		t.Fatalf("names %s", got)
	}
	if err := k.Register(r); !errors.Is(err, tasks.ErrDuplicateFunc) {
		t.Fatalf("second Register: %v", err)
	}
	for _, c := range []struct {
		name, args string
		ok         bool
	}{
		{"shell", `"a",1,true,-2.5`, true},
		{"shell", `[]`, true},
		{"shell", `{"a":1}`, false},
		{"shell", `"a",[1]`, false},
		{"shell", `null`, false},
		{"shell", `"a",null`, false},
		{"sql", `1,"x",null,2.5`, true},
		{"sql", `{"id":1}`, false},
		{"sql_produce", `"eu",1`, true},
		{"sql_produce", `{"id":1}`, false},
		{"http", ``, true},
		{"http", `"x"`, false},
	} {
		args, err := tasks.ParseArgs(c.args)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Check(c.name, args); (err == nil) != c.ok {
			t.Errorf("Check(%s, %s) = %v, want ok=%v", c.name, c.args, err, c.ok)
		}
	}
}

func TestConfig_Validate(t *testing.T) {
	for _, c := range []struct {
		key  string
		edit func(*Config)
	}{
		{"", func(*Config) {}},
		{"shell.collect_dir", func(c *Config) { c.Shell.CollectDir = "" }},
		{"shell.kill_grace", func(c *Config) { c.Shell.KillGrace = 0 }},
		{"shell.log_max_bytes", func(c *Config) { c.Shell.LogMaxBytes = 10 }},
		{"shell.interpreters.ruby", func(c *Config) { c.Shell.Interpreters = map[string]string{"ruby": "ruby"} }},
		{"shell.interpreters.python", func(c *Config) { c.Shell.Interpreters = map[string]string{"python": "python3 -u"} }},
		{"http.allow_hosts[1]", func(c *Config) { c.HTTP.AllowHosts = []string{"ok.example", "http://x/"} }},
		{"http.redact_headers[0]", func(c *Config) { c.HTTP.RedactHeaders = []string{"X Bad"} }},
		{"sql.datasources.a.driver", func(c *Config) { c.SQL.Datasources = map[string]Datasource{"a": {Driver: "postgres"}} }},
		{"sql.datasources.b.dsn", func(c *Config) {
			c.SQL.Datasources = map[string]Datasource{"a": {Driver: "sqlite", Path: "x.db"}, "b": {Driver: "mysql", DSN: "nonsense"}}
		}},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		key, err := cfg.Validate()
		if key != c.key || (err == nil) != (c.key == "") {
			t.Errorf("Validate() = %q, %v; want key %q", key, err, c.key)
		}
	}
}
