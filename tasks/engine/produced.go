package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"taskrunner/models"
	"taskrunner/tasks"
)

// pendingArgs returns the args a pending row runs with: its task's, then
// those a producer gave it (models.ProducedArgs), as a manual run's come
// after the task's. ok is false for a row that cannot run, its args lost
// or not to be joined to the task's: it is closed as failed, saying why.
func (r *retrier) pendingArgs(ctx context.Context, ent *entry, p models.ExecuteTask, now time.Time) (args tasks.Args, ok bool, err error) {
	more, err := models.ProducedArgs(ctx, r.db, p)
	switch {
	case errors.Is(err, models.ErrNoProducedArgs):
	case err != nil:
		return tasks.Args{}, false, err
	case more == nil:
		return ent.args, true, nil
	default:
		var produced tasks.Args
		if produced, err = tasks.ParseArgs(string(more)); err == nil {
			if args, err = ent.args.Append(produced); err == nil {
				return args, true, nil
			}
		}
	}
	msg := fmt.Sprintf("produced run not run: %v", err)
	if _, err := models.CloseRun(ctx, r.db, p.ID, models.RunPending, models.RunFailed, msg, now, time.Time{}); err != nil {
		return tasks.Args{}, false, err
	}
	r.log.Warn("produced run not run", "task_key", ent.task.Key, "run", p.ID, "error", msg)
	return tasks.Args{}, false, nil
}
