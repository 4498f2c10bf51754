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
	args, err = runArgs(ctx, r.db, ent, p)
	switch {
	case err == nil:
		return args, true, nil
	case !errors.Is(err, errProducedArgs):
		return tasks.Args{}, false, err
	}
	msg := fmt.Sprintf("produced run not run: %v", err)
	if _, err := models.CloseRun(ctx, r.db, p.ID, models.RunPending, models.RunFailed, msg, now, time.Time{}); err != nil {
		return tasks.Args{}, false, err
	}
	r.log.Warn("produced run not run", "task_key", ent.task.Key, "run", p.ID, "error", msg)
	return tasks.Args{}, false, nil
}

// errProducedArgs: a produced run's args are lost, or cannot be joined to
// its task's.
var errProducedArgs = errors.New("produced args")

// runArgs returns the args a run's row runs with: its task's, then those a
// producer gave it. An error wrapping errProducedArgs means the row
// cannot run.
func runArgs(ctx context.Context, db *models.DB, ent *entry, p models.ExecuteTask) (tasks.Args, error) {
	more, err := models.ProducedArgs(ctx, db, p)
	switch {
	case errors.Is(err, models.ErrNoProducedArgs):
		return tasks.Args{}, fmt.Errorf("%w: %w", errProducedArgs, err)
	case err != nil:
		return tasks.Args{}, err
	case more == nil:
		return ent.args, nil
	}
	produced, err := tasks.ParseArgs(string(more))
	if err != nil {
		return tasks.Args{}, fmt.Errorf("%w: %w", errProducedArgs, err)
	}
	args, err := ent.args.Append(produced)
	if err != nil {
		return tasks.Args{}, fmt.Errorf("%w: %w", errProducedArgs, err)
	}
	return args, nil
}
