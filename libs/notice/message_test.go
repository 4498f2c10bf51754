package notice

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func sampleMessage() Message {
	return Message{
		TaskKey: "report_daily", TaskDesc: "每日报表", RunID: 1234, TraceID: "6f1c0d2e",
		Status: "failed", Error: "goroutine 1\nmain.go:10\nconnection refused",
		ScheduledAt: "2026-11-23 09:00:00 CST", Link: "https://console.example.com/runs/1234",
	}
}

func TestBatch_MarkdownSingle(t *testing.T) {
	got := Batch{Messages: []Message{sampleMessage()}}.Markdown(0)
	for _, want := range []string{
		"#### [taskrunner] failed: report_daily",
		"**Task: **report_daily — 每日报表",
		"**Status: **failed",
		"**Scheduled: **2026-11-23 09:00:00 CST",
		"**Run: **run 1234 · trace 6f1c0d2e",
		"> connection refused",
		"[Open in console](https://console.example.com/runs/1234)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("markdown lacks %q:\n%s", want, got)
		}
	}
}

func TestBatch_TextDigest(t *testing.T) {
	var b Batch
	for range digestLines + 5 {
		b.Messages = append(b.Messages, sampleMessage())
	}
	b.Counted = []Count{{TaskKey: "sync_users", N: 7, Why: "repeated", Status: "timeout"}}
	got := b.Text(0)
	for _, want := range []string{
		"[taskrunner] 42 alerts",
		"- failed report_daily · 2026-11-23 09:00:00 CST · run 1234 · trace 6f1c0d2e · connection refused",
		"- … and 5 more",
		"- sync_users: 7 more alerts (repeated), latest timeout",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "**") {
		t.Errorf("plain text has markdown:\n%s", got)
	}
}

func TestBatch_CutKeepsUTF8(t *testing.T) {
	m := sampleMessage()
	m.Error = strings.Repeat("错误", 2000)
	for _, max := range []int{100, 101, 102, 4096} {
		got := Batch{Messages: []Message{m}}.Markdown(max)
		if len(got) > max || !utf8.ValidString(got) {
			t.Errorf("Markdown(%d): %d bytes, valid UTF-8 %v", max, len(got), utf8.ValidString(got))
		}
	}
	if got := tail(m.Error, 10); !utf8.ValidString(got) || len(got) > 10+len("…") {
		t.Errorf("tail = %q", got)
	}
}

func TestBatch_TitleFoldsLines(t *testing.T) {
	m := sampleMessage()
	m.TaskKey = "a\r\nBcc: x@example.com"
	if got := (Batch{Messages: []Message{m}}).Title(); strings.ContainsAny(got, "\r\n") {
		t.Fatalf("title has a line break: %q", got)
	}
}

func TestBatch_DigestListsAtMost30Counts(t *testing.T) {
	var b Batch
	for i := range 40 {
		b.Counted = append(b.Counted, Count{TaskKey: fmt.Sprintf("t%02d", i), N: 2, Why: "queue full"})
	}
	got := b.Text(0)
	if strings.Contains(got, "t30:") || !strings.Contains(got, "- … and 20 more alerts of 10 more tasks") {
		t.Fatalf("digest:\n%s", got)
	}
}
