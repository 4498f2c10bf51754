package engine

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"taskrunner/models"
)

// Policies, as written in task.extra or common.toml.
const (
	MisfireSkip = "skip" // missed fire times are not run; the next one is
	MisfireOnce = "once" // one catch-up run for the latest missed time
	MisfireAll  = "all"  // every missed time runs, oldest first, up to misfire_max

	OverlapAllow   = "allow"   // runs of one task may overlap (up to max_parallel)
	OverlapForbid  = "forbid"  // a fire while a run is going is recorded as skipped
	OverlapReplace = "replace" // the running run is cancelled and the new one starts

	BackoffFixed       = "fixed"
	BackoffExponential = "exponential"

	// A run a worker held when it died (or stopped renewing its lease):
	OnLostDrop    = "drop"    // it is recorded lost, and max_retries decides (the default)
	OnLostRecover = "recover" // it goes back on its queue, the same attempt, to run elsewhere

	RouteBroadcast = "broadcast" // extra.route: a fire runs on every live worker of its queue
)

// maxShards bounds extra.shards.
const maxShards = 1000

// taskOptions are the keys of task.extra the engine reads. Other keys are
// the user's own and are left alone.
type taskOptions struct {
	Timezone      string    `json:"timezone"`        // zone of the spec
	Timeout       duration  `json:"timeout"`         // 0 = none
	Misfire       string    `json:"misfire"`         // skip | once | all
	MisfireGrace  duration  `json:"misfire_grace"`   // a fire this late is still a normal run
	MisfireMax    int       `json:"misfire_max"`     // cap of catch-up runs for "all"
	Overlap       string    `json:"overlap"`         // allow | forbid | replace
	MaxParallel   int       `json:"max_parallel"`    // with allow; 0 = no limit
	MaxRetries    int       `json:"max_retries"`     // retries after a failure, timeout or loss
	RetryBackoff  string    `json:"retry_backoff"`   // fixed | exponential
	RetryDelay    duration  `json:"retry_delay"`     // first delay. Defaults to 10s
	RetryMaxDelay duration  `json:"retry_max_delay"` // cap of the exponential delay. Defaults to 10m
	Then          thenRules `json:"then"`            // child tasks run when a run of this one ends
	Queue         string    `json:"queue"`           // the named queue its runs go to; "" = the default for its function
	OnLost        string    `json:"on_lost"`         // recover | drop: a queued run whose worker died
	Shards        int       `json:"shards"`          // a fire is this many runs, each told its shard; 0 or 1 = one run
	Route         string    `json:"route"`           // "" or broadcast: a fire runs once on every live worker of its queue
}

// Conditions of extra.then.
const (
	ThenSuccess = "success" // the run succeeded (the default)
	ThenFailure = "failure" // it failed, timed out or was lost, with no attempt left
	ThenAlways  = "always"  // any of those, or skipped by the function
)

// thenRule is one child of extra.then: a task key, and the outcome of
// this task's run that starts it.
type thenRule struct {
	Key string `json:"key"`
	On  string `json:"on"`
}

// thenRules reads ["b", "c"] (on success) or [{"key": "b", "on": "failure"}].
type thenRules []thenRule

func (t *thenRules) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("want a list of task keys or of {\"key\": ..., \"on\": \"success|failure|always\"}, got %s", b)
	}
	*t = nil
	for i, r := range raw {
		rule := thenRule{On: ThenSuccess}
		if err := json.Unmarshal(r, &rule.Key); err != nil {
			if err := json.Unmarshal(r, &rule); err != nil {
				return fmt.Errorf("item %d: want a task key or {\"key\": ..., \"on\": ...}, got %s", i, r)
			}
			if rule.On == "" {
				rule.On = ThenSuccess
			}
		}
		switch {
		case rule.Key == "":
			return fmt.Errorf("item %d: empty task key", i)
		case rule.On != ThenSuccess && rule.On != ThenFailure && rule.On != ThenAlways:
			return fmt.Errorf("item %d: \"on\" wants success, failure or always, got %q", i, rule.On)
		}
		*t = append(*t, rule)
	}
	return nil
}

// starts reports whether a run that ended as status starts the child.
func (r thenRule) starts(status string) bool {
	switch status {
	case models.RunSuccess:
		return r.On != ThenFailure
	case models.RunFailed, models.RunTimeout, models.RunLost:
		return r.On != ThenSuccess
	case models.RunSkipped:
		return r.On == ThenAlways
	}
	return false // cancelled, interrupted: an operator or a shutdown ended it
}

// duration reads "90s" or a number of seconds.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var n float64
	if err := json.Unmarshal(b, &n); err == nil {
		if n < 0 {
			return fmt.Errorf("negative duration %v", n)
		}
		*d = duration(n * float64(time.Second))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"30s\" or a number of seconds, got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("want a duration such as \"30s\", got %q", s)
	}
	*d = duration(v)
	return nil
}

