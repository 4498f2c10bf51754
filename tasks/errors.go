package tasks

import "errors"

var (
	// ErrUnknownFunc is returned for an execute_func no package registered.
	ErrUnknownFunc = errors.New("unknown execute_func")
	// ErrDuplicateFunc is returned when a name is registered twice.
	ErrDuplicateFunc = errors.New("execute_func registered twice")
	// ErrBadArgs is returned for args that do not decode.
	ErrBadArgs = errors.New("bad args")

	// ErrSkipped, returned (or wrapped) by a task function, records the run
	// as skipped rather than failed: there was nothing to do.
	ErrSkipped = errors.New("skipped")
	// ErrNoRetry, wrapped by a task function's error, records the run as
	// failed and tells the engine not to retry it. Use NoRetry(err).
	ErrNoRetry = errors.New("do not retry")
)

// NoRetry marks err as final: the run fails and is not retried.
func NoRetry(err error) error {
	if err == nil {
		return nil
	}
	return errors.Join(err, ErrNoRetry)
}
