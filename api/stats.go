package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"taskrunner/models"
)

// whoami: the token's name and role, for the console to show only what
// the role may do (the server refuses the rest anyway).
func (s *Server) whoami(r *http.Request) (any, error) {
	p := who(r)
	return map[string]string{"name": p.name, "role": p.role.String()}, nil
}

// latenessSamples bounds the runs read for the lateness percentiles.
const latenessSamples = 10000

// hourStats is one hour of the runs chart: runs by status.
type hourStats struct {
	Hour   time.Time        `json:"hour"` // its start, UTC
	Counts map[string]int64 `json:"counts"`
}

// runStats is the console's overview: runs per hour by status, lateness
// percentiles, and the failing tasks.
type runStats struct {
	Since    time.Time   `json:"since"`
	Until    time.Time   `json:"until"`
	Hours    []hourStats `json:"hours"`
	Lateness struct {
		P50MS   *int64 `json:"p50_ms"`
		P99MS   *int64 `json:"p99_ms"`
		Samples int    `json:"samples"`
	} `json:"lateness"`
	Failing []taskOut `json:"failing_tasks"`
}

// runStats: the last ?hours (24 by default, at most 168) of runs, hour by
// hour; the lateness (start minus fire time) of the latest 10,000
// scheduled runs of that window; and up to 50 failing tasks.
func (s *Server) runStats(r *http.Request) (any, error) {
	hours := 24
	if v := r.URL.Query().Get("hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 168 {
			return nil, errorf(http.StatusBadRequest, "query hours: want 1 to 168, got %q", v)
		}
		hours = n
	}
	until := s.now().UTC().Truncate(time.Hour).Add(time.Hour)
	since := until.Add(-time.Duration(hours) * time.Hour)
	out := runStats{Since: since, Until: until, Hours: make([]hourStats, hours), Failing: []taskOut{}}
	for i := range out.Hours {
		out.Hours[i] = hourStats{Hour: since.Add(time.Duration(i) * time.Hour), Counts: map[string]int64{}}
	}
	counts, err := models.RunsPerHour(r.Context(), s.db, since, until)
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		h, err := time.Parse("2006-01-02 15", c.Hour)
		if err != nil {
			continue
		}
		if i := int(h.Sub(since) / time.Hour); i >= 0 && i < hours {
			out.Hours[i].Counts[c.Status] += c.N
		}
	}
	ls, err := models.RecentLateness(r.Context(), s.db, since, latenessSamples)
	if err != nil {
		return nil, err
	}
	ms := make([]int64, 0, len(ls))
	for _, l := range ls {
		ms = append(ms, max(0, l.StartedAt.Sub(l.ScheduledAt).Milliseconds()))
	}
	slices.Sort(ms)
	out.Lateness.Samples = len(ms)
	if len(ms) > 0 {
		p50, p99 := nearestRank(ms, 50), nearestRank(ms, 99)
		out.Lateness.P50MS, out.Lateness.P99MS = &p50, &p99
	}
	ts, err := models.FailingTasks(r.Context(), s.db, 50)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		out.Failing = append(out.Failing, showTask(t))
	}
	return out, nil
}

// nearestRank is the p-th percentile of sorted values: the smallest value
// with at least p % of them at or below it.
func nearestRank(sorted []int64, p int) int64 {
	i := (len(sorted)*p + 99) / 100 // ceil(n × p / 100)
	return sorted[max(i, 1)-1]
}
