package engine

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"

	"taskrunner/libs/trigger"
)

// timer is the engine's one use of gocron: one gocron job per group,
// timed by the group's own schedule (so gocron and the engine agree on
// every fire time), firing claimAhead before each fire time. Of gocron it
// relies on what timer_test.go pins: a custom cron implementation is
// asked for each next time, WithStartImmediately fires a new job at once,
// a run time in the same wall-clock second as the job's creation is
// skipped (so that first claim point is timed here), and StopJobs stops
// every timer without waiting for a task.
type timer struct {
	sched gocron.Scheduler
	clock clockwork.Clock
	lead  time.Duration
	log   *slog.Logger
	fire  func(key string) // a group's fire is due
}

func newTimer(clock clockwork.Clock, lead, stopTimeout time.Duration, log *slog.Logger, fire func(string)) (*timer, error) {
	s, err := gocron.NewScheduler(
		gocron.WithClock(clock),
		gocron.WithLocation(time.UTC),
		gocron.WithLogger(quietLogger{log.With("component", "gocron")}),
		gocron.WithStopTimeout(stopTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("engine: timer: %w", err)
	}
	return &timer{sched: s, clock: clock, lead: lead, log: log, fire: fire}, nil
}

func (t *timer) Start() { t.sched.Start() }

// Stop stops every timer: nothing fires any more.
func (t *timer) Stop() {
	if err := t.sched.StopJobs(); err != nil {
		t.log.Warn("stop timers", "error", err)
	}
}

// Shutdown frees gocron.
func (t *timer) Shutdown() {
	if err := t.sched.Shutdown(); err != nil {
		t.log.Warn("shut down timers", "error", err)
	}
}

// add times a new group.
func (t *timer) add(g *group) error {
	key := g.key
	adapter := cronAdapter{g.sched, t.lead}
	_, err := t.sched.NewJob(
		gocron.CronJob(key, true),
		gocron.NewTask(func() { t.fire(key) }),
		gocron.WithCronImplementation(adapter),
		gocron.WithIdentifier(g.id),
		gocron.WithName(key),
		// Fire at once: a fire time inside the first claim-ahead window
		// (which gocron's first timer would be set past) is claimed now,
		// not a period late. Otherwise a no-op.
		gocron.WithStartAt(gocron.WithStartImmediately()),
	)
	if err != nil {
		return fmt.Errorf("schedule %s: %w", key, err)
	}
	// gocron skips a first run time in the same wall-clock second as the
	// moment the job is made (its DST fall-back check compares times to
	// the second): that claim point is timed here instead.
	now := t.clock.Now()
	if first := adapter.Next(now); !first.IsZero() && first.Truncate(time.Second).Equal(now.Truncate(time.Second)) {
		t.clock.AfterFunc(first.Sub(now), func() { t.fire(key) })
	}
	return nil
}

// remove stops timing a group.
func (t *timer) remove(g *group) {
	if err := t.sched.RemoveJob(g.id); err != nil {
		t.log.Warn("remove schedule", "schedule", g.key, "error", err)
	}
}

// cronAdapter lets gocron time a group with the group's own schedule.
// gocron fires lead before each fire time, for the claim.
type cronAdapter struct {
	sched trigger.Schedule
	lead  time.Duration
}

func (cronAdapter) IsValid(string, *time.Location, time.Time) error { return nil }

// Next returns UTC times: gocron's own fall-back check compares wall
// clocks, which in UTC never repeat.
func (c cronAdapter) Next(last time.Time) time.Time {
	n := c.sched.Next(last.Add(c.lead))
	if n.IsZero() {
		return n
	}
	return n.Add(-c.lead)
}

// quietLogger passes gocron's messages on, less its per-event debug lines.
type quietLogger struct{ *slog.Logger }

func (quietLogger) Debug(string, ...any) {}
