package metrics

import (
	"time"

	"taskrunner/models"
	"taskrunner/tasks/engine"
)

var _ engine.Observer = (*Metrics)(nil)

// failureStatuses are the outcomes whose series are made as soon as a
// task key is admitted, at zero: increase() over a series that appears
// with its first failure misses that failure.
var failureStatuses = []string{models.RunSuccess, models.RunFailed, models.RunTimeout, models.RunLost}

// task returns the task label of key, making its outcome series at
// zero when the key is new.
func (m *Metrics) task(key string) string {
	label, isNew := m.keys.label(key)
	if isNew {
		for _, st := range failureStatuses {
			m.runs.WithLabelValues(label, st)
		}
	}
	return label
}

// SyncDone counts the sync and, when it succeeded, sets the rows by
// state from the engine's own counts.
func (m *Metrics) SyncDone(rep engine.SyncReport, took time.Duration, err error) {
	m.syncDuration.Observe(took.Seconds())
	if err != nil {
		m.syncs.WithLabelValues("error").Inc()
		return
	}
	m.syncs.WithLabelValues("ok").Inc()
	s := rep.States
	m.tasks.WithLabelValues(models.TaskReady).Set(float64(s.Ready))
	m.tasks.WithLabelValues(models.TaskError).Set(float64(s.Error))
	m.tasks.WithLabelValues(models.TaskDisabled).Set(float64(s.Disabled))
	m.tasks.WithLabelValues(models.TaskDone).Set(float64(s.Done))
	m.groups.Set(float64(rep.Groups))
}

func (m *Metrics) FireClaimed(_ string, _ time.Time, _, won int) {
	m.scheduleFires.Inc()
	m.firesClaimed.Add(float64(won))
}

// RunStarted observes the lateness of regular fires: catch-ups, retries
// and manual runs start late, or early, by design.
func (m *Metrics) RunStarted(job engine.Job, at time.Time) {
	m.task(job.TaskKey)
	if job.Source == models.SourceSchedule && job.Attempt == 1 {
		m.lateness.Observe(max(0, at.Sub(job.ScheduledAt).Seconds()))
	}
}

func (m *Metrics) RunFinished(job engine.Job, f models.Finish) {
	m.runs.WithLabelValues(m.task(job.TaskKey), f.Status).Inc()
	if !f.StartedAt.IsZero() {
		m.duration.Observe(f.Duration.Seconds())
	}
}

func (m *Metrics) RunLost(taskKey string, _ int64, _ string) {
	m.runs.WithLabelValues(m.task(taskKey), models.RunLost).Inc()
}

func (m *Metrics) Requeued(string, int64, string) { m.requeued.Inc() }

func (m *Metrics) Missed(_ string, _, _ time.Time, count int) { m.misfires.Add(float64(count)) }

func (m *Metrics) Retried(string, int, time.Time) { m.retries.Inc() }

func (m *Metrics) Skipped(_ string, _ time.Time, reason string) {
	m.skipped.WithLabelValues(skipReason(reason)).Inc()
}
