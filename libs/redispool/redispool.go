// Package redispool opens a Redis client from redis.toml.
package redispool

import (
	"context"
	"fmt"
	"net"

	"github.com/redis/go-redis/v9"
)

// Config is redis.toml.
type Config struct {
	Addr     string `toml:"addr"`     // host:port; empty: no Redis. Defaults to 127.0.0.1:6379.
	Password string `toml:"password"` // Defaults to empty.
	DB       int    `toml:"db"`       // Database number. Defaults to 0.
	Prefix   string `toml:"prefix"`   // Prefix of every key. Defaults to taskrunner.
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config { return Config{Addr: "127.0.0.1:6379", Prefix: "taskrunner"} }

// Validate reports the first bad key, by its toml name.
func (c Config) Validate() (key string, err error) {
	if c.Addr == "" {
		return "", nil // Redis is off
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return "addr", fmt.Errorf("want host:port, got %q", c.Addr)
	}
	if c.DB < 0 || c.DB > 15 {
		return "db", fmt.Errorf("want 0 to 15, got %d", c.DB)
	}
	if c.Prefix == "" {
		return "prefix", fmt.Errorf("is required")
	}
	return "", nil
}

// Enabled reports whether Redis is configured.
func (c Config) Enabled() bool { return c.Addr != "" }

// Open returns a client and checks it with a ping bounded by ctx.
func Open(ctx context.Context, c Config) (*redis.Client, error) {
	rdb := redis.NewClient(&redis.Options{Addr: c.Addr, Password: c.Password, DB: c.DB})
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis %s: %w", c.Addr, err)
	}
	return rdb, nil
}
