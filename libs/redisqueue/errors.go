package redisqueue

import "errors"

// ErrNotOwned is returned by Consumer.Extend when the delivery is no longer
// the consumer's: it was reclaimed by another, acknowledged, or Redis lost
// it. The caller's run may still finish; its outcome is fenced by the
// database.
var ErrNotOwned = errors.New("redisqueue: delivery no longer owned by this consumer")
