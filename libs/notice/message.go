package notice

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Message is one alert about one run. The caller fills it from the run and
// the task; times are strings so each is shown in the task's own zone.
type Message struct {
	TaskKey     string `json:"task_key"`
	TaskDesc    string `json:"task_desc,omitempty"`
	RunID       int64  `json:"run_id,omitempty"`
	TraceID     string `json:"trace_id,omitempty"`
	Status      string `json:"status"`                 // failed, timeout, lost, recovered, missed, …
	Error       string `json:"error,omitempty"`        // The end of the run's error; Notify keeps its last 2000 bytes.
	ScheduledAt string `json:"scheduled_at,omitempty"` // Already formatted in the task's zone, e.g. "2026-11-23 09:00:00 CST".
	Link        string `json:"link,omitempty"`         // The run in the console, when its address is configured.
}

// Batch is what one send carries: a single message, or a digest of
// several plus counts of alerts that were not kept.
type Batch struct {
	Messages []Message `json:"messages"`          // Oldest first.
	Counted  []Count   `json:"counted,omitempty"` // Alerts counted instead of kept.
}

// Count is a number of alerts for one task that a batch reports without
// carrying them.
type Count struct {
	TaskKey string `json:"task_key"`
	N       int    `json:"n"`
	// Why is "repeated" (within task_interval of the task's last alert) or
	// "queue full".
	Why    string `json:"why"`
	Status string `json:"status,omitempty"` // Of the latest, when known.
}

// Single reports whether b is one message, rendered in full.
func (b Batch) Single() bool { return len(b.Messages) == 1 && len(b.Counted) == 0 }

// Len is the number of alerts b stands for.
func (b Batch) Len() int {
	n := len(b.Messages)
	for _, c := range b.Counted {
		n += c.N
	}
	return n
}

const (
	errorTailBytes = 2000 // Kept by Notify.
	shownErrBytes  = 600  // Of a single message's error, shown.
	digestLines    = 30   // Messages listed one a line in a digest.
	digestErrBytes = 80   // Of each listed message's error.
)

// Title is the one-line summary: the subject of an email, a robot's title.
func (b Batch) Title() string {
	if b.Single() {
		m := b.Messages[0]
		return oneLine(fmt.Sprintf("[taskrunner] %s: %s", m.Status, m.TaskKey))
	}
	return fmt.Sprintf("[taskrunner] %d alerts", b.Len())
}

// style is how a renderer marks up text: markdown for the robots that take
// it, nothing for plain text.
type style struct {
	heading, bold func(string) string
	quote         string // Prefix of each line of an error.
	item          string // Prefix of a digest line.
	link          func(text, href string) string
}

var (
	markdown = style{
		heading: func(s string) string { return "#### " + s },
		bold:    func(s string) string { return "**" + s + "**" },
		quote:   "> ",
		item:    "- ",
		link:    func(text, href string) string { return "[" + text + "](" + href + ")" },
	}
	plain = style{
		heading: func(s string) string { return s },
		bold:    func(s string) string { return s },
		quote:   "  ",
		item:    "- ",
		link:    func(text, href string) string { return text + ": " + href },
	}
)

// Markdown renders b for robots that take markdown, in at most max bytes.
func (b Batch) Markdown(max int) string { return cut(b.render(markdown), max) }

// Text renders b as plain text, in at most max bytes (0: no limit).
func (b Batch) Text(max int) string { return cut(b.render(plain), max) }

func (b Batch) render(s style) string {
	var w strings.Builder
	line := func(parts ...string) { w.WriteString(strings.Join(parts, "")); w.WriteString("\n") }
	if b.Single() {
		m := b.Messages[0]
		line(s.heading(b.Title()))
		line()
		task := m.TaskKey
		if m.TaskDesc != "" {
			task += " — " + m.TaskDesc
		}
		line(s.bold("Task: "), oneLine(task))
		line(s.bold("Status: "), m.Status)
		if m.ScheduledAt != "" {
			line(s.bold("Scheduled: "), m.ScheduledAt)
		}
		if m.RunID != 0 || m.TraceID != "" {
			line(s.bold("Run: "), runRef(m))
		}
		if m.Error != "" {
			line(s.bold("Error:"))
			for l := range strings.Lines(tail(m.Error, shownErrBytes)) {
				line(s.quote, strings.TrimRight(l, "\r\n"))
			}
		}
		if m.Link != "" {
			line()
			line(s.link("Open in console", m.Link))
		}
		return w.String()
	}
	line(s.heading(b.Title()))
	line()
	for i, m := range b.Messages {
		if i == digestLines {
			line(s.item, fmt.Sprintf("… and %d more", len(b.Messages)-digestLines))
			break
		}
		parts := []string{s.bold(m.Status), " ", oneLine(m.TaskKey)}
		if m.ScheduledAt != "" {
			parts = append(parts, " · ", m.ScheduledAt)
		}
		if r := runRef(m); r != "" {
			parts = append(parts, " · ", r)
		}
		if m.Error != "" {
			parts = append(parts, " · ", oneLine(head(lastLine(m.Error), digestErrBytes)))
		}
		line(append([]string{s.item}, parts...)...)
	}
	for i, c := range b.Counted {
		if i == digestLines {
			rest := 0
			for _, c := range b.Counted[i:] {
				rest += c.N
			}
			line(s.item, fmt.Sprintf("… and %d more alerts of %d more tasks", rest, len(b.Counted)-i))
			break
		}
		txt := fmt.Sprintf("%s: %d more alerts (%s)", oneLine(c.TaskKey), c.N, c.Why)
		if c.TaskKey == "" {
			txt = fmt.Sprintf("%d more alerts (%s)", c.N, c.Why)
		}
		if c.Status != "" {
			txt += ", latest " + c.Status
		}
		line(s.item, txt)
	}
	return w.String()
}

func runRef(m Message) string {
	var parts []string
	if m.RunID != 0 {
		parts = append(parts, fmt.Sprintf("run %d", m.RunID))
	}
	if m.TraceID != "" {
		parts = append(parts, "trace "+m.TraceID)
	}
	return strings.Join(parts, " · ")
}

// oneLine folds line breaks so a value cannot start a markdown block or a
// mail header.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", " ")), " ")
}

// lastLine is the last non-blank line: the end of an error is its cause.
func lastLine(s string) string {
	s = strings.TrimRight(s, " \t\r\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// tail is the last n bytes of s, from a rune boundary.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return "…" + s[i:]
}

// head is the first n bytes of s, up to a rune boundary.
func head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// cut keeps s within max bytes (0: no limit), marking what it dropped.
func cut(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	const mark = "\n…(cut)"
	return head(s, max-len(mark)-len("…")) + mark
}
