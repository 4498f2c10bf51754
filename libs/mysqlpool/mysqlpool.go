// Package mysqlpool opens a MySQL/MariaDB connection pool from mysql.toml.
package mysqlpool

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
)

// Config is mysql.toml.
type Config struct {
	// DSN, when set, is used as is (go-sql-driver form) and the fields below are ignored.
	DSN      string `toml:"dsn"`
	Host     string `toml:"host"`     // Defaults to 127.0.0.1.
	Port     int    `toml:"port"`     // Defaults to 3306.
	User     string `toml:"user"`     // Defaults to root.
	Password string `toml:"password"` // Defaults to empty.
	Database string `toml:"database"` // Required.
	// Params are extra DSN parameters. Defaults to charset=utf8mb4.
	Params          string        `toml:"params"`
	MaxOpenConns    int           `toml:"max_open_conns"`    // Defaults to 20.
	MaxIdleConns    int           `toml:"max_idle_conns"`    // Defaults to 10.
	ConnMaxLifetime time.Duration `toml:"conn_max_lifetime"` // Defaults to 5m.
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Host: "127.0.0.1", Port: 3306, User: "root", Params: "charset=utf8mb4",
		MaxOpenConns: 20, MaxIdleConns: 10, ConnMaxLifetime: 5 * time.Minute,
	}
}

// Validate reports the first bad key, by its toml name.
func (c Config) Validate() (key string, err error) {
	if c.DSN != "" {
		if _, err := mysql.ParseDSN(c.DSN); err != nil {
			return "dsn", err
		}
		return "", nil
	}
	switch {
	case c.Database == "":
		return "database", fmt.Errorf("is required")
	case c.Port <= 0 || c.Port > 65535:
		return "port", fmt.Errorf("%d is not a port", c.Port)
	case c.MaxOpenConns <= 0:
		return "max_open_conns", fmt.Errorf("must be positive")
	}
	if _, err := url.ParseQuery(c.Params); err != nil {
		return "params", err
	}
	// The driver's own reading: a value it refuses (readTimeout=abc)
	// fails here, at load, not as an unreachable database at every retry.
	cfg := mysql.NewConfig()
	if _, err := mysql.ParseDSN(cfg.FormatDSN() + "?" + c.Params); c.Params != "" && err != nil {
		return "params", err
	}
	return "", nil
}

// FormatDSN returns the driver DSN. Whatever the configuration says, times
// are parsed, and the session time zone is UTC so TIMESTAMP columns read and
// write UTC.
func (c Config) FormatDSN() (string, error) {
	var cfg *mysql.Config
	if c.DSN != "" {
		var err error
		if cfg, err = mysql.ParseDSN(c.DSN); err != nil {
			return "", fmt.Errorf("dsn: %w", err)
		}
	} else {
		cfg = mysql.NewConfig()
		cfg.Net = "tcp"
		cfg.Addr = fmt.Sprintf("%s:%d", c.Host, c.Port)
		cfg.User = c.User
		cfg.Passwd = c.Password
		cfg.DBName = c.Database
		dsn := cfg.FormatDSN()
		if c.Params != "" {
			dsn += "?" + c.Params
		}
		var err error
		if cfg, err = mysql.ParseDSN(dsn); err != nil {
			return "", fmt.Errorf("params: %w", err)
		}
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// One round trip per statement instead of prepare, execute and close:
	// the claim and history statements carry thousands of parameters.
	cfg.InterpolateParams = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	// Nothing may wait silently: a lock wait (row or metadata; the server
	// default for the latter is a day) or a dead connection becomes an
	// error the caller logs and retries.
	for k, v := range map[string]string{"innodb_lock_wait_timeout": "20", "lock_wait_timeout": "30"} {
		if _, set := cfg.Params[k]; !set {
			cfg.Params[k] = v
		}
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = time.Minute
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = time.Minute
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	return cfg.FormatDSN(), nil
}

// SetLogger sends the driver's own messages (dropped connections) to log.
func SetLogger(log *slog.Logger) {
	_ = mysql.SetLogger(printer{log.With("component", "mysql")})
}

type printer struct{ log *slog.Logger }

func (p printer) Print(v ...any) { p.log.Warn(strings.TrimSpace(fmt.Sprint(v...))) }

// Open opens the pool and checks it with a ping bounded by ctx.
func Open(ctx context.Context, c Config) (*sqlx.DB, error) {
	dsn, err := c.FormatDSN()
	if err != nil {
		return nil, err
	}
	db, err := sqlx.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(c.MaxOpenConns)
	db.SetMaxIdleConns(c.MaxIdleConns)
	db.SetConnMaxLifetime(c.ConnMaxLifetime)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}
