package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad_EachEnvironment(t *testing.T) {
	for _, env := range Environments {
		t.Run(env, func(t *testing.T) {
			c, err := Load(".", env)
			if err != nil {
				t.Fatal(err)
			}
			wantDB := map[string]string{"local": "sqlite", "test": "mysql", "online": "mysql"}[env]
			if c.Common.App.Database != wantDB || c.Location == nil || c.Common.Scheduler.SyncInterval != 10*time.Second {
				t.Fatalf("%s: %+v", env, c.Common)
			}
		})
	}
}

// copyEnv copies conf/local to a temp dir and lets f edit one file.
func copyEnv(t *testing.T, file, old, new string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "local"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"common", "logger", "mysql", "redis"} {
		b, err := os.ReadFile(filepath.Join("local", name+".toml"))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if name == file {
			if !strings.Contains(text, old) {
				t.Fatalf("%s.toml has no %q", name, old)
			}
			text = strings.Replace(text, old, new, 1)
		}
		if err := os.WriteFile(filepath.Join(dir, "local", name+".toml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad_BadInputSaysWhere(t *testing.T) {
	tests := []struct {
		name, file, old, new string
		env                  map[string]string
		want                 []string
	}{
		{"unknown key", "common", "[scheduler]", "[scheduler]\nsync_intervall = \"5s\"", nil,
			[]string{"common.toml", "unknown key", "scheduler.sync_intervall"}},
		{"bad zone", "common", `timezone = "Asia/Shanghai"`, `timezone = "Mars/Base"`, nil,
			[]string{"common.toml", "app.timezone", "Mars/Base"}},
		{"bad duration", "common", `sync_interval = "10s"`, `sync_interval = "often"`, nil,
			[]string{"common.toml", "sync_interval"}},
		{"bad database", "common", `database = "sqlite"`, `database = "oracle"`, nil,
			[]string{"common.toml", "app.database", "oracle"}},
		{"bad log level", "logger", `level = "debug"`, `level = "loud"`, nil,
			[]string{"logger.toml", "level", "loud"}},
		{"bad env value", "", "", "", map[string]string{"TASKRUNNER_COMMON_SCHEDULER_MAX_CONCURRENT_RUNS": "many"},
			[]string{"TASKRUNNER_COMMON_SCHEDULER_MAX_CONCURRENT_RUNS", "many"}},
		{"bad env zone", "", "", "", map[string]string{"TASKRUNNER_COMMON_APP_TIMEZONE": "Nowhere"},
			[]string{"TASKRUNNER_COMMON_APP_TIMEZONE", "Nowhere"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := "."
			if tt.file != "" {
				dir = copyEnv(t, tt.file, tt.old, tt.new)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := Load(dir, "local")
			if err == nil {
				t.Fatal("loaded bad configuration")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err)
			}
		})
	}
}

func TestLoad_EnvOverrides(t *testing.T) {
	t.Setenv("TASKRUNNER_MYSQL_PASSWORD", "s3cret")
	t.Setenv("TASKRUNNER_COMMON_SCHEDULER_SYNC_INTERVAL", "1s")
	c, err := Load(".", "online")
	if err != nil {
		t.Fatal(err)
	}
	if c.MySQL.Password != "s3cret" || c.Common.Scheduler.SyncInterval != time.Second {
		t.Fatalf("overrides not applied: %+v %+v", c.MySQL, c.Common.Scheduler)
	}
}

func TestLoad_UnknownEnv(t *testing.T) {
	if _, err := Load(".", "prod"); err == nil || !strings.Contains(err.Error(), `APP_ENV="prod"`) {
		t.Fatalf("err = %v", err)
	}
}
