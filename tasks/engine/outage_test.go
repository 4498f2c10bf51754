package engine

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"taskrunner/models"
	"taskrunner/models/modelstest"
)

// proxy forwards TCP to a server until cut: then every connection
// through it drops and new ones are refused, as when the database host
// goes away; restore lets connections through again.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
		go func() { _, _ = io.Copy(c, s); _ = c.Close() }()
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *proxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// The database goes away for several fires and comes back: no crash, no
// duplicate, the run that ended during the outage is recorded, and the
// fires that fell in the outage follow the misfire policy.
func TestOutage_DatabaseUnreachable(t *testing.T) {
	cfg := modelstest.EmptyMySQL(t)
	direct := modelstest.Open(t, cfg)
	dsn, err := mysql.ParseDSN(cfg.DSN)
	must(t, err)
	px := newProxy(t, dsn.Addr)
	dsn.Addr = px.ln.Addr().String()
	dsn.Timeout = 2 * time.Second
	cfg.DSN = dsn.FormatDSN()
	through := modelstest.Open(t, cfg)
	if _, err := models.Migrate(t.Context(), direct, modelstest.Schema(t)); err != nil {
		t.Fatal(err)
	}

	h := setup(t, through)
	all := h.insert("outage_all", "interval", "5", "record", "", `{"misfire":"all"}`)
	slow := h.insert("outage_slow", "date", "2026-01-01 00:00:05", "block", "", "")
	h.sync()
	h.advance(2, 4*time.Second) // 00:00:05: both fire; slow hangs
	h.fired(2)
	h.waitStarted()
	h.wait(1)

	px.cut()
	h.advance(1, 5*time.Second) // 00:00:10: the claim fails
	h.fired(1)
	h.advance(1, 5*time.Second) // 00:00:15: and again
	h.fired(1)
	h.release <- struct{}{} // slow ends while the database is down
	if err := h.e.SyncOnce(t.Context()); err == nil {
		t.Fatal("sync succeeded with the database down")
	}

	px.restore()
	h.sync() // catches up 00:00:10 (policy all) and 00:00:15 (late, within grace... or not)
	got := map[string]bool{}
	for _, r := range h.wait(3) {
		got[r.Job.TaskKey+" "+r.Job.ScheduledAt.Format("04:05")+" "+r.Status] = true
	}
	for _, want := range []string{"outage_slow 00:05 success", "outage_all 00:10 success", "outage_all 00:15 success"} {
		if !got[want] {
			t.Errorf("no %q among %v", want, got)
		}
	}
	if s := strings.Join(h.statuses(all), " "); s != "1:success 1:success 1:success" {
		t.Errorf("outage_all history: %s", s)
	}
	if s := strings.Join(h.statuses(slow), " "); s != "1:success" {
		t.Errorf("outage_slow history: %s", s)
	}
	if n := len(h.logs.lines("fire not claimed: database unavailable; handled by the misfire policy once it is back")); n < 2 {
		t.Errorf("%d fire-not-claimed log lines", n)
	}
}
