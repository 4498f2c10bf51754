package notice

import (
	"math"
	"time"
)

// Limit is a rate limit of a channel: at most N sends in any window of
// length Per.
type Limit struct {
	N   int
	Per time.Duration
}

// limiter is a sliding-window log of sends, held by one channel's worker
// only. Each window is stretched by a tenth: a send is timed when it
// starts, and network delay can bring two sends closer together at the
// robot than they were here. DingTalk locks a robot out for 10 minutes
// past 20 a minute, so a little slack costs less than one send too many.
type limiter struct {
	limits []Limit
	sent   []time.Time // Oldest first; only those inside the longest window.
}

func newLimiter(limits []Limit) *limiter {
	l := &limiter{}
	for _, lim := range limits {
		if lim.N > 0 && lim.Per > 0 {
			l.limits = append(l.limits, Limit{N: lim.N, Per: lim.Per + lim.Per/10})
		}
	}
	return l
}

// inWindow is the sends within per before now.
func (l *limiter) inWindow(now time.Time, per time.Duration) []time.Time {
	i := 0
	for i < len(l.sent) && !l.sent[i].After(now.Add(-per)) {
		i++
	}
	return l.sent[i:]
}

// avail is how many sends may start now.
func (l *limiter) avail(now time.Time) int {
	n := math.MaxInt
	for _, lim := range l.limits {
		n = min(n, lim.N-len(l.inWindow(now, lim.Per)))
	}
	return max(n, 0)
}

// next is when a send may start, at or after now.
func (l *limiter) next(now time.Time) time.Time {
	at := now
	for _, lim := range l.limits {
		if w := l.inWindow(now, lim.Per); len(w) >= lim.N {
			// The send that must leave the window for one more to fit.
			if t := w[len(w)-lim.N].Add(lim.Per); t.After(at) {
				at = t
			}
		}
	}
	return at
}

// take records a send starting now.
func (l *limiter) take(now time.Time) {
	var longest time.Duration
	for _, lim := range l.limits {
		longest = max(longest, lim.Per)
	}
	if longest == 0 {
		return
	}
	l.sent = append(l.inWindow(now, longest), now)
}
