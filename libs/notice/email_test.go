package notice

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// smtpMail is what the test SMTP server received in one session.
type smtpMail struct {
	tls        bool
	auth       string // user:password from AUTH PLAIN
	from       string
	rcpt       []string
	data       []byte // Dot-decoded.
	quitCalled bool
}

// smtpServer is a tiny SMTP server on 127.0.0.1: EHLO, STARTTLS (when
// tlsConf is set), AUTH PLAIN, MAIL, RCPT, DATA, QUIT. It answers reply
// (250 when empty) to DATA's end.
func smtpServer(t *testing.T, tlsConf *tls.Config, dataReply string) (addr string, mails chan smtpMail) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if dataReply == "" {
		dataReply = "250 2.0.0 queued"
	}
	mails = make(chan smtpMail, 10)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				m := serveSMTP(conn, tlsConf, dataReply)
				mails <- m
			}()
		}
	}()
	return ln.Addr().String(), mails
}

func serveSMTP(conn net.Conn, tlsConf *tls.Config, dataReply string) (m smtpMail) {
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	tp := textprotoConn(conn)
	tp.PrintfLine("220 test ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return m
		}
		cmd, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(cmd) {
		case "EHLO", "HELO":
			lines := []string{"test"}
			if tlsConf != nil && !m.tls {
				lines = append(lines, "STARTTLS")
			}
			lines = append(lines, "AUTH PLAIN", "8BITMIME")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				tp.PrintfLine("250%s%s", sep, l)
			}
		case "STARTTLS":
			tp.PrintfLine("220 go ahead")
			tc := tls.Server(conn, tlsConf)
			if err := tc.Handshake(); err != nil {
				return m
			}
			conn, m.tls = tc, true
			tp = textprotoConn(conn)
		case "AUTH":
			_, b64, _ := strings.Cut(arg, " ")
			raw, _ := base64.StdEncoding.DecodeString(b64)
			parts := strings.Split(string(raw), "\x00")
			if len(parts) == 3 {
				m.auth = parts[1] + ":" + parts[2]
			}
			tp.PrintfLine("235 2.7.0 ok")
		case "MAIL":
			m.from = arg
			tp.PrintfLine("250 ok")
		case "RCPT":
			m.rcpt = append(m.rcpt, arg)
			tp.PrintfLine("250 ok")
		case "DATA":
			tp.PrintfLine("354 go ahead")
			m.data, _ = tp.ReadDotBytes()
			tp.PrintfLine("%s", dataReply)
		case "QUIT":
			m.quitCalled = true
			tp.PrintfLine("221 bye")
			return m
		default:
			tp.PrintfLine("502 unknown")
		}
	}
}

func nextMail(t *testing.T, mails chan smtpMail) smtpMail {
	t.Helper()
	select {
	case m := <-mails:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no SMTP session ended")
		return smtpMail{}
	}
}

func TestEmail_Send(t *testing.T) {
	addr, mails := smtpServer(t, nil, "")
	ch, _ := newEmail(EmailConfig{
		Addr: addr, Username: "alerts", Password: "smtp-pass-123",
		From: "taskrunner@example.com", To: []string{"ops@example.com", "dev@example.com"},
	}, clockwork.NewFakeClockAt(testNow), nil)
	if err := ch.Send(context.Background(), single()); err != nil {
		t.Fatal(err)
	}
	m := nextMail(t, mails)
	// 127.0.0.1 is localhost: PlainAuth sends without TLS.
	if m.auth != "alerts:smtp-pass-123" || !strings.HasPrefix(m.from, "FROM:<taskrunner@example.com>") ||
		strings.Join(m.rcpt, ",") != "TO:<ops@example.com>,TO:<dev@example.com>" || !m.quitCalled {
		t.Fatalf("session = %+v", m)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.data)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subject != "[taskrunner] failed: report_daily" || msg.Header.Get("Date") != testNow.Format(time.RFC1123Z) {
		t.Fatalf("headers = %v", msg.Header)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	for _, want := range []string{"Task: report_daily — 每日报表", "Open in console: https://console.example.com/runs/1234"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestEmail_StartTLS(t *testing.T) {
	// httptest's certificate is valid for 127.0.0.1; its client trusts it.
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.StartTLS()
	defer ts.Close()
	serverConf := &tls.Config{Certificates: ts.TLS.Certificates}
	roots := ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	addr, mails := smtpServer(t, serverConf, "")
	ch, _ := newEmail(EmailConfig{Addr: addr, Username: "alerts", Password: "smtp-pass-123",
		From: "a@example.com", To: []string{"b@example.com"}}, clockwork.NewFakeClockAt(testNow), &tls.Config{RootCAs: roots})
	if err := ch.Send(context.Background(), single()); err != nil {
		t.Fatal(err)
	}
	if m := nextMail(t, mails); !m.tls || m.auth != "alerts:smtp-pass-123" {
		t.Fatalf("session = %+v, want it upgraded before AUTH", m)
	}

	// Without the roots the certificate is refused: nothing is sent in clear.
	ch, _ = newEmail(EmailConfig{Addr: addr, From: "a@example.com", To: []string{"b@example.com"}},
		clockwork.NewFakeClockAt(testNow), nil)
	if err := ch.Send(context.Background(), single()); err == nil || !strings.Contains(err.Error(), "starttls") {
		t.Fatalf("err = %v", err)
	}
	if m := nextMail(t, mails); m.from != "" {
		t.Fatalf("mail sent after a failed STARTTLS: %+v", m)
	}
}

func TestEmail_Refused(t *testing.T) {
	addr, mails := smtpServer(t, nil, "554 5.7.1 rejected: smtp-pass-123")
	ch, _ := newEmail(EmailConfig{Addr: addr, Username: "u", Password: "smtp-pass-123",
		From: "a@example.com", To: []string{"b@example.com"}}, clockwork.NewFakeClockAt(testNow), nil)
	err := ch.Send(context.Background(), single())
	if err == nil || !strings.Contains(err.Error(), "554") || strings.Contains(err.Error(), "smtp-pass-123") {
		t.Fatalf("err = %v, want the 554 without the password", err)
	}
	nextMail(t, mails)
}

func textprotoConn(c net.Conn) *textproto.Conn { return textproto.NewConn(c) }
