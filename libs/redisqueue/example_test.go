package redisqueue_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"taskrunner/libs/redisqueue"
)

// A worker's loop: fetch, claim the row, run while extending, record the
// outcome, then Ack. The database steps are the caller's (shown as
// comments); the queue only carries ids.
func Example_worker() {
	ctx := context.Background()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"}})
	q := redisqueue.New(rdb, "taskrunner")
	c := q.Consumer("default", "worker-1")
	const minIdle = 30 * time.Second // the reaper's; extend well within it

	for ctx.Err() == nil {
		ds, err := c.Fetch(ctx, 5*time.Second, 8)
		if err != nil {
			log.Print(err)
			continue
		}
		for _, d := range ds {
			if d.Err != nil { // not a Message: drop it
				_ = c.Ack(ctx, d)
				continue
			}
			// Claim run d.RunID at attempt d.Attempt in the database; 0
			// rows means a stale delivery: Ack it and go on.
			stop := make(chan struct{})
			go func() {
				t := time.NewTicker(minIdle / 3)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						if errors.Is(c.Extend(ctx, d), redisqueue.ErrNotOwned) {
							return // another worker has it; our outcome is fenced
						}
					}
				}
			}()
			// Run, and record the outcome fenced by run id, attempt and owner.
			close(stop)
			_ = c.Ack(ctx, d)
		}
	}
}

// The reaper, on any replica: jobs idle past minIdle go to it; those
// delivered too often are given up.
func ExampleConsumer_Reclaim() {
	ctx := context.Background()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"}})
	reaper := redisqueue.New(rdb, "taskrunner").Consumer("default", "replica-1")

	reclaimed, givenUp, err := reaper.Reclaim(ctx, 30*time.Second, 5)
	if err != nil {
		log.Print(err)
		return
	}
	for _, d := range givenUp {
		// Mark run d.RunID lost (drop) or queue a new attempt (recover),
		// then Ack.
		_ = reaper.Ack(ctx, d)
	}
	for range reclaimed {
		// Run them as the worker loop does.
	}
}
