package engine

import (
	"time"

	"taskrunner/models"
)

// Observer is told what the engine does, as gocron's SchedulerMonitor is:
// metrics and alerts implement it, and tests wait on it. Its methods are
// called from the engine's goroutines and must return quickly.
type Observer interface {
	// SyncDone: a sync of the task table ended (err nil on success).
	SyncDone(rep SyncReport, took time.Duration, err error)
	// FireClaimed: a schedule's fire was claimed; won of claims runs are
	// this replica's (the others were another replica's or skipped).
	FireClaimed(schedule string, at time.Time, claims, won int)
	// RunStarted: a run's function was called.
	RunStarted(job Job, at time.Time)
	// RunFinished: a run's outcome was written (or refused by the fence:
	// another owner had taken the run).
	RunFinished(job Job, f models.Finish)
	// RunLost: a run's owner died or its lease ran out while it ran.
	RunLost(taskKey string, runID int64, owner string)
	// Requeued: a run claimed by an owner that died before starting it
	// was put back, to run elsewhere.
	Requeued(taskKey string, runID int64, owner string)
	// Missed: fire times not run, by the misfire policy.
	Missed(taskKey string, from, to time.Time, count int)
	// Retried: the next attempt of a failed, timed-out or lost run was
	// written, due at at.
	Retried(taskKey string, attempt int, at time.Time)
	// Skipped: a fire was recorded skipped (overlap policy) for reason.
	Skipped(taskKey string, at time.Time, reason string)
}

// NopObserver ignores everything; embed it to implement only some methods.
type NopObserver struct{}

func (NopObserver) SyncDone(SyncReport, time.Duration, error) {}
func (NopObserver) FireClaimed(string, time.Time, int, int)   {}
func (NopObserver) RunStarted(Job, time.Time)                 {}
func (NopObserver) RunFinished(Job, models.Finish)            {}
func (NopObserver) RunLost(string, int64, string)             {}
func (NopObserver) Requeued(string, int64, string)            {}
func (NopObserver) Missed(string, time.Time, time.Time, int)  {}
func (NopObserver) Retried(string, int, time.Time)            {}
func (NopObserver) Skipped(string, time.Time, string)         {}

// observers tells each of several observers, in order.
type observers []Observer

func (os observers) SyncDone(rep SyncReport, took time.Duration, err error) {
	for _, o := range os {
		o.SyncDone(rep, took, err)
	}
}

func (os observers) FireClaimed(schedule string, at time.Time, claims, won int) {
	for _, o := range os {
		o.FireClaimed(schedule, at, claims, won)
	}
}

func (os observers) RunStarted(job Job, at time.Time) {
	for _, o := range os {
		o.RunStarted(job, at)
	}
}

func (os observers) RunFinished(job Job, f models.Finish) {
	for _, o := range os {
		o.RunFinished(job, f)
	}
}

func (os observers) RunLost(taskKey string, runID int64, owner string) {
	for _, o := range os {
		o.RunLost(taskKey, runID, owner)
	}
}

func (os observers) Requeued(taskKey string, runID int64, owner string) {
	for _, o := range os {
		o.Requeued(taskKey, runID, owner)
	}
}

func (os observers) Missed(taskKey string, from, to time.Time, count int) {
	for _, o := range os {
		o.Missed(taskKey, from, to, count)
	}
}

func (os observers) Retried(taskKey string, attempt int, at time.Time) {
	for _, o := range os {
		o.Retried(taskKey, attempt, at)
	}
}

func (os observers) Skipped(taskKey string, at time.Time, reason string) {
	for _, o := range os {
		o.Skipped(taskKey, at, reason)
	}
}
