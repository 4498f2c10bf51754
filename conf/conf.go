// Package conf loads the configuration of one environment: the six TOML
// files of conf/<APP_ENV>/, each key overridable by an environment
// variable TASKRUNNER_<FILE>_<TABLE>_<KEY> (see libs/tomlconf).
package conf

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"taskrunner/api"
	"taskrunner/libs/logger"
	"taskrunner/libs/mysqlpool"
	"taskrunner/libs/notice"
	"taskrunner/libs/redispool"
	"taskrunner/libs/tomlconf"
	"taskrunner/tasks/alert"
	"taskrunner/tasks/engine"
	"taskrunner/tasks/kinds"
	"taskrunner/tasks/system"
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

// Worker is [worker] of common.toml: the worker the daemon embeds, and
// the defaults of `taskrunner worker`.
type Worker struct {
	// Embedded runs a worker in the daemon, on Queues. Defaults to true;
	// without Redis it must be (the in-process queue has no other reader).
	Embedded bool `toml:"embedded"`
	// Queues are "name" or "name:concurrency" (concurrency defaults to
	// Concurrency). Defaults to ["default"].
	Queues []string `toml:"queues"`
	// Concurrency is how many jobs of a queue run at once, unless its
	// entry says. Defaults to 8.
	Concurrency int `toml:"concurrency"`
	// Prefetch is how many jobs of a queue a worker takes ahead of a free
	// slot (engine.WorkerConfig.Prefetch). Defaults to 0.
	Prefetch int `toml:"prefetch"`
	// Token is what `taskrunner worker` presents to register: one made by
	// `taskrunner tokens add`. Empty by default, which is refused.
	Token string `toml:"token"`
	// MetricsAddr is where `taskrunner worker` serves /metrics
	// (host:port); empty, the default, serves none. The daemon's
	// embedded worker is counted in the daemon's own /metrics.
	MetricsAddr string `toml:"metrics_addr"`
}

// Common is common.toml.
type Common struct {
	App App `toml:"app"`
	// Scheduler is the engine's configuration, its keys and defaults
	// stated by engine.Config. Load sets its Location from App.Timezone.
	Scheduler engine.Config `toml:"scheduler"`
	// Retention is how long history is kept, its keys and defaults stated
	// by system.Config.
	Retention system.Config `toml:"retention"`
	Worker    Worker        `toml:"worker"`
}

// Config is one environment's configuration.
type Config struct {
	Env    string
	Common Common
	Logger logger.Config
	MySQL  mysqlpool.Config
	Redis  redispool.Config
	API    api.Config
	Kinds  kinds.Config
	// Notice is notice.toml's channels and shared limits; Alert is its
	// [alert] table, the rules.
	Notice notice.Config
	Alert  alert.Config
}

// noticeFile is notice.toml: notice.Config's keys at the top level and
// in its channel tables, and [alert].
type noticeFile struct {
	notice.Config
	Alert alert.Config `toml:"alert"`
}

func defaults() Config {
	return Config{
		Common: Common{
			App:       App{Name: "taskrunner", Timezone: "UTC", Database: "sqlite", SQLitePath: "taskrunner.db", MigrateOnStart: true},
			Scheduler: engine.DefaultConfig(),
			Retention: system.DefaultConfig(),
			Worker:    Worker{Embedded: true, Queues: []string{engine.DefaultQueue}, Concurrency: 8},
		},
		Logger: logger.DefaultConfig(),
		MySQL:  mysqlpool.DefaultConfig(),
		Redis:  redispool.DefaultConfig(),
		API:    api.DefaultConfig(),
		Kinds:  kinds.DefaultConfig(),
		Notice: notice.DefaultConfig(),
		Alert:  alert.DefaultConfig(),
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
	if err := c.Common.validate(src); err != nil {
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
	if src, err = load("api", &c.API); err != nil {
		return nil, err
	}
	if key, err := c.API.Validate(); err != nil {
		return nil, src.Errorf(key, "%v", err)
	}
	if src, err = load("kinds", &c.Kinds); err != nil {
		return nil, err
	}
	if key, err := c.Kinds.Validate(); err != nil {
		return nil, src.Errorf(key, "%v", err)
	}
	nf := noticeFile{Config: c.Notice, Alert: c.Alert}
	if src, err = load("notice", &nf); err != nil {
		return nil, err
	}
	c.Notice, c.Alert = nf.Config, nf.Alert
	if key, err := c.Notice.Validate(); err != nil {
		return nil, src.Errorf(key, "%v", err)
	}
	if key, err := c.Alert.Validate(); err != nil {
		return nil, src.Errorf(key, "%v", err)
	}
	return &c, nil
}

// validate checks [app], loads its time zone into the scheduler's
// Location, and checks [scheduler] by engine.Config.Validate.
func (cm *Common) validate(src tomlconf.Source) error {
	loc, err := time.LoadLocation(cm.App.Timezone)
	if err != nil || cm.App.Timezone == "" {
		return src.Errorf("app.timezone", "unknown time zone %q: want an IANA name such as \"Asia/Shanghai\"", cm.App.Timezone)
	}
	cm.Scheduler.Location = loc
	switch {
	case cm.App.Database != "sqlite" && cm.App.Database != "mysql":
		return src.Errorf("app.database", "want \"sqlite\" or \"mysql\", got %q", cm.App.Database)
	case cm.App.Database == "sqlite" && cm.App.SQLitePath == "":
		return src.Errorf("app.sqlite_path", "is required when database = \"sqlite\"")
	}
	if key, err := cm.Scheduler.Validate(); err != nil {
		return src.Errorf("scheduler."+key, "%v", err)
	}
	if key, err := cm.Retention.Validate(); err != nil {
		return src.Errorf("retention."+key, "%v", err)
	}
	if cm.Worker.Concurrency < 1 || cm.Worker.Concurrency > 10000 {
		return src.Errorf("worker.concurrency", "want 1 to 10000, got %d", cm.Worker.Concurrency)
	}
	if cm.Worker.Prefetch < 0 || cm.Worker.Prefetch > 10000 {
		return src.Errorf("worker.prefetch", "want 0 to 10000, got %d", cm.Worker.Prefetch)
	}
	if a := cm.Worker.MetricsAddr; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return src.Errorf("worker.metrics_addr", "want host:port (\":9101\"), got %q", a)
		}
	}
	if _, err := engine.ParseQueues(cm.Worker.Queues, cm.Worker.Concurrency); err != nil {
		return src.Errorf("worker.queues", "%v", err)
	}
	return nil
}
