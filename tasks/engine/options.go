package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// taskOptions are the keys of task.extra the engine reads. Other keys are
// the user's own and are left alone.
type taskOptions struct {
	// Timezone overrides the configured default zone of cron, date and text specs.
	Timezone string `json:"timezone"`
	// Timeout cancels a run's context after this long ("30s"); 0 = none.
	Timeout duration `json:"timeout"`
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

// parseOptions reads task.extra. The error names the key at fault.
func parseOptions(extra string, defaultLoc *time.Location) (taskOptions, *time.Location, error) {
	var o taskOptions
	if strings.TrimSpace(extra) == "" {
		return o, defaultLoc, nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(extra), &keys); err != nil {
		return o, nil, fmt.Errorf("not a JSON object: %v", err)
	}
	for _, k := range []struct {
		key string
		dst any
	}{{"timezone", &o.Timezone}, {"timeout", &o.Timeout}} {
		if raw, ok := keys[k.key]; ok {
			if err := json.Unmarshal(raw, k.dst); err != nil {
				return o, nil, fmt.Errorf("key %q: %v", k.key, err)
			}
		}
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
