package tomlconf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

type innerConf struct {
	Depth int `toml:"depth"`
}

type appConf struct {
	Name     string    `toml:"name"`
	Timezone string    `toml:"timezone"`
	Inner    innerConf `toml:"inner"`
}

type testConf struct {
	Host    string        `toml:"host"`
	Port    int           `toml:"port"`
	Debug   bool          `toml:"debug"`
	Ratio   float64       `toml:"ratio"`
	Small   int8          `toml:"small"`
	Count   uint32        `toml:"count"`
	Timeout time.Duration `toml:"timeout"`
	Tags    []string      `toml:"tags"`
	App     appConf       `toml:"app"`
	Ignored string        `toml:"-"`
}

func defaults() testConf {
	return testConf{
		Host:    "localhost",
		Port:    3306,
		Ratio:   0.5,
		Timeout: 30 * time.Second,
		Tags:    []string{"default"},
		App:     appConf{Name: "taskrunner", Timezone: "UTC", Inner: innerConf{Depth: 1}},
	}
}

// setup writes body to a TOML file in a fresh directory and returns its path.
func setup(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "conf.toml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadSource_File(t *testing.T) {
	tests := []struct {
		name string
		body string
		want func(c *testConf)
	}{
		{"empty file keeps defaults", "", func(c *testConf) {}},
		{"top-level keys", `
host = "db.internal"
port = 3307
debug = true
ratio = 2
small = -7
count = 9
tags = ["a", "b"]
`, func(c *testConf) {
			c.Host, c.Port, c.Debug, c.Ratio, c.Small, c.Count = "db.internal", 3307, true, 2, -7, 9
			c.Tags = []string{"a", "b"}
		}},
		{"duration strings", `timeout = "1m30s"`, func(c *testConf) { c.Timeout = 90 * time.Second }},
		{"nested tables keep unset defaults", `
[app]
timezone = "Asia/Shanghai"
[app.inner]
depth = 3
`, func(c *testConf) { c.App.Timezone, c.App.Inner.Depth = "Asia/Shanghai", 3 }},
		{"empty array", `tags = []`, func(c *testConf) { c.Tags = []string{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := setup(t, tt.body)
			got := defaults()
			src, err := LoadSource(path, "", &got)
			if err != nil {
				t.Fatal(err)
			}
			want := defaults()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if src.File != path || len(src.Env) != 0 {
				t.Errorf("source = %+v", src)
			}
		})
	}
}

func TestLoadSource_FileErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // FILE stands for the path.
	}{
		{"unknown key", "hots = \"x\"\n", `FILE: unknown key "hots"`},
		{"unknown keys sorted on one line", "prot = 1\nhots = \"x\"\n[app]\nzone = \"UTC\"\n",
			`FILE: unknown keys "app.zone", "hots", "prot"`},
		{"unknown table named once", "[mysql]\nhost = \"x\"\nport = 1\n", `FILE: unknown key "mysql"`},
		{"string for integer", "host = \"x\"\nport = \"abc\"\n", `FILE:2: key "port": want an integer, got "abc"`},
		{"integer for string", "host = 1\n", `FILE:1: key "host": want a string, got 1`},
		{"string for boolean", "debug = \"yes\"\n", `FILE:1: key "debug": want a boolean (true or false), got "yes"`},
		{"string for float", "ratio = \"half\"\n", `FILE:1: key "ratio": want a number, got "half"`},
		{"string for array", "tags = \"a,b\"\n", `FILE:1: key "tags": want an array, got "a,b"`},
		{"bad array element", "tags = [\"a\", 1]\n", `FILE:1: key "tags": want an array of strings, got ["a", 1]`},
		{"nested bad type", "[app]\nname = \"x\"\n[app.inner]\ndepth = \"deep\"\n",
			`FILE:4: key "app.inner.depth": want an integer, got "deep"`},
		{"value for table", "app = 1\n", `FILE:1: key "app": want a table, got 1`},
		{"out of range", "\nsmall = 300\n", `FILE:2: key "small": 300 is out of range for int8`},
		{"bad duration", "timeout = \"10x\"\n", `FILE:1: key "timeout": want a duration like "10s", got "10x"`},
		{"boolean for duration", "timeout = true\n", `FILE:1: key "timeout": want a duration like "10s", got true`},
		{"integer for duration", "timeout = 10\n",
			`FILE: key "timeout": want a duration string like "10s", got 10 (a bare integer would be nanoseconds)`},
		{"syntax", "host = \"x\"\nport = \n", `FILE:2: expected value but found '\n' instead`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := setup(t, tt.body)
			c := defaults()
			_, err := LoadSource(path, "", &c)
			want := strings.ReplaceAll(tt.want, "FILE", path)
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant  %s", err, want)
			}
			var ke KeyError
			if !errors.As(err, &ke) || ke.File != path {
				t.Errorf("err is not a KeyError for %s: %#v", path, err)
			}
		})
	}
}

