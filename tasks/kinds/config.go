package kinds

import (
	"fmt"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Config configures the built-in kinds: a kinds.toml with tables
// [shell], [http] and [sql].
type Config struct {
	Shell ShellConfig `toml:"shell"`
	HTTP  HTTPConfig  `toml:"http"`
	SQL   SQLConfig   `toml:"sql"`
}

// ShellConfig configures the shell kind.
type ShellConfig struct {
	// CollectDir holds the managed scripts, named by paths relative to it.
	// A relative CollectDir is relative to the working directory.
	// Defaults to "collect".
	CollectDir string `toml:"collect_dir"`
	// AllowOutside lets a task with "collected": false run a program
	// outside CollectDir (an absolute path, or a name looked up in PATH).
	// Defaults to false.
	AllowOutside bool `toml:"allow_outside"`
	// LogDir receives <task_key>.log, the full output of every run.
	// Defaults to "logs".
	LogDir string `toml:"log_dir"`
	// LogMaxBytes is the size at which a log is rotated. Defaults to 10 MiB.
	LogMaxBytes int64 `toml:"log_max_bytes"`
	// LogKeep is how many rotated logs (<task_key>.log.1 ...) are kept.
	// Defaults to 5.
	LogKeep int `toml:"log_keep"`
	// TailBytes is how much of the end of stdout, and of stderr, goes into
	// the run's output. Defaults to 2048.
	TailBytes int `toml:"tail_bytes"`
	// KillGrace is how long a process group has between SIGTERM and
	// SIGKILL when its run times out or is cancelled. Defaults to 5s.
	KillGrace time.Duration `toml:"kill_grace"`
	// Interpreters maps a language to the program that runs its scripts,
	// over the defaults: sh=sh, bash=bash, python=python3,
	// python3=python3, perl=perl. Only those languages (and binary) exist.
	Interpreters map[string]string `toml:"interpreters"`
}

// HTTPConfig configures the http kind.
type HTTPConfig struct {
	// AllowHosts, when not empty, are the only hosts a task may call:
	// "example.com", "example.com:8443" (that port only), or
	// "*.example.com" (any subdomain). Redirects are checked too.
	// Defaults to empty: any host.
	AllowHosts []string `toml:"allow_hosts"`
	// RedactHeaders are header names whose values are never logged or
	// recorded, besides Authorization, Proxy-Authorization, Cookie,
	// Set-Cookie, X-Api-Key and X-Auth-Token. Defaults to none.
	RedactHeaders []string `toml:"redact_headers"`
	// Timeout bounds a request whose task sets no "timeout". Defaults to 30s.
	Timeout time.Duration `toml:"timeout"`
	// TailBytes is how much of the end of the response body is recorded.
	// Defaults to 2048.
	TailBytes int `toml:"tail_bytes"`
	// MaxBodyBytes is how much of a response body is read at most.
	// Defaults to 10 MiB.
	MaxBodyBytes int64 `toml:"max_body_bytes"`
}

// SQLConfig configures the sql and sql_produce kinds.
type SQLConfig struct {
	// Datasources are the databases a task may name, by name:
	// [sql.datasources.reports]. Defaults to none.
	Datasources map[string]Datasource `toml:"datasources"`
	// MaxRows is how many rows of a query's result are recorded.
	// Defaults to 20.
	MaxRows int `toml:"max_rows"`
	// ProduceMaxRows is how many runs one sql_produce run enqueues: its
	// default, and the most a task's "max_rows" may ask. Defaults to 1000.
	ProduceMaxRows int `toml:"produce_max_rows"`
}

// Datasource is one database the sql kind may use.
type Datasource struct {
	// Driver is "mysql" or "sqlite". Required.
	Driver string `toml:"driver"`
	// DSN is the go-sql-driver DSN of a mysql datasource. It is never
	// logged.
	DSN string `toml:"dsn"`
	// Path is the file of a sqlite datasource.
	Path string `toml:"path"`
	// ReadOnly refuses statements that may write: a keyword check first,
	// then a read-only transaction (MySQL) or a read-only connection
	// (SQLite). Defaults to false.
	ReadOnly bool `toml:"read_only"`
	// MaxOpenConns bounds the pool. Defaults to 4.
	MaxOpenConns int `toml:"max_open_conns"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Shell: ShellConfig{
			CollectDir: "collect", LogDir: "logs", LogMaxBytes: 10 << 20, LogKeep: 5,
			TailBytes: 2048, KillGrace: 5 * time.Second,
		},
		HTTP: HTTPConfig{Timeout: 30 * time.Second, TailBytes: 2048, MaxBodyBytes: 10 << 20},
		SQL:  SQLConfig{MaxRows: 20, ProduceMaxRows: 1000},
	}
}

// Validate reports the first bad key, by its dotted toml name.
func (c Config) Validate() (key string, err error) {
	s := c.Shell
	switch {
	case s.CollectDir == "":
		return "shell.collect_dir", fmt.Errorf("is required")
	case s.LogDir == "":
		return "shell.log_dir", fmt.Errorf("is required")
	case s.LogMaxBytes < 1024:
		return "shell.log_max_bytes", fmt.Errorf("must be at least 1024, got %d", s.LogMaxBytes)
	case s.LogKeep < 0:
		return "shell.log_keep", fmt.Errorf("must not be negative, got %d", s.LogKeep)
	case s.TailBytes <= 0:
		return "shell.tail_bytes", fmt.Errorf("must be positive, got %d", s.TailBytes)
	case s.KillGrace <= 0:
		return "shell.kill_grace", fmt.Errorf("must be positive, got %s", s.KillGrace)
	}
	for lang, prog := range s.Interpreters {
		if _, ok := defaultInterpreters[lang]; !ok {
			return "shell.interpreters." + lang, fmt.Errorf("%w %q: want one of %s", ErrUnknownLanguage, lang, strings.Join(Languages(), ", "))
		}
		if strings.TrimSpace(prog) == "" || strings.ContainsAny(prog, " \t\n") {
			return "shell.interpreters." + lang, fmt.Errorf("want one program (a name or path), got %q", prog)
		}
	}
	h := c.HTTP
	for i, host := range h.AllowHosts {
		if host == "" || strings.ContainsAny(host, "/ @") {
			return fmt.Sprintf("http.allow_hosts[%d]", i), fmt.Errorf("want a host, host:port or *.domain, got %q", host)
		}
	}
	for i, name := range h.RedactHeaders {
		if name == "" || textproto.CanonicalMIMEHeaderKey(name) == "" || strings.ContainsAny(name, " :") {
			return fmt.Sprintf("http.redact_headers[%d]", i), fmt.Errorf("want a header name, got %q", name)
		}
	}
	switch {
	case h.Timeout <= 0:
		return "http.timeout", fmt.Errorf("must be positive, got %s", h.Timeout)
	case h.TailBytes <= 0:
		return "http.tail_bytes", fmt.Errorf("must be positive, got %d", h.TailBytes)
	case h.MaxBodyBytes <= 0:
		return "http.max_body_bytes", fmt.Errorf("must be positive, got %d", h.MaxBodyBytes)
	case c.SQL.MaxRows < 0:
		return "sql.max_rows", fmt.Errorf("must not be negative, got %d", c.SQL.MaxRows)
	case c.SQL.ProduceMaxRows <= 0:
		return "sql.produce_max_rows", fmt.Errorf("must be positive, got %d", c.SQL.ProduceMaxRows)
	}
	names := make([]string, 0, len(c.SQL.Datasources))
	for name := range c.SQL.Datasources {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if key, err := c.SQL.Datasources[name].validate(); err != nil {
			return "sql.datasources." + name + "." + key, err
		}
	}
	return "", nil
}

func (d Datasource) validate() (key string, err error) {
	switch d.Driver {
	case "mysql":
		if d.DSN == "" {
			return "dsn", fmt.Errorf("is required for driver mysql")
		}
		if _, err := mysql.ParseDSN(d.DSN); err != nil {
			return "dsn", err // the driver's messages do not repeat the DSN
		}
	case "sqlite":
		if d.Path == "" {
			return "path", fmt.Errorf("is required for driver sqlite")
		}
	default:
		return "driver", fmt.Errorf("want mysql or sqlite, got %q", d.Driver)
	}
	if d.MaxOpenConns < 0 {
		return "max_open_conns", fmt.Errorf("must not be negative, got %d", d.MaxOpenConns)
	}
	return "", nil
}
