package engine

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestConfig_Validate(t *testing.T) {
	if key, err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %s: %v", key, err)
	}
	tests := []struct {
		name     string
		edit     func(c *Config)
		key, msg string
	}{
		{"sync too short", func(c *Config) { c.SyncInterval = 50 * time.Millisecond }, "sync_interval", "at least 100ms, got 50ms"},
		{"full sync below sync", func(c *Config) { c.FullSyncInterval = time.Second }, "full_sync_interval", "got 1s"},
		{"zero shutdown", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdown_timeout", "positive, got 0s"},
		{"zero runs", func(c *Config) { c.MaxConcurrentRuns = 0 }, "max_concurrent_runs", "got 0"},
		{"output above TEXT", func(c *Config) { c.OutputLimit = 65536 }, "output_limit", "TEXT column), got 65536"},
		{"lease below 2 syncs", func(c *Config) { c.Lease = 15 * time.Second }, "lease", "2 x sync_interval (20s), got 15s"},
		{"claim ahead a second", func(c *Config) { c.ClaimAhead = time.Second }, "claim_ahead", "got 1s"},
		{"heartbeat too long", func(c *Config) { c.Heartbeat = 11 * time.Second }, "heartbeat", "100ms up to 10s, got 11s"},
		{"dead before two beats", func(c *Config) { c.DeadAfter = 1500 * time.Millisecond }, "dead_after", "2 x heartbeat (2s), got 1.5s"},
		{"dead after the lease", func(c *Config) { c.DeadAfter = 30 * time.Second }, "dead_after", "less than lease (30s), got 30s"},
		{"misfire", func(c *Config) { c.Misfire = "never" }, "misfire", `got "never"`},
		{"negative grace", func(c *Config) { c.MisfireGrace = -time.Second }, "misfire_grace", "got -1s"},
		{"misfire max", func(c *Config) { c.MisfireMax = 0 }, "misfire_max", "got 0"},
		{"overlap", func(c *Config) { c.Overlap = "" }, "overlap", `got ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			key, err := c.Validate()
			if key != tt.key || err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Validate() = %q, %v; want %q, ...%s", key, err, tt.key, tt.msg)
			}
		})
	}
}

func TestNew_RefusesBadConfig(t *testing.T) {
	c := DefaultConfig()
	c.Heartbeat = 0
	_, err := New(c, nil, nil, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "heartbeat") {
		t.Fatalf("New = %v, want an error naming heartbeat", err)
	}
}
