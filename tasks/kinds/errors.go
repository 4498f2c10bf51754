package kinds

import "errors"

// Bad input: each fails the run, marked tasks.NoRetry, and its message
// names the field and value at fault.
var (
	// ErrBadExtra is returned for an extra column the kind cannot use: not
	// an object, a wrong type, a required key missing.
	ErrBadExtra = errors.New("bad extra")
	// ErrUnknownLanguage is returned for a shell language not in Languages.
	ErrUnknownLanguage = errors.New("unknown language")
	// ErrScriptNotFound is returned for a script that does not exist.
	ErrScriptNotFound = errors.New("script not found")
	// ErrOutsideCollect is returned for a script path that leaves the
	// collect directory (an absolute path, "..", a symlink pointing out),
	// or names an uncollected program when config does not allow it.
	ErrOutsideCollect = errors.New("path outside the collect directory")
	// ErrNotExecutable is returned for a binary without an execute bit, or
	// a script that is not a regular file.
	ErrNotExecutable = errors.New("not an executable file")
	// ErrUnknownDatasource is returned for a datasource config does not name.
	ErrUnknownDatasource = errors.New("unknown datasource")
	// ErrReadOnly is returned for a statement that may write, on a
	// datasource marked read_only.
	ErrReadOnly = errors.New("write to a read-only datasource")
	// ErrBadURL is returned for a URL that is not absolute http(s).
	ErrBadURL = errors.New("malformed URL")
	// ErrHostNotAllowed is returned for a host outside http.allow_hosts.
	ErrHostNotAllowed = errors.New("host not allowed")
	// ErrBadTarget is returned for a sql_produce target that no task row
	// holds, or whose row is not scheduled (disabled, in error, done), or
	// whose args cannot take a produced row's.
	ErrBadTarget = errors.New("bad target task")
)
