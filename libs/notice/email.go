package notice

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
)

// email sends each batch as one plain-text mail over SMTP.
type email struct {
	c     EmailConfig
	host  string
	clock clockwork.Clock
	tls   *tls.Config // Base of the STARTTLS config; nil for the system roots.
}

func newEmail(c EmailConfig, clock clockwork.Clock, tlsConf *tls.Config) (*email, error) {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("want host:port")
	}
	return &email{c: c, host: host, clock: clock, tls: tlsConf}, nil
}

func (e *email) Name() string { return "email" }
func (e *email) Host() string { return e.host }
func (e *email) Limits() []Limit {
	if e.c.PerMinute == 0 {
		return nil
	}
	return []Limit{{N: e.c.PerMinute, Per: time.Minute}}
}

func (e *email) Send(ctx context.Context, b Batch) error {
	return redact(e.send(ctx, b), e.c.Password)
}

func (e *email) send(ctx context.Context, b Batch) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.c.Addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	// net/smtp takes no context: the deadline bounds the session and a
	// cancelled context closes it.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, e.host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		conf := &tls.Config{}
		if e.tls != nil {
			conf = e.tls.Clone()
		}
		conf.ServerName = e.host
		if err := c.StartTLS(conf); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if e.c.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("server offers no AUTH")
		}
		// PlainAuth refuses to send the password unencrypted, except to
		// localhost.
		if err := c.Auth(smtp.PlainAuth("", e.c.Username, e.c.Password, e.host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(e.c.From); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, to := range e.c.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("rcpt to: %w", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(e.mail(b)); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return c.Quit()
}

// mail is the message: headers, then the text as quoted-printable UTF-8.
func (e *email) mail(b Batch) []byte {
	var m bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&m, "%s: %s\r\n", k, v) }
	h("From", e.c.From)
	h("To", strings.Join(e.c.To, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", oneLine(b.Title())))
	h("Date", e.clock.Now().Format(time.RFC1123Z))
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	m.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&m)
	_, _ = qp.Write([]byte(b.Text(0)))
	_ = qp.Close()
	return m.Bytes()
}
