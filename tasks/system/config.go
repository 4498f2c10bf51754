package system

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is [retention] of common.toml: how long history is kept, and how
// the cleanup deletes it.
type Config struct {
	// Keep is how long execute_task rows are kept, from their creation;
	// a task's extra.keep overrides it. "0" keeps them (tasks without
	// extra.keep) forever. Defaults to 30d.
	Keep Age `toml:"keep"`
	// RunStartKeep is how long run_start rows left by replicas that are
	// gone are kept. "0" keeps them. Defaults to 7d.
	RunStartKeep Age `toml:"run_start_keep"`
	// AuditKeep is how long audit rows are kept. "0" keeps them forever.
	// Defaults to 365d.
	AuditKeep Age `toml:"audit_keep"`
	// BatchSize is the most rows one DELETE touches (a primary-key range
	// of this many ids, or this many ids). 10 to 100000. Defaults to 1000.
	BatchSize int `toml:"batch_size"`
	// Pause is the wait between two DELETEs, so writers are never queued
	// behind the cleanup for long. Defaults to 10ms.
	Pause time.Duration `toml:"pause"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Keep: 30 * Day, RunStartKeep: 7 * Day, AuditKeep: 365 * Day, BatchSize: 1000, Pause: 10 * time.Millisecond}
}

// Validate reports the first bad key, by its toml name.
func (c Config) Validate() (key string, err error) {
	for _, k := range []struct {
		key string
		age Age
	}{{"keep", c.Keep}, {"run_start_keep", c.RunStartKeep}, {"audit_keep", c.AuditKeep}} {
		if k.age < 0 || (k.age > 0 && k.age < MinAge) {
			return k.key, fmt.Errorf("want 0 (keep forever) or at least %s, got %s", MinAge, k.age)
		}
	}
	switch {
	case c.BatchSize < 10 || c.BatchSize > 100_000:
		return "batch_size", fmt.Errorf("want 10 to 100000, got %d", c.BatchSize)
	case c.Pause < 0 || c.Pause > 10*time.Second:
		return "pause", fmt.Errorf("want 0s to 10s, got %s", c.Pause)
	}
	return "", nil
}

// Age is a retention period. Its grammar: a Go duration ("168h", "90m",
// "1h30m"), a whole number of days ("30d"), or days followed by a Go
// duration ("1d12h"); "0" is zero. A day is 24 hours. Nothing else: no
// bare number, no weeks, no fractions of a day.
type Age time.Duration

// Day is 24 hours.
const Day = Age(24 * time.Hour)

// MinAge is the shortest non-zero age a retention accepts: shorter is
// surely a slip.
const MinAge = Age(time.Hour)

// ParseAge reads an Age.
func ParseAge(s string) (Age, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	days, rest, hasDays := strings.Cut(s, "d")
	if !hasDays {
		rest, days = s, ""
	}
	var a Age
	if hasDays {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*366 || days == "" || days[0] == '+' {
			return 0, fmt.Errorf("bad age %q: want a whole number of days before d (\"30d\")", s)
		}
		a = Age(n) * Day
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("bad age %q: want \"30d\", \"168h\" or \"1d12h\"", s)
		}
		a += Age(d)
	}
	return a, nil
}

// String writes whole days as "30d", other ages as days and a duration.
func (a Age) String() string {
	if a == 0 {
		return "0"
	}
	days, rest := a/Day, time.Duration(a%Day)
	switch {
	case days == 0:
		return rest.String()
	case rest == 0:
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%s", days, rest)
}

// UnmarshalText implements encoding.TextUnmarshaler (TOML and variables).
func (a *Age) UnmarshalText(b []byte) error {
	v, err := ParseAge(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (a Age) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalJSON reads a JSON string in Age's grammar (extra.keep).
func (a *Age) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a string such as \"7d\" or \"168h\", got %s", b)
	}
	return a.UnmarshalText([]byte(s))
}

// History values of extra.history.
const (
	HistoryAll    = "all"    // every run is kept until its age (the default)
	HistoryErrors = "errors" // successes are thinned to the first of each hour
)

// taskOptions are the keys of task.extra retention reads.
type taskOptions struct {
	Keep    *Age   `json:"keep"`
	History string `json:"history"`
}

func parseTaskOptions(extra string) (taskOptions, error) {
	var o taskOptions
	if strings.TrimSpace(extra) == "" {
		return o, nil
	}
	if err := json.Unmarshal([]byte(extra), &o); err != nil {
		return o, fmt.Errorf("extra: %v", err)
	}
	if o.Keep != nil && *o.Keep < MinAge {
		return o, fmt.Errorf("extra.keep: want at least %s, got %s", MinAge, *o.Keep)
	}
	if o.History != "" && o.History != HistoryAll && o.History != HistoryErrors {
		return o, fmt.Errorf("extra.history: want %q or %q, got %q", HistoryAll, HistoryErrors, o.History)
	}
	return o, nil
}
