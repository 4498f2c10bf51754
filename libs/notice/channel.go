package notice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Channel is one place alerts go. Send delivers one batch; it is called by
// one goroutine at a time, within the channel's Limits, and retried by the
// caller on error. Its errors must not contain a credential.
type Channel interface {
	Name() string // For logs: "dingtalk", "email", ….
	Host() string // For logs: the host only, never the address.
	Limits() []Limit
	Send(ctx context.Context, b Batch) error
}

// sendError is a send's failure with every credential of the channel
// replaced: transport errors quote the request URL, and a robot's answer
// might echo what it was sent.
type sendError struct{ msg string }

func (e *sendError) Error() string { return e.msg }

func redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		if len(s) >= 4 { // Shorter would blank out ordinary words.
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return &sendError{msg: msg}
}

// webhookSecrets is what of a webhook address must never be shown: the
// whole address, its path segments and query values (the token is one of
// them), and its user info.
func webhookSecrets(u *url.URL) []string {
	out := []string{u.String(), u.RawQuery, u.EscapedPath()}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 8 { // A token, not "send" or "hook".
			out = append(out, seg, url.PathEscape(seg))
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			out = append(out, v, url.QueryEscape(v))
		}
	}
	if u.User != nil {
		out = append(out, u.User.String())
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	return out
}

// noRedirects: a robot does not redirect, and following one would send
// the message (and its signature) somewhere not configured.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// postJSON posts v and returns the answer's body when the status is 2xx.
// Its errors name no URL.
func postJSON(ctx context.Context, client *http.Client, u *url.URL, header http.Header, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("bad webhook address")
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	for k, vs := range header {
		req.Header[k] = vs
	}
	c := *client
	c.CheckRedirect = noRedirects
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // "Post \"https://…?access_token=…\": …"
			err = ue.Err
		}
		return nil, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, head(oneLine(string(out)), 200))
	}
	return out, nil
}

// robotAnswer is DingTalk's and WeCom's reply: errcode 0 is success.
type robotAnswer struct {
	ErrCode *int   `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func (a robotAnswer) err(body []byte) error {
	if a.ErrCode == nil {
		return fmt.Errorf("answer without errcode: %s", head(oneLine(string(body)), 200))
	}
	if *a.ErrCode != 0 {
		return fmt.Errorf("errcode %d: %s", *a.ErrCode, head(oneLine(a.ErrMsg), 200))
	}
	return nil
}