// optionKeys maps each key of task.extra the engine reads to its field.
func (o *taskOptions) fields() map[string]any {
	return map[string]any{
		"timezone": &o.Timezone, "timeout": &o.Timeout,
		"misfire": &o.Misfire, "misfire_grace": &o.MisfireGrace, "misfire_max": &o.MisfireMax,
		"overlap": &o.Overlap, "max_parallel": &o.MaxParallel,
		"max_retries": &o.MaxRetries, "retry_backoff": &o.RetryBackoff,
		"retry_delay": &o.RetryDelay, "retry_max_delay": &o.RetryMaxDelay,
		"then": &o.Then, "queue": &o.Queue, "on_lost": &o.OnLost,
		"shards": &o.Shards, "route": &o.Route,
	}
}

// parseOptions reads task.extra over the defaults. The error names the key at fault.
func parseOptions(extra string, defaultLoc *time.Location, d Defaults) (taskOptions, *time.Location, error) {
	o := taskOptions{
		Misfire: d.Misfire, MisfireGrace: duration(d.MisfireGrace), MisfireMax: d.MisfireMax, Overlap: d.Overlap,
		RetryBackoff: BackoffExponential, RetryDelay: duration(10 * time.Second), RetryMaxDelay: duration(10 * time.Minute),
		OnLost: OnLostDrop,
	}
	if strings.TrimSpace(extra) != "" {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal([]byte(extra), &keys); err != nil {
			return o, nil, fmt.Errorf("not a JSON object: %v", err)
		}
		for key, dst := range o.fields() {
			if raw, ok := keys[key]; ok {
				if err := json.Unmarshal(raw, dst); err != nil {
					return o, nil, fmt.Errorf("key %q: %v", key, err)
				}
			}
		}
	}
	if err := o.validate(); err != nil {
		return o, nil, err
	}
	loc := defaultLoc
	if o.Timezone != "" {
		var err error
		if loc, err = time.LoadLocation(o.Timezone); err != nil {
			return o, nil, fmt.Errorf("key \"timezone\": unknown time zone %q (want an IANA name such as \"Asia/Shanghai\")", o.Timezone)
		}
	}
	return o, loc, nil
}

func (o taskOptions) validate() error {
	oneOf := func(key, v string, allowed ...string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("key %q: want one of %s, got %q", key, strings.Join(allowed, ", "), v)
	}
	if err := oneOf("misfire", o.Misfire, MisfireSkip, MisfireOnce, MisfireAll); err != nil {
		return err
	}
	if err := oneOf("overlap", o.Overlap, OverlapAllow, OverlapForbid, OverlapReplace); err != nil {
		return err
	}
	if err := oneOf("retry_backoff", o.RetryBackoff, BackoffFixed, BackoffExponential); err != nil {
		return err
	}
	if err := oneOf("on_lost", o.OnLost, OnLostDrop, OnLostRecover); err != nil {
		return err
	}
	if o.Shards < 0 || o.Shards > maxShards {
		return fmt.Errorf("key \"shards\": want 0 to %d, got %d", maxShards, o.Shards)
	}
	if o.Route != "" && o.Route != RouteBroadcast {
		return fmt.Errorf("key \"route\": want \"broadcast\" or nothing, got %q", o.Route)
	}
	if o.Route == RouteBroadcast && o.Shards > 1 {
		return fmt.Errorf("key \"shards\": a broadcast task runs once per worker; it cannot also be sharded")
	}
	if !validQueueName(o.Queue) {
		return fmt.Errorf("key \"queue\": want 1 to 64 letters, digits, '-', '_' or '.', got %q", o.Queue)
	}
	for key, n := range map[string]int{"misfire_max": o.MisfireMax, "max_parallel": o.MaxParallel, "max_retries": o.MaxRetries} {
		if n < 0 {
			return fmt.Errorf("key %q: must not be negative, got %d", key, n)
		}
	}
	if o.MaxRetries > 1000 {
		return fmt.Errorf("key \"max_retries\": at most 1000, got %d", o.MaxRetries)
	}
	if o.MisfireMax == 0 {
		return fmt.Errorf("key \"misfire_max\": must be at least 1")
	}
	if o.RetryDelay < duration(time.Second) {
		return fmt.Errorf("key \"retry_delay\": must be at least 1s, got %s", time.Duration(o.RetryDelay))
	}
	if o.RetryMaxDelay < o.RetryDelay {
		return fmt.Errorf("key \"retry_max_delay\": must be at least retry_delay (%s), got %s", time.Duration(o.RetryDelay), time.Duration(o.RetryMaxDelay))
	}
	return nil
}

// retryDelay is the wait before attempt (2, 3, ...): fixed, or doubling
// from retry_delay with up to 20% jitter, capped at retry_max_delay.
func (o taskOptions) retryDelay(attempt int) time.Duration {
	base, maxd := time.Duration(o.RetryDelay), time.Duration(o.RetryMaxDelay)
	if o.RetryBackoff == BackoffFixed {
		return base
	}
	d := base
	for i := 2; i < attempt && d < maxd; i++ {
		d *= 2
	}
	d += time.Duration(rand.Int64N(int64(d)/5 + 1))
	return min(d, maxd)
}
