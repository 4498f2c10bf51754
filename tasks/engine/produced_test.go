package engine

import (
	"encoding/json"
	"iter"
	"strings"
	"testing"
	"time"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

// produce enqueues a produced run of the task for each of objs, due now.
func (h *harness) produce(taskID int64, key string, objs ...string) {
	h.t.Helper()
	var args iter.Seq2[json.RawMessage, error] = func(yield func(json.RawMessage, error) bool) {
		for _, o := range objs {
			if !yield(json.RawMessage(o), nil) {
				return
			}
		}
	}
	rep, err := models.ProduceRuns(h.t.Context(), h.db, models.Produce{TaskID: taskID, TaskKey: key, ProducerRun: 1, ProducerTask: "producer",
		Args: args, Max: len(objs), At: h.clock.Now()})
	must(h.t, err)
	if rep.Produced != len(objs) {
		h.t.Fatalf("produced %+v, want %d", rep, len(objs))
	}
}

// A produced run runs with its task's args followed by its own, and with
// its task's extra; so does its retry. Args that do not go with the
// task's fail the run, and hold back no other.
func TestEngine_ProducedRuns(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		collect := h.insert("collect", "interval", "3600", "record", `{"region":"eu"}`, `{"timeout":"1m"}`)
		flaky := h.insert("flaky_collect", "interval", "3600", "fail", "", `{"max_retries": 1, "retry_delay": "1s", "retry_backoff": "fixed"}`)
		positional := h.insert("positional", "interval", "3600", "record", "1,2", "")
		h.sync()

		h.produce(collect, "collect", `{"uid":1}`, `{"uid":2,"region":"us"}`)
		h.produce(flaky, "flaky_collect", `{"uid":3}`)
		h.produce(positional, "positional", `{"uid":4}`)
		h.sync()
		got := map[string]bool{}
		for _, r := range h.wait(3) {
			got[r.Job.TaskKey+" "+r.Job.Args.String()+" "+string(r.Job.Extra)] = true
			if r.Job.Source != models.SourceProduced {
				t.Errorf("source %q", r.Job.Source)
			}
		}
		for _, want := range []string{
			`collect {"region":"eu","uid":1} {"timeout":"1m"}`,
			`collect {"region":"us","uid":2} {"timeout":"1m"}`,
			`flaky_collect {"uid":3} {"max_retries": 1, "retry_delay": "1s", "retry_backoff": "fixed"}`,
		} {
			if !got[want] {
				t.Errorf("no run %s; got %v", want, got)
			}
		}
		outputs := map[string]bool{}
		for _, r := range h.history(collect) {
			outputs[string(r.Output)] = r.Status == models.RunSuccess
		}
		if !outputs[`args={"region":"eu","uid":1}`] || !outputs[`args={"region":"us","uid":2}`] {
			t.Fatalf("collect's runs: %v", outputs)
		}
		if r := h.history(positional)[0]; r.Status != models.RunFailed || !strings.Contains(string(r.Error), "positional and named args do not mix") {
			t.Fatalf("positional's run: %s %q", r.Status, r.Error)
		}

		h.clock.Advance(time.Second) // the retry of flaky_collect's run is due
		h.sync()
		if r := h.wait(1)[0]; r.Job.TaskKey != "flaky_collect" || r.Job.Attempt != 2 || r.Job.Args.String() != `{"uid":3}` {
			t.Fatalf("retry %+v", r.Job)
		}
	})
}
