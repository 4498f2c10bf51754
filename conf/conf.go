// Package conf loads the configuration of one environment: the four TOML
// files of conf/<APP_ENV>/, each key overridable by an environment
// variable TASKRUNNER_<FILE>_<TABLE>_<KEY> (see libs/tomlconf).
package conf

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"taskrunner/libs/logger"
	"taskrunner/libs/mysqlpool"
	"taskrunner/libs/redispool"
	"taskrunner/libs/tomlconf"
)

// Environments, chosen by APP_ENV.
var Environments = []string{"local", "test", "online"}

// App is [app] of common.toml.
type App struct {
	Name           string `toml:"name"`             // Defaults to taskrunner.
	Timezone       string `toml:"timezone"`         // IANA zone of specs. Defaults to UTC.
	Database       string `toml:"database"`         // sqlite or mysql. Defaults to sqlite.
	SQLitePath     string `toml:"sqlite_path"`      // Defaults to taskrunner.db.
	MigrateOnStart bool   `toml:"migrate_on_start"` // Defaults to true.
}

// Scheduler is [scheduler] of common.toml.
type Scheduler struct {
	SyncInterval      time.Duration `toml:"sync_interval"`       // Defaults to 10s.
	FullSyncInterval  time.Duration `toml:"full_sync_interval"`  // Defaults to 5m.
	ShutdownTimeout   time.Duration `toml:"shutdown_timeout"`    // Defaults to 30s.
	MaxConcurrentRuns int           `toml:"max_concurrent_runs"` // Defaults to 1000.
	OutputLimit       int           `toml:"output_limit"`        // Defaults to 65535.
	Lease             time.Duration `toml:"lease"`               // Defaults to 30s.
	Misfire           string        `toml:"misfire"`             // skip, once or all. Defaults to skip.
	MisfireGrace      time.Duration `toml:"misfire_grace"`       // Defaults to 10s.
	MisfireMax        int           `toml:"misfire_max"`         // Defaults to 100.
	Overlap           string        `toml:"overlap"`             // forbid, replace or allow. Defaults to forbid.
	ClaimAhead        time.Duration `toml:"claim_ahead"`         // Defaults to 800ms.
}

// Common is common.toml.
type Common struct {
	App       App       `toml:"app"`
	Scheduler Scheduler `toml:"scheduler"`
}

// Config is one environment's configuration.
type Config struct {
	Env      string
	Common   Common
	Logger   logger.Config
	MySQL    mysqlpool.Config
	Redis    redispool.Config
	Location *time.Location // Common.App.Timezone, loaded
}

func defaults() Config {
	return Config{
		Common: Common{
			App: App{Name: "taskrunner", Timezone: "UTC", Database: "sqlite", SQLitePath: "taskrunner.db", MigrateOnStart: true},
			Scheduler: Scheduler{SyncInterval: 10 * time.Second, FullSyncInterval: 5 * time.Minute, ShutdownTimeout: 30 * time.Second,
				MaxConcurrentRuns: 1000, OutputLimit: 65535, Lease: 30 * time.Second,
				Misfire: "skip", MisfireGrace: 10 * time.Second, MisfireMax: 100, Overlap: "forbid",
				ClaimAhead: 800 * time.Millisecond},
		},
		Logger: logger.DefaultConfig(),
		MySQL:  mysqlpool.DefaultConfig(),
		Redis:  redispool.DefaultConfig(),
	}
}

// Load reads dir/<env>/*.toml. The first error names the file (or the
// environment variable) and the key.
func Load(dir, env string) (*Config, error) {
	if !slices.Contains(Environments, env) {
		return nil, fmt.Errorf("APP_ENV=%q: want one of %v", env, Environments)
	}
	c := defaults()
	c.Env = env
	load := func(name string, v any) (tomlconf.Source, error) {
		return tomlconf.LoadSource(filepath.Join(dir, env, name+".toml"), "TASKRUNNER_"+strings.ToUpper(name), v)
	}

	src, err := load("common", &c.Common)
	if err != nil {
		return nil, err
	}
	if err := c.Common.validate(src, &c); err != nil {
		return nil, err
	}
	if src, err = load("logger", &c.Logger); err != nil {
		return nil, err
	}
	if err := src.Wrap(c.Logger.Validate()); err != nil {
		return nil, err
	}
	if src, err = load("mysql", &c.MySQL); err != nil {
		return nil, err
	}
	if c.Common.App.Database == "mysql" {
		if key, err := c.MySQL.Validate(); err != nil {
			return nil, src.Errorf(key, "%v", err)
		}
	}
	if src, err = load("redis", &c.Redis); err != nil {
		return nil, err
	}
	if key, err := c.Redis.Validate(); err != nil {
		return nil, src.Errorf(key, "%v", err)
	}
	return &c, nil
}

func (cm Common) validate(src tomlconf.Source, c *Config) error {
	loc, err := time.LoadLocation(cm.App.Timezone)
	if err != nil || cm.App.Timezone == "" {
		return src.Errorf("app.timezone", "unknown time zone %q: want an IANA name such as \"Asia/Shanghai\"", cm.App.Timezone)
	}
	c.Location = loc
	s := cm.Scheduler
	switch {
	case cm.App.Database != "sqlite" && cm.App.Database != "mysql":
		return src.Errorf("app.database", "want \"sqlite\" or \"mysql\", got %q", cm.App.Database)
	case cm.App.Database == "sqlite" && cm.App.SQLitePath == "":
		return src.Errorf("app.sqlite_path", "is required when database = \"sqlite\"")
	case s.SyncInterval < 100*time.Millisecond:
		return src.Errorf("scheduler.sync_interval", "must be at least 100ms, got %s", s.SyncInterval)
	case s.FullSyncInterval < s.SyncInterval:
		return src.Errorf("scheduler.full_sync_interval", "must be at least sync_interval (%s), got %s", s.SyncInterval, s.FullSyncInterval)
	case s.ShutdownTimeout <= 0:
		return src.Errorf("scheduler.shutdown_timeout", "must be positive, got %s", s.ShutdownTimeout)
	case s.MaxConcurrentRuns <= 0:
		return src.Errorf("scheduler.max_concurrent_runs", "must be positive, got %d", s.MaxConcurrentRuns)
	case s.OutputLimit < 0:
		return src.Errorf("scheduler.output_limit", "must not be negative, got %d", s.OutputLimit)
	case s.Lease < 2*s.SyncInterval:
		return src.Errorf("scheduler.lease", "must be at least 2 x sync_interval (%s), got %s", 2*s.SyncInterval, s.Lease)
	case !slices.Contains([]string{"skip", "once", "all"}, s.Misfire):
		return src.Errorf("scheduler.misfire", "want \"skip\", \"once\" or \"all\", got %q", s.Misfire)
	case s.MisfireGrace < 0:
		return src.Errorf("scheduler.misfire_grace", "must not be negative, got %s", s.MisfireGrace)
	case s.ClaimAhead < 0 || s.ClaimAhead >= time.Second:
		return src.Errorf("scheduler.claim_ahead", "want 0s up to 999ms, got %s", s.ClaimAhead)
	case s.MisfireMax < 1:
		return src.Errorf("scheduler.misfire_max", "must be at least 1, got %d", s.MisfireMax)
	case !slices.Contains([]string{"forbid", "replace", "allow"}, s.Overlap):
		return src.Errorf("scheduler.overlap", "want \"forbid\", \"replace\" or \"allow\", got %q", s.Overlap)
	}
	return nil
}
