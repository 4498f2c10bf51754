package trigger

import "errors"

var (
	// ErrUnknownTrigger is returned for a trigger kind that is not cron, interval, date or text.
	ErrUnknownTrigger = errors.New("unknown trigger")
	// ErrBadSpec is returned for a spec its trigger kind cannot parse.
	ErrBadSpec = errors.New("bad spec")
	// ErrNoFireTime is returned for a spec that parses but can never fire
	// (a cron for February 30th, a date list that is entirely in the past is not this: it is valid).
	ErrNoFireTime = errors.New("spec never fires")
)
