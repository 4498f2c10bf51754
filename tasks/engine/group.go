package engine

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"taskrunner/libs/trigger"
)

// group is every scheduled row that shares one schedule: the same kind,
// canonical spec and zone. It is one gocron job, so a thousand rows on
// "0 * * * *" cost one timer and one batch of claims per fire.
type group struct {
	key     string
	id      uuid.UUID
	sched   trigger.Schedule
	members map[int64]*entry
	// sorted is members by task id, rebuilt only after members change
	// (guarded by the engine's mu, as members is).
	sorted []*entry
	// cursor is the latest fire time handled (or the time the group was
	// made): the next fire is sched.Next(cursor).
	cursor time.Time
	// settled is the latest fire time whose claim was made or failed (or
	// the time the group was made). Fires between it and the cursor are
	// on their way to a claim: catch-up leaves them alone.
	settled time.Time
	// dispatching serialises the group's fires, so a fire's overlap check
	// sees the run the fire before it claimed.
	dispatching sync.Mutex
	// marking is how long marking the last fire's runs started took, and
	// marked the last fire written to the task rows (guarded by dispatching).
	marking time.Duration
	marked  time.Time
}

// groupNamespace derives stable gocron job ids from group keys.
var groupNamespace = uuid.MustParse("6f1c2a3e-59a4-4c1e-9a57-1f0b6f7b9a10")

func newGroup(key string, sched trigger.Schedule, now time.Time) *group {
	return &group{key: key, id: uuid.NewSHA1(groupNamespace, []byte(key)), sched: sched, members: map[int64]*entry{}, cursor: now, settled: now}
}

// due returns the fire times after the cursor up to horizon, oldest
// first, and moves the cursor past them. A timer that fires late (the
// process stalled) yields several; one that fires early, or twice, none.
// Past limit, only the latest limit times are returned, and the count of
// the older ones passed over.
func (g *group) due(horizon time.Time, limit int) (times []time.Time, dropped int) {
	for at := g.sched.Next(g.cursor); !at.IsZero() && !at.After(horizon); at = g.sched.Next(at) {
		if len(times) == limit {
			times = times[1:]
			dropped++
		}
		times = append(times, at)
	}
	if len(times) > 0 {
		g.cursor = times[len(times)-1]
	}
	return times, dropped
}

// add and remove change the members and drop the sorted list.
func (g *group) add(e *entry) { g.members[e.task.ID] = e; g.sorted = nil }

func (g *group) remove(id int64) { delete(g.members, id); g.sorted = nil }

// inOrder returns the members by task id: every replica claims them in
// that order, so their claims lock the same keys in the same order and
// queue instead of deadlocking. The slice is shared: do not change it.
func (g *group) inOrder() []*entry {
	if g.sorted == nil {
		g.sorted = make([]*entry, 0, len(g.members))
		for _, m := range g.members {
			g.sorted = append(g.sorted, m)
		}
		slices.SortFunc(g.sorted, func(a, b *entry) int { return cmp.Compare(a.task.ID, b.task.ID) })
	}
	return g.sorted
}
