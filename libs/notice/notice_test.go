package notice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// logBuffer collects a logger's output and signals each line.
type logBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.lines <- string(p):
	default:
	}
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor waits for a line containing s.
func (l *logBuffer) waitFor(t *testing.T, s string) string {
	t.Helper()
	for {
		select {
		case line := <-l.lines:
			if strings.Contains(line, s) {
				return line
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no log line with %q in:\n%s", s, l.String())
			return ""
		}
	}
}

type fixture struct {
	clock *clockwork.FakeClock
	logs  *logBuffer
	n     *Notifier
}

func setup(t *testing.T, cfg Config, opts ...Option) fixture {
	t.Helper()
	f := fixture{clock: clockwork.NewFakeClockAt(testNow), logs: &logBuffer{lines: make(chan string, 1000)}}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := New(cfg, append([]Option{WithClock(f.clock), WithLogger(log)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	f.n = n
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = n.Stop(ctx)
	})
	return f
}

// blockUntil waits until n timers of the fake clock are waiting.
func (f fixture) blockUntil(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.clock.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("waiting for %d timers: %v", n, err)
	}
}

func msg(key string) Message {
	m := sampleMessage()
	m.TaskKey = key
	return m
}

func TestNotifier_DingTalkBudgetThenDigest(t *testing.T) {
	r := newRobot(t, `{"errcode":0,"errmsg":"ok"}`)
	cfg := DefaultConfig()
	cfg.TaskInterval = 0
	cfg.DingTalk.Webhook = r.URL + "/robot/send?access_token=tok123456789"
	f := setup(t, cfg)
	f.n.Start()
	for i := range 20 {
		f.n.Notify(msg(fmt.Sprintf("task%d", i)))
		r.next(t) // Each goes alone while the budget lasts.
	}
	for i := range 5 {
		f.n.Notify(msg(fmt.Sprintf("late%d", i)))
	}
	f.blockUntil(t, 1) // The worker waits for the budget…
	select {
	case rec := <-r.reqs:
		t.Fatalf("a 21st message within the minute: %s", rec.body)
	default:
	}
	f.clock.Advance(time.Minute) // …which the minute alone does not give back (a tenth of slack)…
	f.blockUntil(t, 1)
	select {
	case rec := <-r.reqs:
		t.Fatalf("sent 60 s after 20 sends: %s", rec.body)
	default:
	}
	f.clock.Advance(6 * time.Second) // …66 s does: one digest of the five.
	var m dingTalkMsg
	if err := json.Unmarshal(r.next(t).body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Markdown.Title != "[taskrunner] 5 alerts" {
		t.Fatalf("title = %q, want a digest of 5", m.Markdown.Title)
	}
	for i := range 5 {
		if !strings.Contains(m.Markdown.Text, fmt.Sprintf("late%d", i)) {
			t.Errorf("digest lacks late%d:\n%s", i, m.Markdown.Text)
		}
	}
}

func TestNotifier_MergesWhenBudgetCannotCoverQueue(t *testing.T) {
	r := newRobot(t, `{"code":0}`)
	cfg := DefaultConfig()
	cfg.TaskInterval = 0
	cfg.Feishu.Webhook = r.URL + "/open-apis/bot/v2/hook/0d2e-hook-token"
	f := setup(t, cfg)
	for i := range 12 { // Queued before Start: more than Feishu's 5 a second.
		f.n.Notify(msg(fmt.Sprintf("task%d", i)))
	}
	f.n.Start()
	var m feishuMsg
	if err := json.Unmarshal(r.next(t).body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Content.Post.ZhCN.Title != "[taskrunner] 12 alerts" {
		t.Fatalf("title = %q, want one digest of 12", m.Content.Post.ZhCN.Title)
	}
}

func TestNotifier_RepeatsOfATaskAreCounted(t *testing.T) {
	r := newRobot(t, `ok`)
	cfg := DefaultConfig()
	cfg.TaskInterval = 10 * time.Minute
	cfg.Webhook.URL = r.URL + "/alerts"
	f := setup(t, cfg)
	f.n.Start()
	decode := func(rec recorded) webhookPayload {
		var p webhookPayload
		if err := json.Unmarshal(rec.body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	f.n.Notify(msg("a"))
	if p := decode(r.next(t)); p.Title != "[taskrunner] failed: a" {
		t.Fatalf("first alert: %q", p.Title)
	}
	for _, status := range []string{"failed", "failed", "timeout"} {
		m := msg("a")
		m.Status = status
		f.n.Notify(m)
	}
	f.n.Notify(msg("b")) // Another task is not held back.
	if p := decode(r.next(t)); p.Title != "[taskrunner] failed: b" {
		t.Fatalf("other task: %q", p.Title)
	}
	f.blockUntil(t, 1) // The count is due when a's window ends.
	f.clock.Advance(10*time.Minute - time.Second)
	f.blockUntil(t, 1)
	select {
	case rec := <-r.reqs:
		t.Fatalf("sent before the window ended: %s", rec.body)
	default:
	}
	f.clock.Advance(time.Second)
	p := decode(r.next(t))
	if p.Title != "[taskrunner] 3 alerts" || len(p.Messages) != 0 ||
		len(p.Counted) != 1 || p.Counted[0] != (Count{TaskKey: "a", N: 3, Why: "repeated", Status: "timeout"}) {
		t.Fatalf("digest = %+v", p)
	}
	f.n.Notify(msg("a")) // A new window: it goes alone.
	if p := decode(r.next(t)); p.Title != "[taskrunner] failed: a" {
		t.Fatalf("after the window: %q", p.Title)
	}
}

// stubborn is a webhook that answers each request with the next status
// the test gives it, so the test holds the channel as long as it likes.
type stubborn struct {
	*httptest.Server
	reqs    chan struct{}
	answers chan int
	bodies  chan []byte
}

func newStubborn(t *testing.T) *stubborn {
	s := &stubborn{reqs: make(chan struct{}, 100), answers: make(chan int), bodies: make(chan []byte, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.reqs <- struct{}{}
		select {
		case code := <-s.answers:
			if code == http.StatusOK {
				s.bodies <- body
			}
			w.WriteHeader(code)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *stubborn) answer(t *testing.T, code int) {
	t.Helper()
	select {
	case <-s.reqs:
	case <-time.After(5 * time.Second):
		t.Fatal("no request came")
	}
	s.answers <- code
}

func TestNotifier_FailingChannelNeverBlocksNotify(t *testing.T) {
	s := newStubborn(t)
	cfg := DefaultConfig()
	cfg.TaskInterval = 0
	cfg.QueueSize = 5
	cfg.MaxAttempts = 3
	cfg.RetryDelay = 5 * time.Second
	cfg.Webhook.URL = s.URL + "/hook/secret-path-token"
	f := setup(t, cfg)
	f.n.Start()

	f.n.Notify(msg("first"))
	<-s.reqs // The channel is now stuck in its first request.
	done := make(chan struct{})
	go func() {
		for i := range 100 {
			f.n.Notify(msg(fmt.Sprintf("t%d", i%10)))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Notify blocked on a stuck channel")
	}

	s.answers <- http.StatusInternalServerError // Attempt 1 of "first".
	f.logs.waitFor(t, "retrying")
	f.blockUntil(t, 1)
	f.clock.Advance(5 * time.Second)
	s.answer(t, http.StatusBadGateway) // Attempt 2, after 5 s.
	f.blockUntil(t, 1)
	f.clock.Advance(10 * time.Second) // Doubled.
	s.answer(t, http.StatusServiceUnavailable)
	line := f.logs.waitFor(t, "alerts not sent")
	for _, want := range []string{"level=ERROR", "channel=webhook", "host=" + s.Listener.Addr().String(), "attempts=3", "status 503"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q: %s", want, line)
		}
	}

	// Then the five kept and the 95 counted, as one digest.
	s.answer(t, http.StatusOK)
	var p webhookPayload
	if err := json.Unmarshal(<-s.bodies, &p); err != nil {
		t.Fatal(err)
	}
	counted := 0
	for _, c := range p.Counted {
		if c.Why != "queue full" {
			t.Errorf("count %+v", c)
		}
		counted += c.N
	}
	if len(p.Messages) != 5 || counted != 95 || p.Title != "[taskrunner] 100 alerts" {
		t.Fatalf("digest: %d messages, %d counted, title %q", len(p.Messages), counted, p.Title)
	}
	if strings.Contains(f.logs.String(), "secret-path-token") {
		t.Fatalf("the webhook path was logged:\n%s", f.logs.String())
	}
}

func TestNotifier_SecretsNeverLogged(t *testing.T) {
	const (
		hookToken   = "webhook-path-token-1"
		bearer      = "bearer-token-2"
		dingToken   = "ding-access-token-3"
		dingSecret  = "SECding-secret-4"
		wecomKey    = "wecom-key-5"
		feishuToken = "feishu-hook-token-6"
		feishuSec   = "feishu-secret-7"
		smtpPass    = "smtp-password-8"
	)
	// Robots that echo what they were sent into their error answers.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		echoed := r.URL.String() + " " + r.Header.Get("Authorization") + " " + string(body)
		switch {
		case strings.Contains(r.URL.Path, "/robot/send"):
			json.NewEncoder(w).Encode(map[string]any{"errcode": 310000, "errmsg": echoed})
		case strings.Contains(r.URL.Path, "/bot/v2/hook/"):
			json.NewEncoder(w).Encode(map[string]any{"code": 19021, "msg": echoed})
		default:
			http.Error(w, echoed, http.StatusUnauthorized)
		}
	}))
	defer echo.Close()
	// WeCom's address refuses connections: net/http quotes the URL then.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := ln.Addr().String()
	ln.Close()
	smtpAddr, _ := smtpServer(t, nil, "535 5.7.8 bad credentials for "+smtpPass)

	cfg := DefaultConfig()
	cfg.MaxAttempts = 2
	cfg.Webhook = WebhookConfig{URL: echo.URL + "/hook/" + hookToken, Token: bearer}
	cfg.DingTalk = DingTalkConfig{Webhook: echo.URL + "/robot/send?access_token=" + dingToken, Secret: dingSecret}
	cfg.WeCom.Webhook = "http://" + refused + "/cgi-bin/webhook/send?key=" + wecomKey
	cfg.Feishu = FeishuConfig{Webhook: echo.URL + "/open-apis/bot/v2/hook/" + feishuToken, Secret: feishuSec}
	cfg.Email = EmailConfig{Addr: smtpAddr, Username: "alerts", Password: smtpPass, From: "a@example.com", To: []string{"b@example.com"}}
	f := setup(t, cfg)
	f.n.Start()
	f.n.Notify(msg("a"))
	f.blockUntil(t, 5) // Each channel failed once and waits to retry.
	f.clock.Advance(cfg.RetryDelay)
	for range 5 {
		f.logs.waitFor(t, "alerts not sent")
	}
	logs := f.logs.String()
	for _, secret := range []string{hookToken, bearer, dingToken, dingSecret, wecomKey, feishuToken, feishuSec, smtpPass} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
	for _, ch := range []string{"webhook", "dingtalk", "wecom", "feishu", "email"} {
		if !strings.Contains(logs, "channel="+ch+" host=") {
			t.Errorf("no log line names channel %s", ch)
		}
	}
	if t.Failed() {
		t.Log(logs)
	}
}

func TestNotifier_StopSendsWhatIsQueued(t *testing.T) {
	r := newRobot(t, `{"errcode":0,"errmsg":"ok"}`)
	cfg := DefaultConfig()
	cfg.TaskInterval = 0
	cfg.WeCom.Webhook = r.URL + "/send?key=wecom-key-5"
	f := setup(t, cfg)
	f.n.Start()
	for i := range 20 {
		f.n.Notify(msg(fmt.Sprintf("t%d", i)))
		r.next(t)
	}
	f.n.Notify(msg("x"))
	f.n.Notify(msg("y"))
	f.blockUntil(t, 1)
	stopped := make(chan error)
	go func() { stopped <- f.n.Stop(context.Background()) }()
	f.clock.Advance(66 * time.Second)
	var m weComMsg
	if err := json.Unmarshal(r.next(t).body, &m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Markdown.Content, "[taskrunner] 2 alerts") {
		t.Fatalf("content = %s", m.Markdown.Content)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	f.n.Notify(msg("after")) // Does nothing, does not block.
}

func TestNotifier_StopDeadline(t *testing.T) {
	r := newRobot(t, `{"errcode":0,"errmsg":"ok"}`)
	cfg := DefaultConfig()
	cfg.TaskInterval = 0
	cfg.WeCom.Webhook = r.URL + "/send?key=wecom-key-5"
	f := setup(t, cfg)
	f.n.Start()
	for i := range 20 {
		f.n.Notify(msg(fmt.Sprintf("t%d", i)))
		r.next(t)
	}
	f.n.Notify(msg("x"))
	f.blockUntil(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := f.n.Stop(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Stop = %v, want the deadline: the budget never came back", err)
	}
	if line := f.logs.waitFor(t, "alerts not sent: shutting down"); !strings.Contains(line, "alerts=1") {
		t.Fatalf("log: %s", line)
	}
}

func TestNew_RefusesBadConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DingTalk.Webhook = "oapi.dingtalk.com/robot/send?access_token=ding-access-token-3"
	_, err := New(cfg)
	if err == nil || !strings.Contains(err.Error(), "dingtalk.webhook") || strings.Contains(err.Error(), "ding-access-token-3") {
		t.Fatalf("err = %v", err)
	}
}
