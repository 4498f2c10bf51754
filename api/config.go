package api

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Config is conf/<env>/api.toml.
type Config struct {
	// Addr is host:port to serve on; "" serves nothing. Defaults to ""
	// (conf/local/api.toml sets 127.0.0.1:8080).
	Addr string `toml:"addr"`
	// Allow lists the CIDRs (or single addresses) requests may come from;
	// empty allows any. /healthz answers whatever the address.
	// Defaults to empty.
	Allow []string `toml:"allow"`
	// AdminFuncs are the execute_func names that only an admin token may
	// trigger, enable, disable or kill: they run what their args say.
	// Defaults to ["shell", "sql", "sql_produce"].
	AdminFuncs []string `toml:"admin_funcs"`
	// TokenFile: when set and missing, the first start creates an admin
	// token, keeps its SHA-256 here and prints it once to stdout; when it
	// exists, its hash is an admin token named "local-admin". Defaults to
	// "" (conf/local/api.toml sets one beside the SQLite database).
	TokenFile string `toml:"token_file"`
	// MaxWait caps a synchronous trigger's timeout. Defaults to 10m.
	MaxWait time.Duration `toml:"max_wait"`
	// Tokens are the bearer tokens, each with a name (in the audit and
	// the log), a role and the SHA-256 of the token in hex. No token
	// ships: without one (and no TokenFile) every request but /healthz
	// is refused.
	Tokens []Token `toml:"token"`
}

// Token is one [[token]] of api.toml.
type Token struct {
	Name   string `toml:"name"`
	Role   string `toml:"role"`   // read, operate or admin
	SHA256 string `toml:"sha256"` // printf %s TOKEN | sha256sum
}

// DefaultConfig returns the defaults stated on each field.
func DefaultConfig() Config {
	return Config{AdminFuncs: []string{"shell", "sql", "sql_produce"}, MaxWait: 10 * time.Minute}
}

// Validate checks the configuration and returns the key at fault.
func (c Config) Validate() (string, error) {
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return "addr", fmt.Errorf("want host:port such as \"127.0.0.1:8080\", got %q", c.Addr)
		}
	}
	if _, err := parseAllow(c.Allow); err != nil {
		return "allow", err
	}
	if c.MaxWait < time.Second {
		return "max_wait", fmt.Errorf("must be at least 1s, got %s", c.MaxWait)
	}
	names := map[string]bool{}
	for i, t := range c.Tokens {
		key := fmt.Sprintf("token[%d]", i)
		switch {
		case t.Name == "":
			return key + ".name", fmt.Errorf("is required")
		case names[t.Name]:
			return key + ".name", fmt.Errorf("%q is used by another token", t.Name)
		}
		names[t.Name] = true
		if _, ok := parseRole(t.Role); !ok {
			return key + ".role", fmt.Errorf("want read, operate or admin, got %q", t.Role)
		}
		if _, err := parseHash(t.SHA256); err != nil {
			return key + ".sha256", err
		}
	}
	return "", nil
}

// Role is what a token may do; each role may do what the weaker ones may.
type Role int

// Roles, weakest first.
const (
	RoleNone    Role = iota // no token needed (/healthz)
	RoleRead                // read tasks, runs, replicas, audit, previews
	RoleOperate             // trigger, enable, disable, kill
	RoleAdmin               // create, edit, delete; anything on an AdminFuncs task
)

func (r Role) String() string {
	return [...]string{"none", "read", "operate", "admin"}[r]
}

func parseRole(s string) (Role, bool) {
	switch s {
	case "read":
		return RoleRead, true
	case "operate":
		return RoleOperate, true
	case "admin":
		return RoleAdmin, true
	}
	return RoleNone, false
}

func parseHash(s string) ([32]byte, error) {
	var h [32]byte
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != 32 {
		return h, fmt.Errorf("want the SHA-256 of the token, 64 hex digits (printf %%s TOKEN | sha256sum), got %d characters", len(s))
	}
	copy(h[:], b)
	return h, nil
}

func parseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("want CIDRs such as \"10.0.0.0/8\" or addresses, got %q", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
