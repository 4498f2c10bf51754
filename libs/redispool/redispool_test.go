package redispool

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestConfig_Validate(t *testing.T) {
	base := DefaultConfig()
	cases := []struct {
		name    string
		edit    func(c *Config)
		wantKey string
		mode    Mode
	}{
		{"default", func(c *Config) {}, "", ModeSingle},
		{"off", func(c *Config) { c.Addr = "" }, "", ModeSingle},
		{"bad addr", func(c *Config) { c.Addr = "nohost" }, "addr", ModeSingle},
		{"one addrs", func(c *Config) { c.Addr, c.Addrs = "", []string{"a:1"} }, "", ModeSingle},
		{"cluster", func(c *Config) { c.Addr, c.Addrs = "", []string{"a:1", "b:2"} }, "", ModeCluster},
		{"cluster db", func(c *Config) { c.Addr, c.Addrs, c.DB = "", []string{"a:1", "b:2"}, 3 }, "db", ModeCluster},
		{"sentinel", func(c *Config) { c.Addr, c.Addrs, c.MasterName = "", []string{"a:1", "b:2"}, "mymaster" }, "", ModeSentinel},
		{"sentinel db", func(c *Config) { c.Addr, c.Addrs, c.MasterName, c.DB = "", []string{"a:1"}, "m", 2 }, "", ModeSentinel},
		{"both", func(c *Config) { c.Addrs = []string{"a:1"} }, "addrs", ModeSingle},
		{"bad addrs", func(c *Config) { c.Addr, c.Addrs = "", []string{"a:1", "b"} }, "addrs", ModeCluster},
		{"master without addrs", func(c *Config) { c.Addr, c.MasterName = "", "m" }, "master_name", ModeSentinel},
		{"db", func(c *Config) { c.DB = 16 }, "db", ModeSingle},
		{"prefix", func(c *Config) { c.Prefix = "" }, "prefix", ModeSingle},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			key, err := c.Validate()
			if key != tc.wantKey || (err != nil) != (tc.wantKey != "") {
				t.Errorf("Validate() = %q, %v; want key %q", key, err, tc.wantKey)
			}
			if got := c.Mode(); got != tc.mode {
				t.Errorf("Mode() = %s, want %s", got, tc.mode)
			}
		})
	}
}

func TestConfigWarnings(t *testing.T) {
	cases := []struct {
		name string
		conf map[string]string
		want []string // a word of each warning, in order
	}{
		{"safe", map[string]string{"maxmemory-policy": "noeviction", "appendonly": "yes", "save": ""}, nil},
		{"rdb only", map[string]string{"maxmemory-policy": "noeviction", "appendonly": "no", "save": "3600 1"}, nil},
		{"lru", map[string]string{"maxmemory-policy": "allkeys-lru", "appendonly": "yes", "save": ""}, []string{"allkeys-lru"}},
		{"no persistence", map[string]string{"maxmemory-policy": "noeviction", "appendonly": "no", "save": ""}, []string{"persistence is off"}},
		{"both", map[string]string{"maxmemory-policy": "volatile-lru", "appendonly": "no", "save": " "}, []string{"volatile-lru", "persistence is off"}},
		{"unknown", map[string]string{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ConfigWarnings(tc.conf)
			if len(got) != len(tc.want) {
				t.Fatalf("ConfigWarnings = %q, want %d warnings", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) || !strings.Contains(got[i], "database") {
					t.Errorf("warning %d = %q, want it to name %q and say why", i, got[i], w)
				}
			}
		})
	}
}

func TestVersionWarning(t *testing.T) {
	for info, warn := range map[string]bool{
		"# Server\r\nredis_version:7.0.15\r\n": false,
		"redis_version:6.2.0\r\n":              false,
		"redis_version:6.0.16\r\n":             true,
		"redis_version:5.0.7\r\n":              true,
		"redis_version:8.2.1\r\n":              false,
		"nothing":                              false,
	} {
		if got := versionWarning(info) != ""; got != warn {
			t.Errorf("versionWarning(%q) warns %v, want %v", info, got, warn)
		}
	}
}

// TestCheckServer runs the check on the test server: whatever its
// configuration, it returns, and a warning it logs is one of
// ConfigWarnings'.
func TestCheckServer(t *testing.T) {
	addr := os.Getenv("TASKRUNNER_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("TASKRUNNER_TEST_REDIS_ADDR not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := DefaultConfig()
	c.Addr = addr
	rdb, err := OpenUniversal(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	conf, err := rdb.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	CheckServer(ctx, rdb, slog.New(slog.NewTextHandler(&buf, nil)))
	want := len(ConfigWarnings(conf))
	if got := strings.Count(buf.String(), "level=WARN"); got != want {
		t.Errorf("CheckServer logged %d warnings, want %d:\n%s", got, want, buf.String())
	}
}

// TestOpen_Refused: a server that does not answer is an error naming it,
// for both openers.
func TestOpen_Refused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := DefaultConfig()
	c.Addr = "127.0.0.1:1"
	if _, err := Open(ctx, c); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Open = %v, want an error naming the address", err)
	}
	if _, err := OpenUniversal(ctx, c); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("OpenUniversal = %v, want an error naming the address", err)
	}
	c.Addr, c.Addrs = "", []string{"127.0.0.1:1", "127.0.0.1:2"}
	if _, err := Open(ctx, c); err == nil || !strings.Contains(err.Error(), "Cluster") {
		t.Errorf("Open of a Cluster = %v, want an error saying so", err)
	}
}

// refuseConfig makes the client's CONFIG commands fail as a managed Redis
// (ElastiCache, Memorystore) refuses them.
type refuseConfig struct{}

func (refuseConfig) DialHook(next redis.DialHook) redis.DialHook { return next }
func (refuseConfig) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (refuseConfig) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "config" {
			err := errors.New("ERR unknown command 'CONFIG'")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

// TestCheckServer_Refused: a refused CONFIG GET is one warning, and the
// check returns.
func TestCheckServer_Refused(t *testing.T) {
	addr := os.Getenv("TASKRUNNER_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("TASKRUNNER_TEST_REDIS_ADDR not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := DefaultConfig()
	c.Addr = addr
	rdb, err := OpenUniversal(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	rdb.AddHook(refuseConfig{})
	var buf bytes.Buffer
	CheckServer(ctx, rdb, slog.New(slog.NewTextHandler(&buf, nil)))
	if got := strings.Count(buf.String(), "level=WARN"); got != 1 || !strings.Contains(buf.String(), "CONFIG GET refused") {
		t.Errorf("CheckServer logged %d warnings, want the one about CONFIG GET:\n%s", got, buf.String())
	}
}
