package engine

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"

	"taskrunner/libs/trigger"
)

// These tests pin the gocron behaviour the timer relies on; a gocron
// upgrade that changes it fails here first.

func newTestTimer(t *testing.T, clock *clockwork.FakeClock, lead time.Duration) (*timer, chan time.Time) {
	t.Helper()
	fired := make(chan time.Time, 100)
	tm, err := newTimer(clock, lead, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)), func(string) { fired <- clock.Now() })
	must(t, err)
	tm.Start()
	t.Cleanup(tm.Shutdown)
	return tm, fired
}

func nextFire(t *testing.T, fired chan time.Time) time.Time {
	t.Helper()
	select {
	case at := <-fired:
		return at
	case <-time.After(10 * time.Second):
		t.Fatal("no fire")
	}
	return time.Time{}
}

func noFire(t *testing.T, fired chan time.Time) {
	t.Helper()
	select {
	case at := <-fired:
		t.Fatalf("unexpected fire at %v", at)
	case <-time.After(100 * time.Millisecond):
	}
}

func blockUntil(t *testing.T, clock *clockwork.FakeClock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, clock.BlockUntilContext(ctx, n))
}

func every(t *testing.T, spec string) trigger.Schedule {
	t.Helper()
	s, err := trigger.Parse(trigger.KindInterval, spec, trigger.Options{Location: time.UTC})
	must(t, err)
	return s
}

// gocron asks the custom cron implementation for every next time, and
// fires lead before each fire time of the group's schedule.
func TestTimer_FiresLeadBeforeEachFireTime(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Date(2026, 1, 1, 0, 0, 1, 500_000_000, time.UTC))
	tm, fired := newTestTimer(t, clock, 200*time.Millisecond)
	g := newGroup("interval 5s @UTC", every(t, "5"), clock.Now())
	must(t, tm.add(g))
	nextFire(t, fired) // WithStartImmediately: one fire at once (a no-op for the dispatcher)
	for _, want := range []time.Time{
		time.Date(2026, 1, 1, 0, 0, 4, 800_000_000, time.UTC), // 00:00:05 less the lead
		time.Date(2026, 1, 1, 0, 0, 9, 800_000_000, time.UTC),
	} {
		blockUntil(t, clock, 1)
		clock.Advance(want.Sub(clock.Now()) - time.Millisecond)
		noFire(t, fired)
		clock.Advance(time.Millisecond)
		if at := nextFire(t, fired); !at.Equal(want) {
			t.Fatalf("fired at %v, want %v", at, want)
		}
	}
}

// gocron skips a first run time in the same wall-clock second as the
// job's creation: add times that claim point itself.
func TestTimer_FirstRunInTheSameSecond(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Date(2026, 1, 1, 0, 0, 4, 100_000_000, time.UTC))
	sched := every(t, "5") // next fire 00:00:05; with an 800 ms lead its claim point is 00:00:04.2

	// gocron alone, as the timer makes its jobs: the claim point is lost.
	s, err := gocron.NewScheduler(gocron.WithClock(clock), gocron.WithLocation(time.UTC), gocron.WithLogger(quietLogger{slog.New(slog.NewTextHandler(io.Discard, nil))}))
	must(t, err)
	s.Start()
	t.Cleanup(func() { _ = s.Shutdown() })
	bare := make(chan time.Time, 10)
	_, err = s.NewJob(gocron.CronJob("x", true), gocron.NewTask(func() { bare <- clock.Now() }),
		gocron.WithCronImplementation(cronAdapter{sched, 800 * time.Millisecond}), gocron.WithName("x"))
	must(t, err)
	blockUntil(t, clock, 1)
	clock.Advance(200 * time.Millisecond) // 00:00:04.3, past the claim point
	noFire(t, bare)

	// The timer: the claim point fires.
	clock2 := clockwork.NewFakeClockAt(time.Date(2026, 1, 1, 0, 0, 4, 100_000_000, time.UTC))
	tm, fired := newTestTimer(t, clock2, 800*time.Millisecond)
	must(t, tm.add(newGroup("interval 5s @UTC", sched, clock2.Now())))
	nextFire(t, fired) // at once
	blockUntil(t, clock2, 1)
	clock2.Advance(100 * time.Millisecond)
	if at := nextFire(t, fired); !at.Equal(time.Date(2026, 1, 1, 0, 0, 4, 200_000_000, time.UTC)) {
		t.Fatalf("claim point fired at %v", at)
	}
}

// Stop stops every timer at once; removing a group stops its timer.
func TestTimer_StopAndRemove(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC))
	tm, fired := newTestTimer(t, clock, 0)
	g := newGroup("interval 5s @UTC", every(t, "5"), clock.Now())
	must(t, tm.add(g))
	nextFire(t, fired)
	tm.remove(g)
	clock.Advance(10 * time.Second)
	noFire(t, fired)

	must(t, tm.add(g))
	nextFire(t, fired)
	tm.Stop()
	clock.Advance(10 * time.Second)
	noFire(t, fired)
}
