// Package redispool opens a Redis client from redis.toml: one server,
// Sentinel or Cluster, and checks at start that the server keeps what it
// is given (CheckServer).
//
// Supported servers: Redis 6.2 and 7.x. taskrunner uses only commands those
// have (streams with XAUTOCLAIM and XPENDING IDLE need 6.2); nothing from
// 8.x (XACKDEL, XREADGROUP CLAIM).
package redispool

import (
	"context"
	"fmt"
	"net"

	"github.com/redis/go-redis/v9"
)

// Config is redis.toml.
//
// Which deployment is meant follows from the keys:
//   - master_name set: Sentinel; addrs (or addr) are the Sentinels, and
//     master_name the master they watch. password is the master's; the
//     Sentinels are asked without one.
//   - addrs with two or more entries: Cluster; addrs are seed nodes, and
//     db must be 0 (a cluster has one database).
//   - otherwise: the one server at addr (or at the single entry of addrs).
//
// Set addr or addrs, not both.
type Config struct {
	Addr       string   `toml:"addr"`        // host:port of a single server; empty (with addrs empty): no Redis. Defaults to 127.0.0.1:6379.
	Addrs      []string `toml:"addrs"`       // host:port list: Sentinels with master_name, else Cluster seed nodes. Env: comma-separated. Defaults to empty.
	MasterName string   `toml:"master_name"` // Sentinel master name; empty: no Sentinel. Defaults to empty.
	Password   string   `toml:"password"`    // Password of the server (the master under Sentinel). Defaults to empty.
	DB         int      `toml:"db"`          // Database number; must be 0 under Cluster. Defaults to 0.
	Prefix     string   `toml:"prefix"`      // Prefix of every key. Defaults to taskrunner.
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config { return Config{Addr: "127.0.0.1:6379", Prefix: "taskrunner"} }

// Mode is the kind of deployment a Config names.
type Mode string

const (
	ModeSingle   Mode = "single"
	ModeSentinel Mode = "sentinel"
	ModeCluster  Mode = "cluster"
)

// Mode reports which deployment c names.
func (c Config) Mode() Mode {
	switch {
	case c.MasterName != "":
		return ModeSentinel
	case len(c.Addrs) > 1:
		return ModeCluster
	default:
		return ModeSingle
	}
}

// addresses is addrs, or addr alone.
func (c Config) addresses() []string {
	if len(c.Addrs) > 0 {
		return c.Addrs
	}
	if c.Addr != "" {
		return []string{c.Addr}
	}
	return nil
}

// Validate reports the first bad key, by its toml name.
func (c Config) Validate() (key string, err error) {
	if !c.Enabled() {
		if c.MasterName != "" {
			return "master_name", fmt.Errorf("needs the Sentinels in addrs")
		}
		return "", nil // Redis is off
	}
	if c.Addr != "" && len(c.Addrs) > 0 {
		return "addrs", fmt.Errorf("set addr or addrs, not both (addr is %q)", c.Addr)
	}
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return "addr", fmt.Errorf("want host:port, got %q", c.Addr)
		}
	}
	for i, a := range c.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return "addrs", fmt.Errorf("entry %d: want host:port, got %q", i+1, a)
		}
	}
	if c.DB < 0 || c.DB > 15 {
		return "db", fmt.Errorf("want 0 to 15, got %d", c.DB)
	}
	if c.Mode() == ModeCluster && c.DB != 0 {
		return "db", fmt.Errorf("want 0 under Cluster (addrs has %d nodes), got %d", len(c.Addrs), c.DB)
	}
	if c.Prefix == "" {
		return "prefix", fmt.Errorf("is required")
	}
	return "", nil
}

// Enabled reports whether Redis is configured.
func (c Config) Enabled() bool { return c.Addr != "" || len(c.Addrs) > 0 }

// options is c for go-redis's universal client. Its choice of client
// follows the same rule as Mode: MasterName first, then more than one
// address.
func (c Config) options() *redis.UniversalOptions {
	return &redis.UniversalOptions{
		Addrs:      c.addresses(),
		MasterName: c.MasterName,
		Password:   c.Password,
		DB:         c.DB,
	}
}

// OpenUniversal returns a client for the deployment c names (single,
// Sentinel or Cluster) and checks it with a ping bounded by ctx.
func OpenUniversal(ctx context.Context, c Config) (redis.UniversalClient, error) {
	if key, err := c.Validate(); err != nil {
		return nil, fmt.Errorf("redis: %s: %w", key, err)
	}
	if !c.Enabled() {
		return nil, fmt.Errorf("redis: no addr or addrs configured")
	}
	rdb := redis.NewUniversalClient(c.options())
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis %s %v: %w", c.Mode(), c.addresses(), err)
	}
	return rdb, nil
}

// Open returns a client of one server, or of the master under Sentinel,
// and checks it with a ping bounded by ctx. A Cluster has no single
// client: use OpenUniversal.
func Open(ctx context.Context, c Config) (*redis.Client, error) {
	var rdb *redis.Client
	switch c.Mode() {
	case ModeCluster:
		return nil, fmt.Errorf("redis: addrs names a Cluster (%d nodes): this user needs a single server or Sentinel", len(c.Addrs))
	case ModeSentinel:
		rdb = redis.NewFailoverClient(c.options().Failover())
	default:
		addrs := c.addresses()
		if len(addrs) == 0 {
			return nil, fmt.Errorf("redis: no addr configured")
		}
		rdb = redis.NewClient(&redis.Options{Addr: addrs[0], Password: c.Password, DB: c.DB})
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis %s %v: %w", c.Mode(), c.addresses(), err)
	}
	return rdb, nil
}
