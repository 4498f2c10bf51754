package alert

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Events a rule can alert on, as written in [alert] on and extra.alert.on.
const (
	OnFailed    = "failed"    // a run failed (its function returned an error or panicked)
	OnTimeout   = "timeout"   // a run timed out
	OnLost      = "lost"      // a run's owner died, or its lease ran out, while it ran
	OnRecovered = "recovered" // the first success after failures that alerted
	OnMissed    = "missed"    // fire times not run, by the misfire policy
	OnSkipped   = "skipped"   // a fire skipped by the overlap policy (forbid, max_parallel)
)

// Events lists every event, in the order the README gives them.
var Events = []string{OnFailed, OnTimeout, OnLost, OnRecovered, OnMissed, OnSkipped}

// Rules say which events of a task alert.
type Rules struct {
	// On lists the events that alert. Defaults to failed, timeout, lost,
	// recovered and missed.
	On []string `toml:"on" json:"on"`
	// After: with 2 or more, failures (failed, timeout, lost) alert only
	// when they make this many in a row, once per streak; 0 or 1 alert
	// each failure. A recovery alerts only after a streak that alerted.
	// Defaults to 0.
	After int `toml:"after" json:"after"`
}

// Config is [alert] of notice.toml: the global rules, which a task's
// extra.alert overrides key by key, and where the console is.
type Config struct {
	Rules
	// ConsoleURL is the console's base address; when set, an alert links
	// to its run as <console_url>/#/runs/<id>. Defaults to "" (no link).
	ConsoleURL string `toml:"console_url"`
	// QueueSize is how many engine events wait for the alert worker; more
	// are counted and logged, not kept, so the engine never waits.
	// Defaults to 1000.
	QueueSize int `toml:"queue_size"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Rules:     Rules{On: []string{OnFailed, OnTimeout, OnLost, OnRecovered, OnMissed}},
		QueueSize: 1000,
	}
}

// Validate reports the first bad key, by its toml name ("alert.on").
func (c Config) Validate() (key string, err error) {
	if key, err := c.Rules.validate(); err != nil {
		return "alert." + key, err
	}
	if c.ConsoleURL != "" {
		u, err := url.Parse(c.ConsoleURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			return "alert.console_url", fmt.Errorf("want an http(s) base address without #, got %q", c.ConsoleURL)
		}
	}
	if c.QueueSize <= 0 {
		return "alert.queue_size", fmt.Errorf("must be positive")
	}
	return "", nil
}

func (r Rules) validate() (key string, err error) {
	for _, e := range r.On {
		if !slices.Contains(Events, e) {
			return "on", fmt.Errorf("unknown event %q: want some of %s", e, strings.Join(Events, ", "))
		}
	}
	if r.After < 0 || r.After > 100 {
		return "after", fmt.Errorf("want 0 to 100, got %d", r.After)
	}
	return "", nil
}

func (r Rules) has(event string) bool { return slices.Contains(r.On, event) }

// streak is how many failures in a row alert: at least 1.
func (r Rules) streak() int { return max(r.After, 1) }

// taskExtra is what this package reads of task.extra: the zone, for the
// scheduled time, and the rules.
type taskExtra struct {
	Timezone string          `json:"timezone"`
	Alert    json.RawMessage `json:"alert"`
}

// overrides is extra.alert: each key set replaces the global one.
type overrides struct {
	On    *[]string `json:"on"`
	After *int      `json:"after"`
}

// parseRules applies extra.alert (an object; null or absent keeps the
// global rules) over global.
func parseRules(raw json.RawMessage, global Rules) (Rules, error) {
	r := global
	if len(raw) == 0 || string(raw) == "null" {
		return r, nil
	}
	var o overrides
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return global, fmt.Errorf("extra.alert: want {\"on\": [events], \"after\": n}: %v", err)
	}
	if o.On != nil {
		r.On = *o.On
	}
	if o.After != nil {
		r.After = *o.After
	}
	if key, err := r.validate(); err != nil {
		return global, fmt.Errorf("extra.alert.%s: %w", key, err)
	}
	return r, nil
}
