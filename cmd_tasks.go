package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"taskrunner/models"
)

func newTasksCmd(g *globals) *cobra.Command {
	cf := &connFlags{}
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "List, show, create, edit, enable, disable or delete tasks",
		Long: `Manage the rows of the task table. Through --server the daemon's API checks,
audits and applies each edit at once; on the database directly, an edit is
checked as the engine would check it, audited (actor cli:<os user>, source
cli) in the same transaction, and applied by the daemons at their next sync.

A task is named by its task_key (the valid row of that key, else the lowest
id), or by its row id when no row has that key. Without a subcommand, list.`,
		Args: cobra.NoArgs,
	}
	addConnFlags(cmd, cf)
	list := newTasksListCmd(g, cf)
	cmd.RunE = list.RunE
	cmd.AddCommand(list, newTasksShowCmd(g, cf), newTasksWriteCmd(g, cf, true), newTasksWriteCmd(g, cf, false),
		newTasksSimpleCmd(g, cf, "enable"), newTasksSimpleCmd(g, cf, "disable"), newTasksSimpleCmd(g, cf, "delete"))
	return cmd
}

func newTasksListCmd(g *globals, cf *connFlags) *cobra.Command {
	var f models.TaskFilter
	var enabled, disabled bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tasks, in id order",
		Example: `  taskrunner tasks list --func daily_report
  taskrunner tasks list --status error --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.Valid = -1
			switch {
			case enabled && disabled:
				return usagef("--enabled and --disabled: give one")
			case enabled:
				f.Valid = 1
			case disabled:
				f.Valid = 0
			}
			return withBackend(cmd, g, cf, func(ctx context.Context, b backend) error {
				ts, err := b.listTasks(ctx, f)
				if err != nil {
					return err
				}
				if cf.json {
					return writeJSON(cmd.OutOrStdout(), nonNil(ts))
				}
				return printTasks(cmd.OutOrStdout(), ts)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Key, "key", "", "only this task_key")
	fl.StringVar(&f.Func, "func", "", "only this execute_func")
	fl.StringVar(&f.Trigger, "trigger", "", "only this trigger kind")
	fl.StringVar(&f.Status, "status", "", "only this status: ready, doing, error, disabled, done")
	fl.BoolVar(&enabled, "enabled", false, "only rows with is_valid = 1")
	fl.BoolVar(&disabled, "disabled", false, "only rows with is_valid = 0")
	fl.IntVar(&f.Limit, "limit", 0, "at most this many rows (0: all)")
	return cmd
}

// printTasks prints the task list table.
func printTasks(w io.Writer, ts []taskView) error {
	tb := newTable(w, "ID", "KEY", "FUNC", "TRIGGER", "SPEC", "ENABLED", "STATUS", "NEXT FIRE", "LAST STATUS")
	for _, t := range ts {
		tb.row(fmt.Sprint(t.ID), t.Key, t.Func, t.Trigger, clip(t.Spec, 30), yesNo(t.IsValid == 1), t.Status,
			showTime(t.NextFireAt, t.loc), t.LastStatus)
	}
	return tb.flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// nonNil makes an empty list print as [] in JSON.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func newTasksShowCmd(g *globals, cf *connFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show <key>",
		Short: "Show one task: its definition and what the engine made of it",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(cmd, g, cf, func(ctx context.Context, b backend) error {
				t, err := b.task(ctx, args[0])
				if err != nil {
					return err
				}
				return printTask(cmd.OutOrStdout(), cf, t)
			})
		},
	}
}

// printTask prints one task, a line per column.
func printTask(w io.Writer, cf *connFlags, t taskView) error {
	if cf.json {
		return writeJSON(w, t)
	}
	tb := newTable(w, "id", fmt.Sprint(t.ID))
	for _, kv := range [][2]string{
		{"task_key", t.Key}, {"desc", t.Desc}, {"execute_func", t.Func}, {"trigger", t.Trigger}, {"spec", t.Spec},
		{"args", t.Args}, {"enabled", yesNo(t.IsValid == 1)}, {"extra", string(t.Extra)}, {"timezone", t.Timezone},
		{"status", t.Status}, {"applied_spec", t.AppliedSpec}, {"sched_error", t.SchedError},
		{"next_fire_at", showTime(t.NextFireAt, t.loc)}, {"last_fire_at", showTime(t.LastFireAt, t.loc)},
		{"last_status", t.LastStatus}, {"last_error", firstLine(t.LastError)},
		{"create_at", showTime(&t.CreateAt, t.loc)}, {"update_at", showTime(&t.UpdateAt, t.loc)},
	} {
		tb.row(kv[0], kv[1])
	}
	return tb.flush()
}

// editFlags are the columns create and edit take from flags.
type editFlags struct {
	key, desc, fn, trigger, spec, args, extra, file string
	disabled                                        bool
}

// edit is what the flags given (and the file) set.
func (ef *editFlags) edit(cmd *cobra.Command, create bool) (taskEdit, error) {
	var e taskEdit
	if ef.file != "" {
		var err error
		if e, err = readTaskFile(cmd.InOrStdin(), ef.file); err != nil {
			return e, err
		}
	}
	fl := cmd.Flags()
	for _, s := range []struct {
		name string
		v    string
		dst  **string
	}{{"key", ef.key, &e.Key}, {"desc", ef.desc, &e.Desc}, {"func", ef.fn, &e.Func}, {"trigger", ef.trigger, &e.Trigger},
		{"spec", ef.spec, &e.Spec}, {"args", ef.args, &e.Args}} {
		if fl.Changed(s.name) {
			v := s.v
			*s.dst = &v
		}
	}
	if fl.Changed("extra") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(ef.extra), &obj); err != nil || obj == nil {
			return e, usagef("--extra: want a JSON object such as '{\"timeout\":\"30s\"}', got %q", ef.extra)
		}
		e.Extra = json.RawMessage(ef.extra)
	}
	if fl.Changed("disabled") {
		v := 1
		if ef.disabled {
			v = 0
		}
		e.IsValid = &v
	}
	if create {
		var missing []string
		for _, r := range []struct {
			flag string
			v    *string
		}{{"--key", e.Key}, {"--func", e.Func}, {"--spec", e.Spec}} {
			if r.v == nil || strings.TrimSpace(*r.v) == "" {
				missing = append(missing, r.flag)
			}
		}
		if len(missing) > 0 {
			return e, usagef("create needs %s (as flags or in --file)", strings.Join(missing, ", "))
		}
		if e.Trigger == nil {
			cron := "cron"
			e.Trigger = &cron
		}
	} else if e.empty() {
		return e, usagef("edit: nothing to change; give the columns to change as flags or in --file")
	}
	return e, nil
}

// taskFile is a task as a TOML or JSON file writes it.
type taskFile struct {
	Key     *string         `json:"task_key"`
	Desc    *string         `json:"desc"`
	Func    *string         `json:"execute_func"`
	Trigger *string         `json:"trigger"`
	Spec    *string         `json:"spec"`
	Args    json.RawMessage `json:"args"`     // the column's text, or a JSON array or object
	IsValid *int            `json:"is_valid"` // 1 or 0
	Extra   json.RawMessage `json:"extra"`    // a table / object
}

// readTaskFile reads a task from a .toml or .json file ("-": stdin,
// JSON or TOML). Unknown keys are refused.
func readTaskFile(stdin io.Reader, path string) (taskEdit, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return taskEdit{}, err
	}
	isJSON := strings.EqualFold(filepath.Ext(path), ".json") || path == "-" && json.Valid(data)
	if !isJSON {
		var m map[string]any
		if _, err := toml.Decode(string(data), &m); err != nil {
			return taskEdit{}, fmt.Errorf("%s: %w", path, err)
		}
		if data, err = json.Marshal(m); err != nil {
			return taskEdit{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	var f taskFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return taskEdit{}, fmt.Errorf("%s: %w (keys: task_key, desc, execute_func, trigger, spec, args, is_valid, extra)", path, err)
	}
	e := taskEdit{Key: f.Key, Desc: f.Desc, Func: f.Func, Trigger: f.Trigger, Spec: f.Spec, IsValid: f.IsValid}
	if f.Args != nil {
		var s string
		if json.Unmarshal(f.Args, &s) != nil {
			var buf bytes.Buffer
			_ = json.Compact(&buf, f.Args)
			s = buf.String()
		}
		e.Args = &s
	}
	if f.Extra != nil {
		var obj map[string]any
		if json.Unmarshal(f.Extra, &obj) != nil || obj == nil {
			return taskEdit{}, fmt.Errorf("%s: extra: want a table (an object), got %s", path, clip(string(f.Extra), 40))
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, f.Extra)
		e.Extra = buf.Bytes()
	}
	return e, nil
}

func newTasksWriteCmd(g *globals, cf *connFlags, create bool) *cobra.Command {
	ef := &editFlags{}
	cmd := &cobra.Command{
		Use:   "create --key K --func F --spec S [--trigger T] | --file FILE",
		Short: "Create a task from flags or a TOML/JSON file",
		Example: `  taskrunner tasks create --key report --func daily_report --trigger cron --spec '0 9 * * 1-5' --extra '{"timezone":"Asia/Shanghai"}'
  taskrunner tasks create --file report.toml`,
		Args: cobra.NoArgs,
	}
	if !create {
		cmd.Use = "edit <key> [flags] [--file FILE]"
		cmd.Short = "Change the given columns of a task, from flags or a TOML/JSON file"
		cmd.Example = `  taskrunner tasks edit report --spec '0 10 * * 1-5'
  taskrunner tasks edit report --file report.toml`
		cmd.Args = exactArgs(1)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		e, err := ef.edit(cmd, create)
		if err != nil {
			return err
		}
		return withBackend(cmd, g, cf, func(ctx context.Context, b backend) error {
			var t taskView
			if create {
				t, err = b.createTask(ctx, e)
			} else {
				t, err = b.editTask(ctx, args[0], e)
			}
			if err != nil {
				return err
			}
			return printTask(cmd.OutOrStdout(), cf, t)
		})
	}
	fl := cmd.Flags()
	fl.StringVar(&ef.key, "key", "", "task_key")
	fl.StringVar(&ef.desc, "desc", "", "description")
	fl.StringVar(&ef.fn, "func", "", "execute_func: a registered function")
	fl.StringVar(&ef.trigger, "trigger", "", "cron, interval, date or text (create: cron)")
	fl.StringVar(&ef.spec, "spec", "", "the schedule, in the trigger's grammar")
	fl.StringVar(&ef.args, "args", "", `args: 1,2,3 / "a","b" / a JSON array or object`)
	fl.StringVar(&ef.extra, "extra", "", `extra, a JSON object: {"timezone":"Asia/Shanghai","timeout":"5m"}`)
	fl.BoolVar(&ef.disabled, "disabled", false, "is_valid = 0 (--disabled=false: 1)")
	fl.StringVarP(&ef.file, "file", "f", "", "read the columns from a .toml or .json file (- for stdin); flags override it")
	return cmd
}

// newTasksSimpleCmd is enable, disable or delete.
func newTasksSimpleCmd(g *globals, cf *connFlags, verb string) *cobra.Command {
	short := map[string]string{
		"enable":  "Enable a task (is_valid = 1), once it checks out",
		"disable": "Disable a task (is_valid = 0)",
		"delete":  "Delete a task's row (its runs stay in execute_task)",
	}[verb]
	return &cobra.Command{
		Use:   verb + " <key>",
		Short: short,
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(cmd, g, cf, func(ctx context.Context, b backend) error {
				var t taskView
				var err error
				switch verb {
				case "enable", "disable":
					t, err = b.setEnabled(ctx, args[0], verb == "enable")
				case "delete":
					t, err = b.deleteTask(ctx, args[0])
				}
				if err != nil {
					return err
				}
				if cf.json {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"id": t.ID, "task_key": t.Key, "action": verb, "is_valid": t.IsValid})
				}
				what := map[string]string{"enable": "enabled", "disable": "disabled", "delete": "deleted"}[verb]
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "task %d (%s) %s\n", t.ID, t.Key, what)
				return err
			})
		},
	}
}

// withBackend connects as cf says, runs f, and closes.
func withBackend(cmd *cobra.Command, g *globals, cf *connFlags, f func(ctx context.Context, b backend) error) error {
	ctx := cmd.Context()
	b, err := connect(ctx, g, cf)
	if err != nil {
		return err
	}
	defer b.close()
	return f(ctx, b)
}

// exactArgs is cobra.ExactArgs naming the arguments, a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s: want %d argument(s) (%s), got %d", cmd.CommandPath(), n, cmd.Use, len(args))
		}
		return nil
	}
}
