package phrase

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"taskrunner/libs/trigger"
)

// rule is the clauses of a repeating phrase, each at most once.
type rule struct {
	days   *dayRule
	times  *atTimes
	window *window
	repeat *repeat
}

// recurring builds an interval or a cron from repeating clauses.
func (s *scanner) recurring(cs []clause) (kind, spec string, err error) {
	r, err := s.collect(cs)
	if err != nil {
		return "", "", err
	}
	switch {
	case r.repeat != nil && r.repeat.minute == 0 && r.days == nil && r.window == nil && r.times == nil:
		return trigger.KindInterval, r.repeat.every.String(), nil
	case r.days == nil && r.times == nil && r.window == nil && r.repeat == nil:
		return "", "", refuse(s.phrase, hintAny, "%q says neither when nor how often", s.src)
	}
	days := dayRule{}
	if r.days != nil {
		days = *r.days
	}
	secs, err := s.fireSeconds(r)
	if err != nil {
		return "", "", err
	}
	if r.times != nil && r.times.hasMidnight() && !days.everyDay() && !days.newYear() {
		h := hint{"每周五0点", "every Friday at 0:00"}
		if !hasHan(days.text) && days.months != nil {
			h = hint{days.text + " at 0:00", days.text + " at 12am"}
		}
		if days.lastDay {
			h = hint{"每月最后一天0点", "on the 1st of every month at 0:00"}
		}
		return "", "", refuse(s.phrase, h, "%q with %q could be the start or the end of the day", r.times.text, days.text)
	}
	spec, err = s.cron(days, secs, r.timesText())
	return trigger.KindCron, spec, err
}

// collect sorts repeating clauses into a rule, refusing a part given twice.
func (s *scanner) collect(cs []clause) (rule, error) {
	var r rule
	for _, c := range cs {
		var prev clause
		var what string
		switch c := c.(type) {
		case dayRule:
			if r.days != nil {
				prev, what = *r.days, "the days"
			}
			r.days = &c
		case atTimes:
			if r.times != nil {
				prev, what = *r.times, "the times"
			}
			r.times = &c
		case window:
			if r.window != nil {
				prev, what = *r.window, "the hours"
			}
			r.window = &c
		case repeat:
			if r.repeat != nil {
				prev, what = *r.repeat, "how often"
			}
			r.repeat = &c
		}
		if prev != nil {
			return rule{}, s.conflict(prev, c, what)
		}
	}
	return r, nil
}

// timesText quotes the clauses that give the times of day, for messages.
func (r rule) timesText() string {
	switch {
	case r.times != nil:
		return strconv.Quote(r.times.text)
	case r.window != nil:
		return strconv.Quote(r.repeat.text) + " within " + strconv.Quote(r.window.text)
	case r.repeat != nil:
		return strconv.Quote(r.repeat.text)
	}
	return "it"
}

// fireSeconds is the times of day a repeating rule fires at, in seconds
// since the start of the day (86400 is 24:00).
func (s *scanner) fireSeconds(r rule) ([]int, error) {
	switch {
	case r.repeat != nil && r.repeat.every >= 24*time.Hour:
		return nil, refuse(s.phrase, hint{"每天9点", "every 2 days"}, "%q is a day or longer, so it takes no days, times or hours: one cron cannot count days across months; use it alone, or a day rule", r.repeat.text)
	case r.times != nil && r.repeat != nil:
		return nil, refuse(s.phrase, hintRange, "%q and %q conflict: a task fires at given times, or repeats within a range of hours", r.times.text, r.repeat.text)
	case r.times != nil && r.window != nil:
		return nil, refuse(s.phrase, hintRange, "%q and %q conflict: a range needs a step, not times", r.times.text, r.window.text)
	case r.window != nil && r.repeat == nil:
		return nil, refuse(s.phrase, hintRange, "%q needs a step, such as 每30分钟 or every 30 minutes", r.window.text)
	case r.times != nil:
		return s.clockSeconds(*r.times, anyPeriod)
	case r.repeat == nil:
		return []int{0}, nil // a day rule alone fires at 00:00
	}
	from, to := 0, 86400
	if r.window != nil {
		var err error
		if from, to, err = s.bounds(*r.window); err != nil {
			return nil, err
		}
	}
	step := int(r.repeat.every / time.Second)
	from += r.repeat.minute * 60 // 每小时的第15分钟: 0:15, 1:15, …
	var out []int
	for t := from; t < to; t += step { // the end of a window is exclusive
		out = append(out, t)
	}
	return out, nil
}

