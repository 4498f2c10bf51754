package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

func TestServer_Whoami(t *testing.T) {
	f := setup(t, modelstest.SQLite(t))
	for _, role := range []string{"read", "operate", "admin"} {
		var got map[string]string
		f.call("GET", "/api/v1/whoami", role, nil).want(t, http.StatusOK, "").into(t, &got)
		if got["name"] != role+"-bot" || got["role"] != role {
			t.Errorf("whoami as %s: %v", role, got)
		}
	}
	f.call("GET", "/api/v1/whoami", "", nil).want(t, http.StatusUnauthorized, "bearer")
}

func TestServer_RunStats(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		f := setup(t, db)
		ok := f.create(cronTask("ok"))
		bad := f.create(cronTask("bad"))
		_, err := db.Exec("UPDATE task SET last_status = 'failed', last_error = 'it broke' WHERE id = ?", bad.ID)
		must(t, err)
		// Half past an hour, so the manual run a second later falls in
		// the same hour whatever the time.
		fire := time.Now().UTC().Truncate(time.Hour).Add(-2*time.Hour + 30*time.Minute)
		claim := func(id int64, key string, at time.Time, late time.Duration, status, source string) models.Claim {
			return models.Claim{TaskID: id, TaskKey: key, ScheduledAt: at, Attempt: 1, Source: source, TraceID: key + at.String(),
				StartedAt: at.Add(late), Status: status}
		}
		_, err = models.ClaimRuns(t.Context(), db, []models.Claim{
			claim(ok.ID, "ok", fire, 50*time.Millisecond, models.RunSuccess, models.SourceSchedule),
			claim(bad.ID, "bad", fire, 150*time.Millisecond, models.RunFailed, models.SourceSchedule),
			claim(ok.ID, "ok", fire.Add(time.Second), time.Hour, models.RunSuccess, models.SourceManual),       // late on purpose: not in the lateness
			claim(ok.ID, "ok", fire.Add(-30*time.Hour), time.Second, models.RunSuccess, models.SourceSchedule), // before the window
		})
		must(t, err)

		var st runStats
		asked := time.Now() // the window ends after the time of the request, not after whatever follows it
		f.call("GET", "/api/v1/stats/runs", "read", nil).want(t, http.StatusOK, "").into(t, &st)
		if len(st.Hours) != 24 || !st.Until.After(asked) {
			t.Fatalf("window %s to %s, %d hours", st.Since, st.Until, len(st.Hours))
		}
		total := map[string]int64{}
		for _, h := range st.Hours {
			for k, v := range h.Counts {
				total[k] += v
				if !h.Hour.Equal(fire.Truncate(time.Hour)) {
					t.Errorf("runs counted in hour %s, want %s", h.Hour, fire.Truncate(time.Hour))
				}
			}
		}
		if total["success"] != 2 || total["failed"] != 1 || len(total) != 2 {
			t.Errorf("counts %v, want success 2, failed 1", total)
		}
		if l := st.Lateness; l.Samples != 2 || l.P50MS == nil || *l.P50MS != 50 || *l.P99MS != 150 {
			t.Errorf("lateness %+v, want 2 samples, p50 50 ms, p99 150 ms", l)
		}
		if len(st.Failing) != 1 || st.Failing[0].Key != "bad" {
			t.Errorf("failing tasks %+v, want bad", st.Failing)
		}
		f.call("GET", "/api/v1/stats/runs?hours=0", "read", nil).want(t, http.StatusBadRequest, "query hours")
	})
}

// The console's files need no token; the API's data still does.
func TestServer_Console(t *testing.T) {
	f := setup(t, modelstest.SQLite(t))
	for path, want := range map[string]string{"/console/": "text/html", "/console/app.js": "javascript", "/console/console.css": "text/css"} {
		res, err := http.Get(f.ts.URL + path)
		must(t, err)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), want) || res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(f.ts.URL + "/")
	must(t, err)
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/console/" {
		t.Errorf("GET /: %d to %q, want 302 to /console/", res.StatusCode, res.Header.Get("Location"))
	}
	f.call("GET", "/api/v1/tasks", "", nil).want(t, http.StatusUnauthorized, "bearer")
}
