// Command taskrunner runs scheduled tasks defined as rows of the task table.
//
//	taskrunner [run]                                     run the daemon (APP_ENV selects conf/<env>/)
//	taskrunner migrate                                   create or upgrade the tables, then exit
//	taskrunner next <key> | --trigger T --spec S         print a schedule's canonical form and next fire times
//	taskrunner tasks|runs|workers|audit|validate         read and edit the tables, or a daemon's API (--server)
//	taskrunner trigger|backfill|kill                     act through a running daemon's API (--server)
//	taskrunner version                                   print the version
//	taskrunner tokens add|list|revoke                    manage the tokens workers register with (database only)
//
// Each verb is built in its cmd_<verb>.go; this file wires the root
// command and the start-up that run and migrate share.
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
	_ "time/tzdata" // time zones work in a minimal image without /usr/share/zoneinfo

	"github.com/spf13/cobra"

	"taskrunner/conf"
	"taskrunner/libs/logger"
	"taskrunner/libs/mysqlpool"
	"taskrunner/libs/phrase"
	"taskrunner/libs/sqlitedb"
	"taskrunner/libs/trigger"
	"taskrunner/models"
)

//go:embed schema.sql
var schema string

//go:embed schema_sqlite.sql
var schemaSQLite string

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "taskrunner:", err)
		os.Exit(exitCode(err))
	}
}

// run executes the command line args (without the program name), writing
// what it prints for people, help included, to stdout. An error is
// returned, not printed; exitCode gives its exit status.
func run(args []string, stdout io.Writer) error {
	trigger.SetTextFunc(phrase.Parse)
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	return root.Execute()
}

// globals are the flags every command takes.
type globals struct {
	confDir string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	runCmd := newRunCmd(g)
	root := &cobra.Command{
		Use:   "taskrunner",
		Short: "Run scheduled tasks defined as rows of the task table",
		Long: `taskrunner runs scheduled tasks defined as rows of the task table and records
every run in execute_task. Without a command it runs the daemon (see "run").

APP_ENV (local, test or online; default local) selects conf/<APP_ENV>/.

tasks, runs, next <key>, validate, workers and audit read (and tasks edits)
the database of --conf, or a running daemon's API with --server URL (or
TASKRUNNER_SERVER) and --token (or TASKRUNNER_TOKEN); trigger, backfill and
kill need --server. Tables for people, --json for scripts. tokens
manages the tokens workers register with, on the database of --conf only.

Exit status: 0 success (also --help and a clean shutdown); 1 an error;
2 bad usage (unknown command or flag, missing or extra argument, a bad
flag value, --server missing where needed); 3 validate found bad rows.`,
		RunE:          runCmd.RunE,
		SilenceErrors: true, // main prints the error, once
		SilenceUsage:  true,
	}
	root.PersistentFlags().StringVar(&g.confDir, "conf", "conf", "configuration directory holding <APP_ENV>/*.toml")
	root.AddCommand(runCmd, newMigrateCmd(g), newNextCmd(g), newVersionCmd(),
		newTasksCmd(g), newTriggerCmd(), newBackfillCmd(), newRunsCmd(g), newValidateCmd(g), newKillCmd(),
		newWorkersCmd(g), newAuditCmd(g), newWorkerCmd(g), newTokensCmd(g))
	root.InitDefaultCompletionCmd() // cobra's completion verb: bash, zsh, fish, powershell
	markRan(root)
	root.SetUsageTemplate(usageTemplate)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, c.CommandPath())
	})
	return root
}

// markRan marks the errors of every command's RunE as the command's own
// (exit status 1 unless they say otherwise): whatever else cobra returns
// is a command line it could not read (2).
func markRan(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := run(cmd, args); err != nil {
				return ranErr{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		markRan(sub)
	}
}

// usageTemplate is cobra's, but every command's help lists the root's
// commands, so any --help shows what else there is; a verb with
// subcommands (tasks) lists its own first.
const usageTemplate = `Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if and .HasParent .HasAvailableSubCommands}}

Subcommands:{{range .Commands}}{{if .IsAvailableCommand}}
  {{rpad .Name .NamePadding}} {{.Short}}{{end}}{{end}}{{end}}

Commands:{{range .Root.Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding}} {{.Short}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}

Use "{{.Root.Name}} [command] --help" for more information about a command.
`

// appEnv is APP_ENV, local when unset.
func appEnv() string {
	if env := os.Getenv("APP_ENV"); env != "" {
		return env
	}
	return "local"
}

// app is what run and migrate start from.
type app struct {
	cfg      *conf.Config
	log      *slog.Logger
	db       *models.DB
	closeLog io.Closer
}

// open loads the configuration of APP_ENV from confDir, builds the logger
// and connects to the database.
func open(ctx context.Context, confDir string) (*app, error) {
	env := appEnv()
	cfg, err := conf.Load(confDir, env)
	if err != nil {
		return nil, err
	}
	log, closer, err := logger.New(cfg.Logger)
	if err != nil {
		return nil, err
	}
	log = log.With("app", cfg.Common.App.Name, "env", env)
	mysqlpool.SetLogger(log)
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		closer.Close()
		return nil, err
	}
	return &app{cfg: cfg, log: log, db: db, closeLog: closer}, nil
}

// close closes the database, then the log.
func (a *app) close() {
	a.db.Close()
	a.closeLog.Close()
}

// openDB connects, retrying with backoff while the database is
// unreachable, until ctx ends.
func openDB(ctx context.Context, cfg *conf.Config, log *slog.Logger) (*models.DB, error) {
	if cfg.Common.App.Database == "sqlite" {
		db, err := sqlitedb.Open(ctx, cfg.Common.App.SQLitePath)
		if err != nil {
			return nil, err
		}
		return models.Open(db)
	}
	wait := time.Second
	for {
		pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		db, err := mysqlpool.Open(pingCtx, cfg.MySQL)
		cancel()
		if err == nil {
			return models.Open(db)
		}
		log.Error("database unreachable, retrying", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil, errors.New("stopped while waiting for the database")
		case <-time.After(wait):
		}
		wait = min(wait*2, 30*time.Second)
	}
}
