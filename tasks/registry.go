// Package tasks is what a task function sees: the Run it is given, its
// Args, the error values it may return, and the Registry that maps an
// execute_func name to it. The functions themselves live in tasks/cron,
// tasks/date and tasks/interval, each with a Register function.
package tasks

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Registry maps execute_func names to functions. It is safe for
// concurrent use.
type Registry struct {
	mu    sync.RWMutex
	funcs map[string]registered
}

type registered struct {
	fn    Func
	check func(Args) error
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{funcs: map[string]registered{}} }

// Add registers fn under name. A name may be registered once.
func (r *Registry) Add(name string, fn Func) error {
	return r.add(name, registered{fn: fn})
}

func (r *Registry) add(name string, reg registered) error {
	if name == "" || reg.fn == nil {
		return fmt.Errorf("register %q: empty name or nil function", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.funcs[name]; ok {
		return fmt.Errorf("register %q: %w", name, ErrDuplicateFunc)
	}
	r.funcs[name] = reg
	return nil
}

// AddTyped registers a function that takes its args decoded into T (see
// Args.Decode). Rows whose args do not decode into T are not scheduled.
func AddTyped[T any](r *Registry, name string, fn func(ctx context.Context, run *Run, args T) error) error {
	return r.add(name, registered{
		fn: func(ctx context.Context, run *Run) error {
			var args T
			if err := run.Args.Decode(&args); err != nil {
				return NoRetry(err)
			}
			return fn(ctx, run, args)
		},
		check: func(a Args) error {
			var args T
			return a.Decode(&args)
		},
	})
}

// Lookup returns the function registered under name.
func (r *Registry) Lookup(name string) (Func, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	reg, ok := r.funcs[name]
	return reg.fn, ok
}

// Check resolves name and checks that args suit its function, so a bad
// row is refused when it is scheduled rather than when it fires.
func (r *Registry) Check(name string, args Args) (Func, error) {
	r.mu.RLock()
	reg, ok := r.funcs[name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownFunc, name)
	}
	if reg.check != nil {
		if err := reg.check(args); err != nil {
			return nil, err
		}
	}
	return reg.fn, nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.funcs))
	for n := range r.funcs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
