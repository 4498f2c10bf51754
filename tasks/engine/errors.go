package engine

import "errors"

// Errors callers branch on.
var (
	ErrNotScheduled = errors.New("no scheduled task has this key")
	ErrOverlap      = errors.New("run skipped by the task's overlap policy")
	ErrRunNotFound  = errors.New("no such run")
	ErrNotRunning   = errors.New("run is not running")
	ErrRunExists    = errors.New("a run of this task for this instant exists already")
)

// errDeclaredDead: this replica was declared dead, and may not start runs
// under the id it had.
var errDeclaredDead = errors.New("this replica was declared dead by the others; its claims run elsewhere")

// errNotStarted: a fire's runs were claimed but not recorded as started,
// so they did not start here.
var errNotStarted = errors.New("runs claimed but not recorded as started; they run elsewhere once requeued")
