package engine

import (
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// loop is a service's goroutine, ticking every period until halted.
// halt is idempotent and waits for the goroutine to end.
type loop struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// every calls tick every period of clock, and also whenever poke (which
// may be nil) delivers, until halt.
func (l *loop) every(clock clockwork.Clock, period time.Duration, poke <-chan struct{}, tick func()) {
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		ticker := clock.NewTicker(period)
		defer ticker.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-ticker.Chan():
			case <-poke:
			}
			tick()
		}
	}()
}

func (l *loop) halt() {
	if l.stop == nil {
		return
	}
	l.once.Do(func() { close(l.stop) })
	<-l.done
}
