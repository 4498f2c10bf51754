package engine

import (
	"fmt"
	"slices"
	"time"
)

// Config tunes the engine. It is [scheduler] of common.toml, so each
// setting and its default are stated here once. Start from DefaultConfig:
// New takes a Config as it is and refuses one that Validate refuses.
type Config struct {
	// SyncInterval: how often the task table is read for changed rows.
	// At least 100ms. Defaults to 10s.
	SyncInterval time.Duration `toml:"sync_interval"`
	// FullSyncInterval: every row is re-read this often, as a backstop
	// for changes the quick sync cannot see. At least SyncInterval.
	// Defaults to 5m.
	FullSyncInterval time.Duration `toml:"full_sync_interval"`
	// ShutdownTimeout: at shutdown, running runs are waited for this long.
	// Defaults to 30s.
	ShutdownTimeout time.Duration `toml:"shutdown_timeout"`
	// MaxConcurrentRuns: most runs executing at once in this replica; the
	// rest wait for a slot. Defaults to 1000.
	MaxConcurrentRuns int `toml:"max_concurrent_runs"`
	// OutputLimit: bytes of a run's output kept in execute_task.output;
	// the rest is cut off. At most 65535, the size of that TEXT column;
	// 0 keeps none. Defaults to 65535.
	OutputLimit int `toml:"output_limit"`
	// Lease: a running run whose owner has not renewed it for this long
	// is lost. Leases are renewed at every sync, so at least
	// 2 × SyncInterval. Defaults to 30s.
	Lease time.Duration `toml:"lease"`
	// ClaimAhead: a group's fire is claimed this long before its time, and
	// its runs start at the time itself, so the claim's round trips do not
	// make them late. 0 (claim at the fire time) up to 999ms.
	// Defaults to 800ms.
	ClaimAhead time.Duration `toml:"claim_ahead"`
	// Heartbeat: how often a replica beats in the replica registry.
	// 100ms up to 10s. Defaults to 1s.
	Heartbeat time.Duration `toml:"heartbeat"`
	// DeadAfter: a replica whose beats stopped this long is dead. At least
	// 2 × Heartbeat, and less than Lease (the per-run backstop).
	// Defaults to 3s.
	DeadAfter time.Duration `toml:"dead_after"`
	// Defaults are the options of tasks whose extra does not set them.
	// Embedded, so their keys sit in [scheduler] beside the others.
	Defaults
	// Location is the zone of specs without their own; conf sets it from
	// [app] timezone. nil means UTC.
	Location *time.Location `toml:"-"`
}

// Defaults are the cluster-wide defaults of the per-task options in
// task.extra.
type Defaults struct {
	// Misfire: what happens to fire times missed while no replica ran
	// them: skip, once or all (see MisfireSkip). Defaults to skip.
	Misfire string `toml:"misfire"`
	// MisfireGrace: a fire this late is a normal run, not a misfire. Not
	// negative. Defaults to 10s.
	MisfireGrace time.Duration `toml:"misfire_grace"`
	// MisfireMax: most catch-up runs with misfire "all". At least 1.
	// Defaults to 100.
	MisfireMax int `toml:"misfire_max"`
	// Overlap: a fire while a run of the task is still going: forbid,
	// replace or allow (see OverlapForbid). Defaults to forbid.
	Overlap string `toml:"overlap"`
}

// maxOutputLimit is the most OutputLimit may be: execute_task.output is a
// TEXT column, which holds 65,535 bytes.
const maxOutputLimit = 65535

// DefaultConfig returns the defaults stated on each field.
func DefaultConfig() Config {
	return Config{
		SyncInterval:      10 * time.Second,
		FullSyncInterval:  5 * time.Minute,
		ShutdownTimeout:   30 * time.Second,
		MaxConcurrentRuns: 1000,
		OutputLimit:       maxOutputLimit,
		Lease:             30 * time.Second,
		ClaimAhead:        800 * time.Millisecond,
		Heartbeat:         time.Second,
		DeadAfter:         3 * time.Second,
		Defaults: Defaults{
			Misfire:      MisfireSkip,
			MisfireGrace: 10 * time.Second,
			MisfireMax:   100,
			Overlap:      OverlapForbid,
		},
	}
}

// Validate reports the first bad setting: its toml key (e.g.
// "sync_interval") and what is wrong with the value.
func (c Config) Validate() (key string, err error) {
	bad := func(k, format string, args ...any) (string, error) { return k, fmt.Errorf(format, args...) }
	switch {
	case c.SyncInterval < 100*time.Millisecond:
		return bad("sync_interval", "must be at least 100ms, got %s", c.SyncInterval)
	case c.FullSyncInterval < c.SyncInterval:
		return bad("full_sync_interval", "must be at least sync_interval (%s), got %s", c.SyncInterval, c.FullSyncInterval)
	case c.ShutdownTimeout <= 0:
		return bad("shutdown_timeout", "must be positive, got %s", c.ShutdownTimeout)
	case c.MaxConcurrentRuns <= 0:
		return bad("max_concurrent_runs", "must be positive, got %d", c.MaxConcurrentRuns)
	case c.OutputLimit < 0 || c.OutputLimit > maxOutputLimit:
		return bad("output_limit", "want 0 up to %d (execute_task.output is a TEXT column), got %d", maxOutputLimit, c.OutputLimit)
	case c.Lease < 2*c.SyncInterval:
		return bad("lease", "must be at least 2 x sync_interval (%s), got %s", 2*c.SyncInterval, c.Lease)
	case c.ClaimAhead < 0 || c.ClaimAhead >= time.Second:
		return bad("claim_ahead", "want 0s up to 999ms, got %s", c.ClaimAhead)
	case c.Heartbeat < 100*time.Millisecond || c.Heartbeat > 10*time.Second:
		return bad("heartbeat", "want 100ms up to 10s, got %s", c.Heartbeat)
	case c.DeadAfter < 2*c.Heartbeat:
		return bad("dead_after", "must be at least 2 x heartbeat (%s), got %s", 2*c.Heartbeat, c.DeadAfter)
	case c.DeadAfter >= c.Lease:
		return bad("dead_after", "must be less than lease (%s), got %s", c.Lease, c.DeadAfter)
	}
	return c.Defaults.validate()
}

func (d Defaults) validate() (key string, err error) {
	switch {
	case !slices.Contains([]string{MisfireSkip, MisfireOnce, MisfireAll}, d.Misfire):
		return "misfire", fmt.Errorf("want \"skip\", \"once\" or \"all\", got %q", d.Misfire)
	case d.MisfireGrace < 0:
		return "misfire_grace", fmt.Errorf("must not be negative, got %s", d.MisfireGrace)
	case d.MisfireMax < 1:
		return "misfire_max", fmt.Errorf("must be at least 1, got %d", d.MisfireMax)
	case !slices.Contains([]string{OverlapForbid, OverlapReplace, OverlapAllow}, d.Overlap):
		return "overlap", fmt.Errorf("want \"forbid\", \"replace\" or \"allow\", got %q", d.Overlap)
	}
	return "", nil
}