// cron renders days and times of day as a cron expression, with a seconds
// field only when a time needs one.
func (s *scanner) cron(days dayRule, secs []int, timesText string) (string, error) {
	secs = sortedSet(secs)
	if len(secs) > 0 && secs[len(secs)-1] >= 86400 {
		var err error
		if days, secs, err = s.endOfDay(days, secs); err != nil {
			return "", err
		}
	}
	sec, min, hour, ok := factor(secs)
	if !ok || len(secs) == 0 {
		return "", refuse(s.phrase, hint{"每天9点和18点", "every 15 minutes between 9:00 and 17:00"},
			"%s fires at %s: not the same minutes in every hour, which one cron cannot express; use two tasks, or a step that divides an hour", timesText, listSeconds(secs))
	}
	f := []string{field(min, 0, 59, true), field(hour, 0, 23, true)}
	f = append(f, days.cronFields()...)
	if len(sec) > 1 || sec[0] != 0 {
		f = append([]string{field(sec, 0, 59, true)}, f...)
	}
	return strings.Join(f, " "), nil
}

// endOfDay moves times from 24:00 on (晚上12点, 晚上12点半) to the next day.
func (s *scanner) endOfDay(days dayRule, secs []int) (dayRule, []int, error) {
	out := make([]int, len(secs))
	for i, t := range secs {
		out[i] = t % 86400
	}
	if days.everyDay() {
		return days, sortedSet(out), nil
	}
	next, ok := days.nextDay()
	if secs[0] < 86400 || !ok {
		return days, nil, refuse(s.phrase, hint{"每周五晚上12点", "every Saturday at 0:00"},
			"%q at %s falls on the next day, which one cron cannot express together with these days and times; give the time on the next day", days.text, formatSeconds(secs[len(secs)-1]))
	}
	return next, out, nil
}

// factor splits times of day into seconds, minutes and hours, and reports
// whether every combination of them is one of the times, as cron requires.
func factor(secs []int) (sec, min, hour []int, ok bool) {
	for _, t := range secs {
		hour = append(hour, t/3600)
		min = append(min, t/60%60)
		sec = append(sec, t%60)
	}
	sec, min, hour = sortedSet(sec), sortedSet(min), sortedSet(hour)
	return sec, min, hour, len(sec)*len(min)*len(hour) == len(secs)
}

// field renders a sorted set of values from lo to hi as a cron field: "*",
// "*/15", "9-17/2", "9-17", or a list "1,15".
func field(vals []int, lo, hi int, steps bool) string {
	size := hi - lo + 1
	if len(vals) == size {
		return "*"
	}
	if d := stride(vals); steps && d > 1 {
		if vals[0] == lo && size%d == 0 && len(vals) == size/d {
			return "*/" + strconv.Itoa(d)
		}
		if len(vals) >= 3 {
			return fmt.Sprintf("%d-%d/%d", vals[0], vals[len(vals)-1], d)
		}
	}
	var parts []string
	for i := 0; i < len(vals); {
		j := i
		for j+1 < len(vals) && vals[j+1] == vals[j]+1 {
			j++
		}
		if j-i >= 2 {
			parts = append(parts, fmt.Sprintf("%d-%d", vals[i], vals[j]))
		} else {
			for _, v := range vals[i : j+1] {
				parts = append(parts, strconv.Itoa(v))
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// stride is the common difference of vals, or 0 when there is none.
func stride(vals []int) int {
	if len(vals) < 2 {
		return 0
	}
	d := vals[1] - vals[0]
	for i := 2; i < len(vals); i++ {
		if vals[i]-vals[i-1] != d {
			return 0
		}
	}
	return d
}

// listSeconds renders the first few times of day, for messages.
func listSeconds(secs []int) string {
	var parts []string
	for i, t := range secs {
		if i == 4 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, formatSeconds(t))
	}
	return strings.Join(parts, ", ")
}
