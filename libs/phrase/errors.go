package phrase

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"taskrunner/libs/trigger"
)

// hint is two supported phrases close to a refused one.
type hint struct{ a, b string }

func (h hint) String() string { return fmt.Sprintf("try %q or %q", h.a, h.b) }

var (
	hintAny   = hint{"每天9点", "every day at 9:00"}
	hintTime  = hint{"每天9点半", "every day at 9:30pm"}
	hintEvery = hint{"每5分钟", "every 5 minutes"}
	hintWeek  = hint{"每周一9点", "every Monday at 9:00"}
	hintMonth = hint{"每月1号9点", "on the 1st of every month at 9:00"}
	hintYear  = hint{"每年12月1日9点", "every year on Dec 1 at 9:00"}
	hintRange = hint{"工作日9点到17点每15分钟", "every 15 minutes between 9:00 and 17:00 on weekdays"}
	hintOnce  = hint{"明天下午3点", "tomorrow at 3pm"}
	hintIn    = hint{"10分钟后", "in 10 minutes"}
	hintDate  = hint{"12月1日8点", "on Dec 1 at 8:00"}
)

// refuse returns the error for a phrase that is not scheduled. It wraps
// trigger.ErrBadSpec, so callers treat it as bad input.
func refuse(phrase string, h hint, format string, args ...any) error {
	return fmt.Errorf("%w: cannot understand %q: %s; %s", trigger.ErrBadSpec, clip(phrase, 80, false), fmt.Sprintf(format, args...), h)
}

// notUnderstood is the error for a phrase no clause could read on from the
// furthest point any alternative reached.
func (s *scanner) notUnderstood() error {
	at := max(s.far, s.pos)
	left := strings.TrimSpace(s.src[at:])
	switch {
	case left == "" && s.want.what != "":
		return refuse(s.phrase, s.want.hint, "%s is missing after %q", s.want.what, tail(s.src[:at]))
	case left == "": // an alternative read to the end, then failed: quote the clause
		word := clip(strings.TrimSpace(s.src[s.pos:]), 24, false)
		_, h := guess(word)
		return refuse(s.phrase, h, "%q is not understood here", word)
	}
	word := firstWord(left)
	if at == s.far && s.want.what != "" {
		return refuse(s.phrase, s.want.hint, "%q is not %s", word, s.want.what)
	}
	what, h := guess(word)
	return refuse(s.phrase, h, "%q is not %s", word, what)
}

// guess names what an unreadable word was probably meant to be.
func guess(word string) (string, hint) {
	has := func(marks ...string) bool {
		for _, m := range marks {
			if strings.Contains(word, m) {
				return true
			}
		}
		return false
	}
	switch {
	case has("点", "时", ":", "am", "pm", "noon", "clock"):
		return "a time", hintAny
	case has("周", "day"):
		return "a day", hintWeek
	case has("号", "日", "月", "年", "-", "/"):
		return "a date", hintDate
	case has("秒", "分", "小时", "天", "second", "minute", "hour", "min"):
		return "a length of time", hintEvery
	}
	return "understood", hintAny
}

// firstWord is word up to the first space or comma, at most 24 runes.
func firstWord(s string) string {
	if i := strings.IndexAny(s, " ,;"); i > 0 {
		s = s[:i]
	}
	return clip(s, 24, false)
}

// tail is the end of what was read, at most 24 runes.
func tail(s string) string { return clip(strings.TrimSpace(s), 24, true) }

func clip(s string, n int, keepEnd bool) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	if keepEnd {
		return "…" + string(r[len(r)-n:])
	}
	return string(r[:n]) + "…"
}
