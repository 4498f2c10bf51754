package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"taskrunner/conf"
	"taskrunner/libs/trigger"
	"taskrunner/tasks/engine"
)

func newNextCmd(g *globals) *cobra.Command {
	cf := &connFlags{}
	var kind, spec, tz, from string
	var n int
	cmd := &cobra.Command{
		Use:   "next <key> | --spec SPEC [--trigger T] [--tz Z]",
		Short: "Print a schedule's canonical form and its next fire times",
		Long: `Print the canonical form of a schedule, as the engine would apply it, and its
next fire times: of a stored task (its zone, and its text phrases measured
from its last edit, read through --server or from the database), or of an
unsaved trigger and spec (no database needed). A bad spec is refused with
the message a row would get in sched_error. --from starts from another
instant than now (RFC 3339, or "YYYY-MM-DD[ HH:MM[:SS]]" in the zone).`,
		Example: `  taskrunner next report -n 3
  taskrunner next --trigger cron --spec '0 9 * * 1-5' -n 2
  taskrunner next --trigger text --spec '每周一三五 10:00' -n 1 --from 2026-12-01`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) > 1:
				return usagef("next: want one task key, got %d arguments", len(args))
			case len(args) == 1 && cmd.Flags().Changed("spec"):
				return usagef("next: give a task key or --spec, not both")
			case len(args) == 0 && !cmd.Flags().Changed("spec"):
				return usagef("next: give a task key, or --spec (with --trigger)")
			case len(args) == 1 && (cmd.Flags().Changed("trigger") || cmd.Flags().Changed("tz")):
				return usagef("next: --trigger and --tz are for --spec; a stored task has its own")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 0 {
				return usagef("-n: want a count of 0 or more, got %d", n)
			}
			if len(args) == 1 {
				b, err := connect(cmd.Context(), g, cf)
				if err != nil {
					return err
				}
				defer b.close()
				t, err := b.task(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				start, err := startAt(from, t.loc)
				if err != nil {
					return err
				}
				return printNext(cmd.OutOrStdout(), cf.json, t.Trigger, t.Spec, t.loc, t.UpdateAt, start, n)
			}
			loc := time.UTC
			if tz != "" {
				var err error
				if loc, err = time.LoadLocation(tz); err != nil {
					return usagef("--tz: unknown time zone %q", tz)
				}
			} else if cfg, err := conf.Load(g.confDir, appEnv()); err == nil {
				loc = cfg.Common.Scheduler.Location
			}
			start, err := startAt(from, loc)
			if err != nil {
				return err
			}
			return printNext(cmd.OutOrStdout(), cf.json, kind, spec, loc, start, start, n)
		},
	}
	addConnFlags(cmd, cf)
	f := cmd.Flags()
	f.StringVar(&kind, "trigger", "cron", "trigger kind: cron, interval, date or text")
	f.StringVar(&spec, "spec", "", "the spec, as in task.spec")
	f.IntVarP(&n, "count", "n", 5, "how many fire times to print")
	f.StringVar(&tz, "tz", "", "IANA time zone (default: the configured one, else UTC)")
	f.StringVar(&from, "from", "", "start from this instant instead of now")
	return cmd
}

// startAt is --from in loc, or now.
func startAt(from string, loc *time.Location) (time.Time, error) {
	if from == "" {
		return time.Now(), nil
	}
	return parseWhen("from", from, loc)
}

// printNext prints the canonical form and the next n fire times of a
// spec after from; ref is what relative text phrases are measured from.
func printNext(w io.Writer, asJSON bool, kind, spec string, loc *time.Location, ref, from time.Time, n int) error {
	s, err := engine.ParseSchedule(kind, spec, loc, ref)
	if err != nil {
		return err
	}
	times := trigger.NextN(s, from, n)
	if asJSON {
		out := map[string]any{"applied_spec": s.Kind() + " " + s.Spec(), "trigger": s.Kind(), "spec": s.Spec(), "timezone": loc.String(), "times": []string{}}
		ts := make([]string, len(times))
		for i, t := range times {
			ts[i] = t.In(loc).Format(time.RFC3339)
		}
		out["times"] = ts
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "%s %s\n", s.Kind(), s.Spec())
	if len(times) == 0 {
		fmt.Fprintln(w, "no fire time after", from.In(loc).Format(timeLayout))
	}
	for _, t := range times {
		fmt.Fprintln(w, t.In(loc).Format("2006-01-02 15:04:05 Mon -0700 MST"))
	}
	return nil
}
