package logger

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"taskrunner/libs/tomlconf"
)

// setup returns a config logging to a file in a fresh, not yet created
// directory, and the file's path.
func setup(t *testing.T, level, format string) (Config, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "log", "nested", "taskrunner.log")
	return Config{Level: level, Format: format, File: path}, path
}

func readLog(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"default", DefaultConfig(), ""},
		{"debug json", Config{Level: "debug", Format: "json"}, ""},
		{"bad level", Config{Level: "verbose", Format: "text"},
			`key "level": want one of debug, info, warn, error, got "verbose"`},
		{"levels are lower case", Config{Level: "INFO", Format: "text"},
			`key "level": want one of debug, info, warn, error, got "INFO"`},
		{"bad format", Config{Level: "info", Format: "logfmt"}, `key "format": want one of text, json, got "logfmt"`},
		{"both bad", Config{},
			"key \"level\": want one of debug, info, warn, error, got \"\"\nkey \"format\": want one of text, json, got \"\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate() = %v\nwant         %s", err, tt.want)
			}
		})
	}
}

func TestConfig_ValidatePinnedToSource(t *testing.T) {
	src := tomlconf.Source{File: "conf/local/logger.toml", Env: map[string]string{"format": "TASKRUNNER_LOGGER_FORMAT"}}
	err := src.Wrap(Config{Level: "loud", Format: "xml"}.Validate())
	want := "conf/local/logger.toml: key \"level\": want one of debug, info, warn, error, got \"loud\"\n" +
		"TASKRUNNER_LOGGER_FORMAT: want one of text, json, got \"xml\""
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
}

func TestNew_Level(t *testing.T) {
	tests := []struct {
		level string
		want  []string // Messages written, of debug, info, warn, error.
	}{
		{"debug", []string{"d", "i", "w", "e"}},
		{"info", []string{"i", "w", "e"}},
		{"warn", []string{"w", "e"}},
		{"error", []string{"e"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			c, path := setup(t, tt.level, "json")
			log, closer, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("d")
			log.Info("i")
			log.Warn("w")
			log.Error("e")
			if err := closer.Close(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, line := range readLog(t, path) {
				var rec struct{ Msg string }
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				got = append(got, rec.Msg)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("messages = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNew_Format(t *testing.T) {
	tests := []struct {
		format string
		check  func(t *testing.T, line string)
	}{
		{"text", func(t *testing.T, line string) {
			if !strings.Contains(line, "level=INFO msg=started task_id=7") {
				t.Errorf("text line = %q", line)
			}
		}},
		{"json", func(t *testing.T, line string) {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			if rec["level"] != "INFO" || rec["msg"] != "started" || rec["task_id"] != 7.0 {
				t.Errorf("json record = %v", rec)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			c, path := setup(t, "info", tt.format)
			log, closer, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			log.Info("started", "task_id", 7)
			if err := closer.Close(); err != nil {
				t.Fatal(err)
			}
			lines := readLog(t, path)
			if len(lines) != 1 {
				t.Fatalf("got %d lines: %q", len(lines), lines)
			}
			tt.check(t, lines[0])
		})
	}
}

func TestNew_DurationsAsStrings(t *testing.T) {
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			c, path := setup(t, "info", format)
			log, closer, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			log.With("sync_interval", 10*time.Second).WithGroup("run").Info("started", "took", 1500*time.Microsecond)
			if err := closer.Close(); err != nil {
				t.Fatal(err)
			}
			line := readLog(t, path)[0]
			if format == "text" {
				if !strings.Contains(line, "sync_interval=10s run.took=1.5ms") {
					t.Errorf("text line = %q", line)
				}
				return
			}
			var rec struct {
				SyncInterval any `json:"sync_interval"`
				Run          struct{ Took any }
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			if rec.SyncInterval != "10s" || rec.Run.Took != "1.5ms" {
				t.Errorf("json line = %s", line)
			}
		})
	}
}

func TestNew_FileAppends(t *testing.T) {
	c, path := setup(t, "info", "text")
	for _, msg := range []string{"first", "second"} {
		log, closer, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		log.Info(msg)
		if err := closer.Close(); err != nil {
			t.Fatal(err)
		}
	}
	lines := readLog(t, path)
	if len(lines) != 2 || !strings.Contains(lines[0], "msg=first") || !strings.Contains(lines[1], "msg=second") {
		t.Errorf("log = %q, want first then second", lines)
	}
}

func TestNew_Errors(t *testing.T) {
	t.Run("invalid config", func(t *testing.T) {
		_, _, err := New(Config{Level: "info", Format: "xml"})
		var ke tomlconf.KeyError
		if !errors.As(err, &ke) || ke.Key != "format" {
			t.Fatalf("err = %v, want a KeyError for format", err)
		}
	})
	t.Run("directory in the way", func(t *testing.T) {
		dir := t.TempDir()
		blocker := filepath.Join(dir, "log")
		if err := os.WriteFile(blocker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := New(Config{Level: "info", Format: "text", File: filepath.Join(blocker, "x.log")})
		if err == nil || !strings.Contains(err.Error(), "create log directory") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestNew_Stderr(t *testing.T) {
	log, closer, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if log == nil || closer.Close() != nil {
		t.Fatalf("logger %v, closer error %v", log, closer.Close())
	}
}

// TestConfig_ConfFiles loads the shipped logger.toml of every APP_ENV the way
// main does, so a key renamed here or there fails a test, not a deploy.
func TestConfig_ConfFiles(t *testing.T) {
	tests := []struct {
		env  string
		want Config
	}{
		{"local", Config{Level: "info", Format: "text"}},
		{"test", Config{Level: "debug", Format: "json"}},
		{"online", Config{Level: "info", Format: "json"}},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			c := DefaultConfig()
			src, err := tomlconf.LoadSource(filepath.Join("../../conf", tt.env, "logger.toml"), "", &c) // No overrides: test the file, not the shell.
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Wrap(c.Validate()); err != nil {
				t.Fatal(err)
			}
			if c != tt.want {
				t.Errorf("got %+v, want %+v", c, tt.want)
			}
		})
	}
}
