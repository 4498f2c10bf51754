package engine

import (
	"testing"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

// A sync reports the rows it knows by state, kept as rows come, change
// and go, with no query of its own.
func TestEngine_SyncCountsStates(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, db *models.DB) {
		h := setup(t, db)
		ready := h.insert("ready", "interval", "5", "record", "", "")
		h.insert("ready2", "cron", "0 9 * * *", "record", "", "")
		bad := h.insert("bad", "cron", "61 * * * *", "record", "", "")
		off := h.insert("off", "interval", "5", "record", "", "")
		h.exec("UPDATE task SET is_valid = 0 WHERE id = ?", off)
		h.insert("past", "date", "2025-01-01 00:00:00", "record", "", "")

		want := TaskCounts{Ready: 2, Error: 1, Disabled: 1, Done: 1}
		if got := h.sync().States; got != want {
			t.Fatalf("first sync: %+v, want %+v", got, want)
		}
		// Unchanged rows count once, sync after sync.
		if got := h.sync().States; got != want {
			t.Fatalf("second sync: %+v, want %+v", got, want)
		}
		// A disabled row, a fixed one, a deleted one.
		h.exec("UPDATE task SET is_valid = 0 WHERE id = ?", ready)
		h.exec("UPDATE task SET spec = '0 * * * *' WHERE id = ?", bad)
		h.exec("DELETE FROM task WHERE id = ?", off)
		want = TaskCounts{Ready: 2, Disabled: 1, Done: 1}
		if got := h.sync().States; got != want {
			t.Fatalf("after edits: %+v, want %+v", got, want)
		}
		if h.e.Backlog() != 0 {
			t.Errorf("backlog %d with nothing run", h.e.Backlog())
		}
	})
}
