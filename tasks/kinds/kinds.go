// Package kinds holds the built-in generic task kinds: shell (a script
// from the collect directory, or a program), http (one request), sql
// (one statement on a configured datasource) and sql_produce (a query on
// one, whose rows become runs of another task). A row names a kind in
// execute_func; its args are the kind's arguments and its extra the
// kind's options. Nothing from a row reaches a shell: programs get an
// argument array, URLs are checked against config, and statements run
// only on datasources config names.
//
// Input a kind cannot use (a missing script, an unknown datasource, a
// host not allowed, ...) fails the run with tasks.NoRetry and one of the
// errors in errors.go, whose message says which field and value.
package kinds

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"

	"github.com/jmoiron/sqlx"

	"taskrunner/models"
	"taskrunner/tasks"
)

// Kinds runs the built-in kinds. It holds the datasource pools, opened
// on first use, and the open per-task logs; Close releases them.
type Kinds struct {
	cfg     Config
	collect string // CollectDir, absolute
	logs    *logFiles
	client  *http.Client
	redact  map[string]bool // canonical header names
	log     *slog.Logger

	mu    sync.Mutex
	pools map[string]*sqlx.DB

	httpMu     sync.Mutex
	parsedHTTP map[string]httpOptions // by extra; see httpOptions

	taskDB *models.DB // where sql_produce enqueues runs; see WithTaskDB
}

// New returns the kinds configured by cfg, which must be valid.
func New(cfg Config, log *slog.Logger, opts ...Option) (*Kinds, error) {
	if key, err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kinds config: key %q: %w", key, err)
	}
	collect, err := filepath.Abs(cfg.Shell.CollectDir)
	if err != nil {
		return nil, fmt.Errorf("kinds config: key \"shell.collect_dir\": %w", err)
	}
	logDir, err := filepath.Abs(cfg.Shell.LogDir)
	if err != nil {
		return nil, fmt.Errorf("kinds config: key \"shell.log_dir\": %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	k := &Kinds{
		cfg: cfg, collect: collect, log: log,
		logs:   newLogFiles(logDir, cfg.Shell.LogMaxBytes, cfg.Shell.LogKeep),
		redact: redactSet(cfg.HTTP.RedactHeaders),
		pools:  map[string]*sqlx.DB{}, parsedHTTP: map[string]httpOptions{},
	}
	k.client = k.newHTTPClient()
	for _, o := range opts {
		o(k)
	}
	return k, nil
}

// Names of the kinds, as execute_func.
const (
	KindShell = "shell"
	KindHTTP  = "http"
	KindSQL   = "sql"
	// KindSQLProduce enqueues a run of a target task per row of a query.
	KindSQLProduce = "sql_produce"
)

// Register adds the kinds to r under KindShell, KindHTTP, KindSQL and
// KindSQLProduce. The registry checks a row's args when it is scheduled:
// shell takes an array of strings, numbers or booleans; sql and
// sql_produce an array of parameters; http none.
func (k *Kinds) Register(r *tasks.Registry) error {
	return errors.Join(
		tasks.AddTyped(r, KindShell, k.Shell),
		tasks.AddTyped(r, KindHTTP, k.HTTP),
		tasks.AddTyped(r, KindSQL, k.SQL),
		tasks.AddTyped(r, KindSQLProduce, k.SQLProduce),
	)
}

// Close closes the datasource pools.
func (k *Kinds) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var errs []error
	for name, db := range k.pools {
		errs = append(errs, db.Close())
		delete(k.pools, name)
	}
	k.client.CloseIdleConnections()
	return errors.Join(errs...)
}

// decodeExtra reads the keys of extra that fields name; other keys are
// the engine's or the user's own and are left alone. The error names the
// key at fault.
func decodeExtra(extra json.RawMessage, fields map[string]any) error {
	if len(bytes.TrimSpace(extra)) == 0 {
		return nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(extra, &keys); err != nil {
		return fmt.Errorf("%w: not a JSON object: %v", ErrBadExtra, err)
	}
	for key, dst := range fields {
		raw, ok := keys[key]
		if !ok || string(raw) == "null" {
			continue
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return fmt.Errorf("%w: key %q: %v", ErrBadExtra, key, jsonMessage(err))
		}
	}
	return nil
}

// jsonMessage words a decode error without Go type names.
func jsonMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("want %s, got a JSON %s", kindWord(te.Type.Kind().String()), te.Value)
	}
	return err.Error()
}

func kindWord(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "a number"
}

// inputError marks err as bad input: the run fails and is not retried.
func inputError(err error) error { return tasks.NoRetry(err) }

// logger returns the run's logger, or one that discards.
func logger(run *tasks.Run) *slog.Logger {
	if run.Logger != nil {
		return run.Logger
	}
	return slog.New(slog.DiscardHandler)
}
