package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"taskrunner/models"
)

var (
	replicasDesc = prometheus.NewDesc("taskrunner_replicas",
		"Live processes in the replica table (not stopped, not declared dead), by kind: replica or worker. Read at scrape time.",
		[]string{"kind"}, nil)
	backlogDesc = prometheus.NewDesc("taskrunner_history_backlog",
		"Run outcomes waiting to be written to execute_task (queued or being written).", nil, nil)
	queueDepthDesc = prometheus.NewDesc("taskrunner_queue_depth",
		"Runs queued for a worker, by queue: execute_task rows in status queued. Read at scrape time.", []string{"queue"}, nil)
	queueAgeDesc = prometheus.NewDesc("taskrunner_queue_oldest_age_seconds",
		"Seconds since the oldest run queued on a queue was sent (its retry_at). Read at scrape time.", []string{"queue"}, nil)
)

// scrapeCollector reads, at each scrape, what the observer cannot count:
// the replica table, and the engine's write backlog.
type scrapeCollector struct {
	m       *Metrics
	db      *models.DB
	timeout time.Duration
}

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- replicasDesc
	ch <- backlogDesc
	ch <- queueDepthDesc
	ch <- queueAgeDesc
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	if e := c.m.backlog.Load(); e != nil {
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64((*e).Backlog()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	// The far future as deadSince: the live rows only.
	rs, err := models.ListReplicas(ctx, c.db, "", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		ch <- prometheus.NewInvalidMetric(replicasDesc, err)
		return
	}
	live := map[string]int{models.KindReplica: 0, models.KindWorker: 0}
	for _, r := range rs {
		if !r.DeadAt.Valid {
			live[r.Kind]++
		}
	}
	for kind, n := range live {
		ch <- prometheus.MustNewConstMetric(replicasDesc, prometheus.GaugeValue, float64(n), kind)
	}
	qs, err := models.QueueStats(ctx, c.db)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDepthDesc, err)
		return
	}
	now := time.Now()
	for _, q := range qs {
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(q.Queued), q.Queue)
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, max(now.Sub(q.Oldest).Seconds(), 0), q.Queue)
	}
}
