package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"taskrunner/models"
	"taskrunner/tasks"
)

func TestCheckTask(t *testing.T) {
	reg := tasks.NewRegistry()
	must(t, reg.Add("record", func(context.Context, *tasks.Run) error { return nil }))
	must(t, tasks.AddTyped(reg, "typed", func(context.Context, *tasks.Run, pair) error { return nil }))
	ok := models.Task{Key: "k", Func: "record", Trigger: "cron", Spec: "0 9 * * *", Args: "1,2", Extra: `{"timeout": "30s", "mine": 1}`}
	cases := []struct {
		name   string
		edit   func(*models.Task)
		fields []string // columns at fault, in order
		says   string
	}{
		{"valid", func(*models.Task) {}, nil, ""},
		{"bad spec", func(t *models.Task) { t.Spec = "61 * * * *" }, []string{"spec"}, "61"},
		{"unknown trigger", func(t *models.Task) { t.Trigger = "weekly" }, []string{"trigger"}, "weekly"},
		{"unknown function", func(t *models.Task) { t.Func = "nope" }, []string{"execute_func"}, "nope"},
		{"args not JSON", func(t *models.Task) { t.Args = "1,,2" }, []string{"args"}, "bad args"},
		{"args the function cannot take", func(t *models.Task) { t.Func, t.Args = "typed", `"x"` }, []string{"args"}, "typed"},
		{"bad option", func(t *models.Task) { t.Extra = `{"overlap": "sometimes"}` }, []string{"extra"}, "overlap"},
		{"extra not an object", func(t *models.Task) { t.Extra = `[1]` }, []string{"extra"}, "JSON object"},
		{"several at once", func(t *models.Task) { t.Spec, t.Func = "", "nope" }, []string{"spec", "execute_func"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			row := ok
			c.edit(&row)
			errs := CheckTask(DefaultConfig(), reg, row, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
			}
			if strings.Join(got, ",") != strings.Join(c.fields, ",") {
				t.Fatalf("fields %q, want %q (%v)", got, c.fields, errs)
			}
			if c.says != "" && !strings.Contains(errs[0].Message, c.says) {
				t.Errorf("message %q does not mention %q", errs[0].Message, c.says)
			}
		})
	}
}
