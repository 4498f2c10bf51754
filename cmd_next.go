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
	var kind, spec, tz string
	var n int
	cmd := &cobra.Command{
		Use:   "next --spec SPEC",
		Short: "Print a schedule's canonical form and its next fire times",
		Long: `Print the canonical form of a trigger and spec, as the engine would apply
them to a row, and the next fire times. A bad spec is refused with the
message a row would get in sched_error. No database is needed.`,
		Example: `  taskrunner next --trigger cron --spec '0 9 * * 1-5' -n 2
  taskrunner next --trigger text --spec '每周一三五 10:00' -n 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			loc := time.UTC
			if tz != "" {
				var err error
				if loc, err = time.LoadLocation(tz); err != nil {
					return fmt.Errorf("--tz: unknown time zone %q", tz)
				}
			} else if cfg, err := conf.Load(g.confDir, appEnv()); err == nil {
				loc = cfg.Common.Scheduler.Location
			}
			return printNext(cmd.OutOrStdout(), kind, spec, loc, n)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "trigger", "cron", "trigger kind: cron, interval, date or text")
	f.StringVar(&spec, "spec", "", "the spec, as in task.spec")
	f.IntVarP(&n, "count", "n", 5, "how many fire times to print")
	f.StringVar(&tz, "tz", "", "IANA time zone (default: the configured one, else UTC)")
	_ = cmd.MarkFlagRequired("spec")
	return cmd
}

// printNext prints the canonical form and the next n fire times of a spec.
func printNext(w io.Writer, kind, spec string, loc *time.Location, n int) error {
	now := time.Now()
	s, err := engine.ParseSchedule(kind, spec, loc, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s %s\n", s.Kind(), s.Spec())
	times := trigger.NextN(s, now, n)
	if len(times) == 0 {
		fmt.Fprintln(w, "no fire time after now")
	}
	for _, t := range times {
		fmt.Fprintln(w, t.In(loc).Format("2006-01-02 15:04:05 Mon -0700 MST"))
	}
	return nil
}