func TestLoadSource_MissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local", "mysql.toml")
	c := defaults()
	_, err := LoadSource(path, "", &c)
	if want := path + ": no such file or directory"; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(err, fs.ErrNotExist) = false for %v", err)
	}
}

func TestLoadSource_NotAStructPointer(t *testing.T) {
	path := setup(t, "")
	for _, v := range []any{nil, testConf{}, (*testConf)(nil), new(int)} {
		if _, err := LoadSource(path, "", v); err == nil {
			t.Errorf("LoadSource(%T) = nil, want an error", v)
		}
	}
}

func TestLoadSource_Env(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want func(c *testConf)
	}{
		{"string", map[string]string{"TOMLCONFTEST_HOST": "db"}, func(c *testConf) { c.Host = "db" }},
		{"empty string still overrides", map[string]string{"TOMLCONFTEST_HOST": ""}, func(c *testConf) { c.Host = "" }},
		{"int", map[string]string{"TOMLCONFTEST_PORT": " 3308 "}, func(c *testConf) { c.Port = 3308 }},
		{"int8", map[string]string{"TOMLCONFTEST_SMALL": "-128"}, func(c *testConf) { c.Small = -128 }},
		{"uint32", map[string]string{"TOMLCONFTEST_COUNT": "4294967295"}, func(c *testConf) { c.Count = 4294967295 }},
		{"bool", map[string]string{"TOMLCONFTEST_DEBUG": "true"}, func(c *testConf) { c.Debug = true }},
		{"float", map[string]string{"TOMLCONFTEST_RATIO": "0.25"}, func(c *testConf) { c.Ratio = 0.25 }},
		{"duration", map[string]string{"TOMLCONFTEST_TIMEOUT": "2m"}, func(c *testConf) { c.Timeout = 2 * time.Minute }},
		{"string list", map[string]string{"TOMLCONFTEST_TAGS": "x, y ,z"}, func(c *testConf) { c.Tags = []string{"x", "y", "z"} }},
		{"empty string list", map[string]string{"TOMLCONFTEST_TAGS": ""}, func(c *testConf) { c.Tags = []string{} }},
		{"nested table", map[string]string{"TOMLCONFTEST_APP_TIMEZONE": "Europe/Paris", "TOMLCONFTEST_APP_INNER_DEPTH": "5"},
			func(c *testConf) { c.App.Timezone, c.App.Inner.Depth = "Europe/Paris", 5 }},
		{"env wins over file", map[string]string{"TOMLCONFTEST_APP_NAME": "from-env"}, func(c *testConf) { c.App.Name = "from-env" }},
		{"tag \"-\" has no variable", map[string]string{"TOMLCONFTEST_IGNORED": "x"}, func(c *testConf) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := setup(t, "port = 1\n[app]\nname = \"from-file\"\n")
			got := defaults()
			src, err := LoadSource(path, "TOMLCONFTEST", &got)
			if err != nil {
				t.Fatal(err)
			}
			want := defaults()
			want.Port, want.App.Name = 1, "from-file"
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			for name := range tt.env {
				found := false
				for _, v := range src.Env {
					found = found || v == name
				}
				if found == (name == "TOMLCONFTEST_IGNORED") {
					t.Errorf("Source.Env = %v; variable %s recorded: %v", src.Env, name, found)
				}
			}
		})
	}
}

