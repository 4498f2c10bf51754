// Package notice sends alerts about runs to a team's chat robots and mail:
// a generic JSON webhook, DingTalk, WeCom and Feishu robots, and SMTP.
//
// Notify never blocks: each channel has a bounded queue and one worker
// that sends within the robot's documented rate limit (DingTalk and WeCom
// 20 a minute, Feishu 5 a second and 100 a minute). When the budget cannot
// cover what is queued, the queued alerts go out as one digest as soon as
// the budget allows, as DingTalk advises; alerts beyond the queue, and
// repeats of one task within task_interval, are counted into a digest, not
// dropped silently. A failed send is retried a bounded number of times with
// a doubling delay, then logged.
//
// Webhook addresses, tokens, signing secrets and passwords never appear in
// logs or errors: a channel is named by its kind and host only.
package notice

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/jonboulle/clockwork"
)

// Notifier fans each alert out to the configured channels.
type Notifier struct {
	out    []*outbox
	log    *slog.Logger
	stop   chan struct{}
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu      sync.Mutex
	started bool
	stopped bool
}

type options struct {
	log    *slog.Logger
	clock  clockwork.Clock
	client *http.Client
	tls    *tls.Config
	extra  []Channel
}

// Option changes how New builds a Notifier.
type Option func(*options)

// WithLogger sets the logger. Defaults to slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the clock of rate limits, retries and signatures.
// Defaults to the real clock.
func WithClock(c clockwork.Clock) Option { return func(o *options) { o.clock = c } }

// WithHTTPClient sets the client of the webhook channels (a proxy, a test
// server's roots). Redirects are never followed, whatever it says.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithSMTPTLS sets the base TLS configuration of STARTTLS (its roots);
// the server name is always the configured host.
func WithSMTPTLS(c *tls.Config) Option { return func(o *options) { o.tls = c } }

// WithChannel adds a channel of the caller's own to those of the Config.
func WithChannel(ch Channel) Option { return func(o *options) { o.extra = append(o.extra, ch) } }

// New builds a Notifier from a validated cfg: one channel for each address
// set, plus those of WithChannel. Call Start to begin sending.
func New(cfg Config, opts ...Option) (*Notifier, error) {
	o := options{log: slog.Default(), clock: clockwork.NewRealClock(), client: http.DefaultClient}
	for _, opt := range opts {
		opt(&o)
	}
	if key, err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("notice config %s: %w", key, err)
	}
	var chans []Channel
	add := func(ch Channel, err error) error {
		if err == nil {
			chans = append(chans, ch)
		}
		return err
	}
	var err error
	if cfg.Webhook.URL != "" {
		err = errors.Join(err, add(newWebhook(cfg.Webhook, o.client)))
	}
	if cfg.DingTalk.Webhook != "" {
		err = errors.Join(err, add(newDingTalk(cfg.DingTalk, o.client, o.clock)))
	}
	if cfg.WeCom.Webhook != "" {
		err = errors.Join(err, add(newWeCom(cfg.WeCom, o.client)))
	}
	if cfg.Feishu.Webhook != "" {
		err = errors.Join(err, add(newFeishu(cfg.Feishu, o.client, o.clock)))
	}
	if cfg.Email.Addr != "" {
		err = errors.Join(err, add(newEmail(cfg.Email, o.clock, o.tls)))
	}
	if err != nil { // Validate has already refused what these refuse.
		return nil, fmt.Errorf("notice config: %w", err)
	}
	chans = append(chans, o.extra...)
	n := &Notifier{log: o.log, stop: make(chan struct{})}
	for _, ch := range chans {
		n.out = append(n.out, newOutbox(ch, cfg, o.clock, o.log))
	}
	return n, nil
}

// Start starts one worker per channel. Alerts notified before Start wait
// for it.
func (n *Notifier) Start() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started || n.stopped {
		return
	}
	n.started = true
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	for _, o := range n.out {
		n.done.Add(1)
		go func() {
			defer n.done.Done()
			o.run(ctx, n.stop)
		}()
	}
}

// Notify queues m on every channel and returns at once. After Stop it does
// nothing.
func (n *Notifier) Notify(m Message) {
	n.mu.Lock()
	stopped := n.stopped
	n.mu.Unlock()
	if stopped {
		return
	}
	m.Error = tail(m.Error, errorTailBytes)
	for _, o := range n.out {
		o.add(m)
	}
}

// Stop sends what is queued (as one digest per channel, within the
// limits) and stops the workers. When ctx ends first, sends in flight are
// cancelled, what is left is logged as not sent, and ctx's error returned.
func (n *Notifier) Stop(ctx context.Context) error {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return nil
	}
	n.stopped = true
	started := n.started
	n.mu.Unlock()
	if !started {
		return nil
	}
	close(n.stop)
	finished := make(chan struct{})
	go func() { n.done.Wait(); close(finished) }()
	select {
	case <-finished:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-finished
		return ctx.Err()
	}
}
