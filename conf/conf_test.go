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
			if c.Common.App.Database != wantDB || c.Common.Scheduler.SyncInterval != 10*time.Second {
				t.Fatalf("%s: %+v", env, c.Common)
			}
			if loc := c.Common.Scheduler.Location; loc == nil || loc.String() != c.Common.App.Timezone {
				t.Fatalf("%s: scheduler location %v, want app.timezone %q", env, loc, c.Common.App.Timezone)
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
	for _, name := range []string{"common", "logger", "mysql", "redis", "api", "kinds", "notice"} {
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
		{"dead_after not below lease", "common", `dead_after = "3s"`, `dead_after = "30s"`, nil,
			[]string{"common.toml", `key "scheduler.dead_after"`, "less than lease", "30s"}},
		{"output_limit above the column", "common", `output_limit = 65535`, `output_limit = 65536`, nil,
			[]string{"common.toml", `key "scheduler.output_limit"`, "65536"}},
		{"bad embedded policy", "common", `misfire = "skip"`, `misfire = "sometimes"`, nil,
			[]string{"common.toml", `key "scheduler.misfire"`, "sometimes"}},
		{"bad env policy", "", "", "", map[string]string{"TASKRUNNER_COMMON_SCHEDULER_MISFIRE": "never"},
			[]string{"TASKRUNNER_COMMON_SCHEDULER_MISFIRE", "never"}},
		{"bad env dead_after", "", "", "", map[string]string{"TASKRUNNER_COMMON_SCHEDULER_DEAD_AFTER": "1s"},
			[]string{"TASKRUNNER_COMMON_SCHEDULER_DEAD_AFTER", "2 x heartbeat", "1s"}},
		{"bad metrics address", "common", `metrics_addr = ""`, `metrics_addr = "9101"`, nil,
			[]string{"common.toml", `key "worker.metrics_addr"`, "host:port", "9101"}},
		{"bad env metrics address", "", "", "", map[string]string{"TASKRUNNER_COMMON_WORKER_METRICS_ADDR": "localhost"},
			[]string{"TASKRUNNER_COMMON_WORKER_METRICS_ADDR", "localhost"}},
		{"bad log level", "logger", `level = "info"`, `level = "loud"`, nil,
			[]string{"logger.toml", "level", "loud"}},
		{"bad retention age", "common", `keep = "30d"`, `keep = "a month"`, nil,
			[]string{"common.toml", "retention.keep", "a month"}},
		{"bare number age", "common", `keep = "30d"`, `keep = 30`, nil,
			[]string{"common.toml", "retention.keep", "30"}},
		{"bad alert event", "notice", `on = ["failed", "timeout", "lost", "recovered", "missed"]`, `on = ["failed", "exploded"]`, nil,
			[]string{"notice.toml", `key "alert.on"`, "exploded"}},
		{"bad dingtalk webhook", "notice", "DINGTALK_WEBHOOK\nwebhook = \"\"", "DINGTALK_WEBHOOK\nwebhook = \"ftp://oapi.example/robot?access_token=s3cret\"", nil,
			[]string{"notice.toml", `key "dingtalk.webhook"`}},
		{"unknown notice key", "notice", "[wecom]", "[wecom]\nwebhok = \"x\"", nil,
			[]string{"notice.toml", "unknown key", "wecom.webhok"}},
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

// A bad webhook address is refused without quoting it: it holds the
// robot's credential.
func TestLoad_NoticeSecretNotQuoted(t *testing.T) {
	t.Setenv("TASKRUNNER_NOTICE_WECOM_WEBHOOK", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?token=s3cret")
	_, err := Load(".", "online")
	if err == nil || !strings.Contains(err.Error(), "TASKRUNNER_NOTICE_WECOM_WEBHOOK") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoad_EnvOverrides(t *testing.T) {
	t.Setenv("TASKRUNNER_MYSQL_PASSWORD", "s3cret")
	t.Setenv("TASKRUNNER_COMMON_SCHEDULER_SYNC_INTERVAL", "1s")
	t.Setenv("TASKRUNNER_COMMON_SCHEDULER_MISFIRE", "all") // a key of the embedded engine.Defaults
	t.Setenv("TASKRUNNER_COMMON_SCHEDULER_DEAD_AFTER", "2s")
	c, err := Load(".", "online")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Common.Scheduler
	if c.MySQL.Password != "s3cret" || s.SyncInterval != time.Second || s.Misfire != "all" || s.DeadAfter != 2*time.Second {
		t.Fatalf("overrides not applied: %+v %+v", c.MySQL, s)
	}
}

func TestLoad_UnknownEnv(t *testing.T) {
	if _, err := Load(".", "prod"); err == nil || !strings.Contains(err.Error(), `APP_ENV="prod"`) {
		t.Fatalf("err = %v", err)
	}
}