func TestLoadSource_EnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"integer", map[string]string{"TOMLCONFTEST_PORT": "abc"}, `TOMLCONFTEST_PORT: want an integer, got "abc"`},
		{"empty integer", map[string]string{"TOMLCONFTEST_PORT": ""}, `TOMLCONFTEST_PORT: want an integer, got ""`},
		{"int8 range", map[string]string{"TOMLCONFTEST_SMALL": "300"}, `TOMLCONFTEST_SMALL: "300" is out of range for int8`},
		{"negative uint", map[string]string{"TOMLCONFTEST_COUNT": "-1"}, `TOMLCONFTEST_COUNT: want a non-negative integer, got "-1"`},
		{"bool", map[string]string{"TOMLCONFTEST_DEBUG": "yes"}, `TOMLCONFTEST_DEBUG: want true or false, got "yes"`},
		{"float", map[string]string{"TOMLCONFTEST_RATIO": "half"}, `TOMLCONFTEST_RATIO: want a number, got "half"`},
		{"duration without unit", map[string]string{"TOMLCONFTEST_TIMEOUT": "10"}, `TOMLCONFTEST_TIMEOUT: want a duration like "10s", got "10"`},
		{"nested", map[string]string{"TOMLCONFTEST_APP_INNER_DEPTH": "x"}, `TOMLCONFTEST_APP_INNER_DEPTH: want an integer, got "x"`},
		{"every bad variable, in field order", map[string]string{"TOMLCONFTEST_DEBUG": "yes", "TOMLCONFTEST_PORT": "abc"},
			"TOMLCONFTEST_PORT: want an integer, got \"abc\"\nTOMLCONFTEST_DEBUG: want true or false, got \"yes\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := setup(t, "")
			c := defaults()
			_, err := LoadSource(path, "TOMLCONFTEST", &c)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant  %s", err, tt.want)
			}
			var ke KeyError
			if !errors.As(err, &ke) || ke.Env == "" || ke.File != path {
				t.Errorf("err is not a KeyError naming a variable: %#v", err)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	tests := []struct{ prefix, key, want string }{
		{"TASKRUNNER_MYSQL", "password", "TASKRUNNER_MYSQL_PASSWORD"},
		{"TASKRUNNER_COMMON", "app.timezone", "TASKRUNNER_COMMON_APP_TIMEZONE"},
		{"TASKRUNNER_COMMON", "scheduler.max-concurrent_runs", "TASKRUNNER_COMMON_SCHEDULER_MAX_CONCURRENT_RUNS"},
		{"", "port", "PORT"},
	}
	for _, tt := range tests {
		if got := Env(tt.prefix, tt.key); got != tt.want {
			t.Errorf("Env(%q, %q) = %q, want %q", tt.prefix, tt.key, got, tt.want)
		}
	}
}

func TestKeyError_Error(t *testing.T) {
	tests := []struct {
		err  KeyError
		want string
	}{
		{KeyError{File: "conf/local/common.toml", Key: "timezone", Msg: `unknown time zone "Mars/Base"`},
			`conf/local/common.toml: key "timezone": unknown time zone "Mars/Base"`},
		{KeyError{File: "conf/local/mysql.toml", Key: "port", Line: 3, Msg: `want an integer, got "abc"`},
			`conf/local/mysql.toml:3: key "port": want an integer, got "abc"`},
		{KeyError{File: "conf/local/mysql.toml", Key: "port", Env: "TASKRUNNER_MYSQL_PORT", Msg: `want an integer, got "abc"`},
			`TASKRUNNER_MYSQL_PORT: want an integer, got "abc"`},
		{KeyError{File: "conf/local/mysql.toml", Msg: `unknown key "hots"`}, `conf/local/mysql.toml: unknown key "hots"`},
		{KeyError{Key: "level", Msg: "bad"}, `key "level": bad`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %s\nwant      %s", got, tt.want)
		}
	}
}

func TestSource_Errorf(t *testing.T) {
	t.Setenv("TOMLCONFTEST_APP_TIMEZONE", "Mars/Base")
	path := setup(t, "[app]\nname = \"x\"\n")
	c := defaults()
	src, err := LoadSource(path, "TOMLCONFTEST", &c)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ key, want string }{
		{"app.timezone", `TOMLCONFTEST_APP_TIMEZONE: unknown time zone "Mars/Base"`},
		{"app.name", path + `: key "app.name": unknown time zone "Mars/Base"`},
		{"", path + `: unknown time zone "Mars/Base"`},
	}
	for _, tt := range tests {
		if got := src.Errorf(tt.key, "unknown time zone %q", "Mars/Base").Error(); got != tt.want {
			t.Errorf("Errorf(%q) = %s\nwant          %s", tt.key, got, tt.want)
		}
	}
}

