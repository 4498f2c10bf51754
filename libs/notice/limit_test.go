package notice

import (
	"testing"
	"time"
)

func TestLimiter_DingTalkNeverMoreThan20InAMinute(t *testing.T) {
	l := newLimiter(dingTalkLimits)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	var sent []time.Time
	// Send as fast as the limiter allows for 10 minutes.
	for now.Before(t0.Add(10 * time.Minute)) {
		if l.avail(now) == 0 {
			next := l.next(now)
			if !next.After(now) {
				t.Fatalf("next %v not after %v with no budget", next, now)
			}
			now = next
			continue
		}
		l.take(now)
		sent = append(sent, now)
	}
	for i := range sent {
		n := 0
		for _, s := range sent[i:] {
			if s.Sub(sent[i]) < time.Minute {
				n++
			}
		}
		if n > 20 {
			t.Fatalf("%d sends in the minute from %v", n, sent[i])
		}
	}
	if len(sent) < 20*9 {
		t.Errorf("only %d sends in 10 minutes: the limiter is too strict", len(sent))
	}
}

func TestLimiter_FeishuBothWindows(t *testing.T) {
	l := newLimiter(feishuLimits)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 5 {
		l.take(now)
	}
	if got := l.avail(now); got != 0 {
		t.Fatalf("avail after 5 in one second = %d, want 0", got)
	}
	if got, want := l.next(now), now.Add(1100*time.Millisecond); !got.Equal(want) {
		t.Fatalf("next = %v, want %v (1 s stretched by a tenth)", got, want)
	}
	// 100 in the minute: the per-second window alone would allow more.
	for range 19 {
		now = l.next(now)
		for l.avail(now) > 0 {
			l.take(now)
		}
	}
	if len(l.sent) != 100 {
		t.Fatalf("sent %d, want 100", len(l.sent))
	}
	if got := l.avail(now.Add(2 * time.Second)); got != 0 {
		t.Fatalf("avail 2 s after the 100th = %d, want 0 (the minute window)", got)
	}
}

func TestLimiter_NoLimits(t *testing.T) {
	l := newLimiter(nil)
	now := time.Now()
	for range 1000 {
		l.take(now)
	}
	if l.avail(now) == 0 || !l.next(now).Equal(now) {
		t.Fatal("a channel without limits ran out")
	}
}
