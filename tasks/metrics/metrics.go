// Package metrics exports what the engine does as Prometheus series: a
// Metrics is the engine's Observer (counting fires, runs, retries and
// syncs as they happen), reads the replica table at scrape time, and
// serves it all through Handler. Every series is listed, with its labels
// and meaning, in the README's "Metrics" section.
//
//	m := metrics.New(db, metrics.Config{}, log)
//	e, err := engine.New(cfg, db, reg, log, engine.WithObserver(m))
//	m.Watch(e)
//	mux.Handle("/metrics", m.Handler())
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"taskrunner/models"
)

// Config tunes the series. The zero value takes the defaults.
type Config struct {
	// MaxTasks caps the distinct task keys used as a label value; the
	// runs of keys seen after that are counted under "other". Defaults
	// to 1000.
	MaxTasks int
	// ReplicaTimeout bounds the read of the replica table at each
	// scrape. Defaults to 2s.
	ReplicaTimeout time.Duration
}

// OtherTask is the task label of the keys past Config.MaxTasks.
const OtherTask = "other"

// Skip reasons, the reason label of taskrunner_fires_skipped_total.
const (
	SkipOverlapForbid = "overlap_forbid" // a run of the task was still going
	SkipMaxParallel   = "max_parallel"   // overlap allow, max_parallel runs going
	SkipOther         = "other"          // a reason this package does not know yet
)

// Backlogger reports the history write backlog: *engine.Engine is one.
type Backlogger interface {
	Backlog() int
}

// Metrics is an engine.Observer that keeps the series, and the registry
// that serves them. Create it with New.
type Metrics struct {
	reg  *prometheus.Registry
	log  *slog.Logger
	keys *keySet

	scheduleFires prometheus.Counter
	firesClaimed  prometheus.Counter
	runs          *prometheus.CounterVec
	lateness      prometheus.Histogram
	duration      prometheus.Histogram
	misfires      prometheus.Counter
	requeued      prometheus.Counter
	retries       prometheus.Counter
	skipped       *prometheus.CounterVec
	syncDuration  prometheus.Histogram
	syncs         *prometheus.CounterVec
	tasks         *prometheus.GaugeVec
	groups        prometheus.Gauge

	backlog atomic.Pointer[Backlogger] // set by Watch
}

// New builds the series on a registry of their own, with the Go runtime
// and process collectors. db is read at each scrape for the live
// replicas and workers.
func New(db *models.DB, cfg Config, log *slog.Logger) *Metrics {
	if cfg.MaxTasks <= 0 {
		cfg.MaxTasks = 1000
	}
	if cfg.ReplicaTimeout <= 0 {
		cfg.ReplicaTimeout = 2 * time.Second
	}
	m := &Metrics{
		reg:  prometheus.NewRegistry(),
		log:  log.With("component", "metrics"),
		keys: &keySet{max: cfg.MaxTasks, seen: map[string]bool{}},
		scheduleFires: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskrunner_schedule_fires_total",
			Help: "Fires of a schedule this replica's timer handled; every replica handles every fire and they compete for its runs.",
		}),
		firesClaimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskrunner_fires_claimed_total",
			Help: "Runs of regular schedule fires this replica claimed (won) and started; catch-ups, retries and manual runs are not counted.",
		}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskrunner_runs_total",
			Help: "Run outcomes this replica recorded, by task key (capped) and status; lost runs by the replica that declared them lost.",
		}, []string{"task", "status"}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "taskrunner_lateness_seconds",
			Help:    "Start of a scheduled run minus its scheduled time (attempt 1 of the regular schedule only).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "taskrunner_run_duration_seconds",
			Help:    "How long a run's function ran, for every recorded outcome whose function was called.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600},
		}),
		misfires: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskrunner_misfires_total",
			Help: "Fire times not run, by the misfire policy (skip, or past misfire_max).",
		}),
		requeued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskrunner_runs_requeued_total",
			Help: "Runs claimed by a replica that died before starting them, put back to run elsewhere.",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskrunner_retries_total",
			Help: "Next attempts written after a failed, timed-out or lost run.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskrunner_fires_skipped_total",
			Help: "Fires recorded skipped by the overlap policy, by reason.",
		}, []string{"reason"}),
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "taskrunner_sync_duration_seconds",
			Help:    "How long a sync of the task table took, failed ones included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskrunner_syncs_total",
			Help: "Syncs of the task table, by result (ok, error).",
		}, []string{"result"}),
		tasks: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "taskrunner_tasks",
			Help: "Task rows by the state the last sync applied (ready, error, disabled, done).",
		}, []string{"state"}),
		groups: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "taskrunner_schedule_groups",
			Help: "Distinct schedules, one timer each, after the last sync.",
		}),
	}
	for _, r := range []string{SkipOverlapForbid, SkipMaxParallel} {
		m.skipped.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error"} {
		m.syncs.WithLabelValues(r)
	}
	m.reg.MustRegister(
		m.scheduleFires, m.firesClaimed, m.runs, m.lateness, m.duration, m.misfires, m.requeued, m.retries, m.skipped,
		m.syncDuration, m.syncs, m.tasks, m.groups,
		&scrapeCollector{m: m, db: db, timeout: cfg.ReplicaTimeout},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Watch reports e's history write backlog from now on.
func (m *Metrics) Watch(e Backlogger) { m.backlog.Store(&e) }

// Registry returns the registry holding every series, for a caller that
// serves it its own way or adds series of its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the series in Prometheus' text format. A series that
// cannot be read (the replica table, with the database down) is left
// out and logged; the others are served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      errorLog{m.log},
	})
}

type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) {
	l.log.Warn("series left out of a scrape", "error", strings.TrimSpace(fmt.Sprintln(v...)))
}

// keySet admits the first max task keys as label values; the rest are
// OtherTask. A key once admitted stays (a series must not change name).
type keySet struct {
	mu   sync.Mutex
	max  int
	seen map[string]bool
}

// label returns the label value for key, and whether it was admitted now.
func (k *keySet) label(key string) (string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.seen[key] {
		return key, false
	}
	if len(k.seen) >= k.max {
		return OtherTask, false
	}
	k.seen[key] = true
	return key, true
}

// skipReason maps the engine's free-text reason to a fixed label value.
func skipReason(reason string) string {
	switch {
	case strings.Contains(reason, "overlap forbid"):
		return SkipOverlapForbid
	case strings.Contains(reason, "max_parallel"):
		return SkipMaxParallel
	}
	return SkipOther
}