func TestSource_Wrap(t *testing.T) {
	src := Source{File: "conf/local/logger.toml", Prefix: "TASKRUNNER_LOGGER",
		Env: map[string]string{"level": "TASKRUNNER_LOGGER_LEVEL"}}
	plain := errors.New("boom")
	pinned := KeyError{File: "other.toml", Key: "x", Msg: "bad"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"key from env", KeyError{Key: "level", Msg: "bad level"}, "TASKRUNNER_LOGGER_LEVEL: bad level"},
		{"key from file", &KeyError{Key: "format", Msg: "bad format"}, `conf/local/logger.toml: key "format": bad format`},
		{"joined", errors.Join(KeyError{Key: "level", Msg: "a"}, KeyError{Key: "file", Msg: "b"}),
			"TASKRUNNER_LOGGER_LEVEL: a\nconf/local/logger.toml: key \"file\": b"},
		{"other error", plain, "conf/local/logger.toml: boom"},
		{"already pinned", pinned, `other.toml: key "x": bad`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := src.Wrap(tt.err)
			if tt.want == "" {
				if got != nil {
					t.Fatalf("Wrap(nil) = %v", got)
				}
				return
			}
			if got == nil || got.Error() != tt.want {
				t.Fatalf("Wrap = %v\nwant   %s", got, tt.want)
			}
		})
	}
	if !errors.Is(src.Wrap(plain), plain) {
		t.Error("Wrap lost the wrapped error")
	}
}

// Policy is embedded in schedulerConf the way engine.Defaults is embedded
// in engine.Config: its keys belong to the enclosing table.
type Policy struct {
	Misfire string        `toml:"misfire"`
	Grace   time.Duration `toml:"grace"`
}

type schedulerConf struct {
	Sync time.Duration `toml:"sync"`
	Policy
	Zone *time.Location `toml:"-"`
}

type embedConf struct {
	Scheduler schedulerConf `toml:"scheduler"`
}

func TestLoadSource_EmbeddedStruct(t *testing.T) {
	fresh := func() embedConf {
		return embedConf{Scheduler: schedulerConf{Sync: time.Second, Policy: Policy{Misfire: "skip", Grace: 10 * time.Second}}}
	}
	t.Run("file keys are flat", func(t *testing.T) {
		path := setup(t, "[scheduler]\nsync = \"2s\"\nmisfire = \"all\"\n")
		got := fresh()
		if _, err := LoadSource(path, "", &got); err != nil {
			t.Fatal(err)
		}
		want := fresh()
		want.Scheduler.Sync, want.Scheduler.Misfire = 2*time.Second, "all"
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})
	t.Run("env overrides", func(t *testing.T) {
		t.Setenv("TOMLCONFTEST_SCHEDULER_MISFIRE", "once")
		t.Setenv("TOMLCONFTEST_SCHEDULER_GRACE", "3s")
		path := setup(t, "[scheduler]\nmisfire = \"all\"\n")
		got := fresh()
		src, err := LoadSource(path, "TOMLCONFTEST", &got)
		if err != nil {
			t.Fatal(err)
		}
		if got.Scheduler.Misfire != "once" || got.Scheduler.Grace != 3*time.Second {
			t.Errorf("got %+v", got.Scheduler)
		}
		if src.Env["scheduler.misfire"] != "TOMLCONFTEST_SCHEDULER_MISFIRE" || src.Env["scheduler.grace"] != "TOMLCONFTEST_SCHEDULER_GRACE" {
			t.Errorf("Source.Env = %v", src.Env)
		}
	})
	errs := []struct{ name, body, want string }{
		{"bad type", "[scheduler]\nmisfire = 1\n", `FILE:2: key "scheduler.misfire": want a string, got 1`},
		{"integer for duration", "[scheduler]\ngrace = 10\n",
			`FILE: key "scheduler.grace": want a duration string like "10s", got 10 (a bare integer would be nanoseconds)`},
		{"embedded name is not a table", "[scheduler.Policy]\nmisfire = \"all\"\n", `FILE: unknown key "scheduler.Policy"`},
		{"tag \"-\" is not a key", "[scheduler]\nzone = \"UTC\"\n", `FILE: unknown key "scheduler.zone"`},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			path := setup(t, tt.body)
			c := fresh()
			_, err := LoadSource(path, "", &c)
			if want := strings.ReplaceAll(tt.want, "FILE", path); err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant  %s", err, want)
			}
		})
	}
}
