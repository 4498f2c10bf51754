package kinds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"taskrunner/tasks"
)

// alwaysRedacted are headers whose values are never logged or recorded.
var alwaysRedacted = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Auth-Token"}

func redactSet(more []string) map[string]bool {
	set := map[string]bool{}
	for _, h := range slices.Concat(alwaysRedacted, more) {
		set[textproto.CanonicalMIMEHeaderKey(h)] = true
	}
	return set
}

// HTTPArgs are an http row's args: none. A request is wholly described
// by extra.
type HTTPArgs struct{}

// httpOptions are the keys of extra the http kind reads.
type httpOptions struct {
	URL     string            // required: http or https
	Method  string            // defaults to GET, or POST with a body
	Headers map[string]string // sent as they are; secrets are redacted in records
	Body    json.RawMessage   // a string is sent as is; other JSON as JSON
	Timeout duration          // defaults to config http.timeout
	Success statusSet         // defaults to 2xx
}

// duration reads "10s" or a number of seconds, as the engine's
// extra.timeout does (this is the same key: it bounds the run too).
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var n float64
	if err := json.Unmarshal(b, &n); err == nil && n >= 0 {
		*d = duration(n * float64(time.Second))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"10s\" or a number of seconds, got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("want a duration such as \"10s\", got %q", s)
	}
	*d = duration(v)
	return nil
}

// statusSet is extra.success: 200, "2xx", or an array of both.
type statusSet []string

func (s *statusSet) UnmarshalJSON(b []byte) error {
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		items = []json.RawMessage{b}
	}
	var out statusSet
	for _, item := range items {
		var str string
		if err := json.Unmarshal(item, &str); err != nil {
			str = string(item)
		}
		str = strings.ToLower(strings.TrimSpace(str))
		if !validStatus(str) {
			return fmt.Errorf("want a status (200), a class (\"2xx\") or an array of them, got %s", item)
		}
		out = append(out, str)
	}
	if len(out) == 0 {
		return fmt.Errorf("want at least one status")
	}
	*s = out
	return nil
}

func validStatus(s string) bool {
	if len(s) == 3 && s[0] >= '1' && s[0] <= '5' && s[1:] == "xx" {
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 100 && n <= 599
}

func (s statusSet) has(code int) bool {
	c := strconv.Itoa(code)
	for _, want := range s {
		if want == c || want[1:] == "xx" && want[0] == c[0] {
			return true
		}
	}
	return false
}

// httpOptionsCached bounds the options kept parsed by extra.
const httpOptionsCached = 4096

// httpOptions returns extra's options, parsed once per distinct extra
// (a task fires many times with the same row): the options are only read
// after. An extra in error is parsed again each time.
func (k *Kinds) httpOptions(extra json.RawMessage) (httpOptions, error) {
	k.httpMu.Lock()
	o, ok := k.parsedHTTP[string(extra)]
	k.httpMu.Unlock()
	if ok {
		return o, nil
	}
	o, err := parseHTTPOptions(extra, k.cfg.HTTP.Timeout)
	if err != nil {
		return o, err
	}
	k.httpMu.Lock()
	if len(k.parsedHTTP) >= httpOptionsCached {
		clear(k.parsedHTTP)
	}
	k.parsedHTTP[string(extra)] = o
	k.httpMu.Unlock()
	return o, nil
}

func parseHTTPOptions(extra json.RawMessage, def time.Duration) (httpOptions, error) {
	o := httpOptions{Timeout: duration(def), Success: statusSet{"2xx"}}
	err := decodeExtra(extra, map[string]any{
		"url": &o.URL, "method": &o.Method, "headers": &o.Headers, "body": &o.Body,
		"timeout": &o.Timeout, "success": &o.Success,
	})
	if err != nil {
		return o, err
	}
	if o.Method == "" {
		o.Method = http.MethodGet
		if len(o.Body) > 0 {
			o.Method = http.MethodPost
		}
	}
	o.Method = strings.ToUpper(o.Method)
	if !isToken(o.Method) {
		return o, fmt.Errorf("%w: key \"method\": %q is not an HTTP method", ErrBadExtra, o.Method)
	}
	for name, v := range o.Headers {
		if !isToken(name) {
			return o, fmt.Errorf("%w: key \"headers\": %q is not a header name", ErrBadExtra, name)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return o, fmt.Errorf("%w: key \"headers\": the value of %q has a line break", ErrBadExtra, name)
		}
	}
	if o.Timeout == 0 {
		o.Timeout = duration(def)
	}
	return o, nil
}

// isToken reports whether s is an RFC 9110 token (a method, a header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// checkURL parses raw and checks its host against http.allow_hosts.
func (k *Kinds) checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // ue repeats the URL, which may hold a password
		}
		return nil, fmt.Errorf("%w %q: %v", ErrBadURL, redactURL(raw), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w %q: want an absolute http:// or https:// URL with a host", ErrBadURL, redactURL(raw))
	}
	if !k.hostAllowed(u) {
		return nil, fmt.Errorf("%w: %q (config key http.allow_hosts)", ErrHostNotAllowed, u.Host)
	}
	return u, nil
}

// redactURL hides the user information of a URL as written, which may
// not parse: what stands before the last "@" of the authority.
func redactURL(raw string) string {
	j := strings.Index(raw, "://")
	if j < 0 {
		return raw
	}
	auth := raw[j+3:]
	if end := strings.IndexAny(auth, "/?#"); end >= 0 {
		auth = auth[:end]
	}
	if at := strings.LastIndex(auth, "@"); at >= 0 {
		return raw[:j+3] + "xxxxx" + raw[j+3+at:]
	}
	return raw
}

func (k *Kinds) hostAllowed(u *url.URL) bool {
	allow := k.cfg.HTTP.AllowHosts
	if len(allow) == 0 {
		return true
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, a := range allow {
		a = strings.ToLower(a)
		ah, ap := a, ""
		if h, p, err := net.SplitHostPort(a); err == nil {
			ah, ap = h, p
		}
		if ap != "" && ap != port {
			continue
		}
		if suffix, ok := strings.CutPrefix(ah, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if host == strings.Trim(ah, "[]") {
			return true
		}
	}
	return false
}

func (k *Kinds) newHTTPClient() *http.Client {
	// Go's default keeps 2 idle connections per host: a worker calling one
	// host from many goroutines would dial for nearly every request.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 512, 128
	return &http.Client{
		Transport: tr,
		// A redirect is a new request: its host must be allowed too.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if !k.hostAllowed(req.URL) {
				return fmt.Errorf("redirect: %w: %q (config key http.allow_hosts)", ErrHostNotAllowed, req.URL.Host)
			}
			return nil
		},
	}
}

// redactedHeaders words headers for a record, secrets hidden.
func (k *Kinds) redactedHeaders(h map[string]string) string {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		v := h[n]
		if k.redact[textproto.CanonicalMIMEHeaderKey(n)] {
			v = "[redacted]"
		}
		fmt.Fprintf(&b, "%s: %s\n", n, v)
	}
	return b.String()
}

// HTTP makes the request run.Extra describes (keys url, method, headers,
// body, timeout, success). A status in success is success; any other
// fails the run, to be retried as the task says. The status and the end
// of the body are recorded.
func (k *Kinds) HTTP(ctx context.Context, run *tasks.Run, _ HTTPArgs) error {
	o, err := k.httpOptions(run.Extra)
	if err != nil {
		return inputError(err)
	}
	if o.URL == "" {
		return inputError(fmt.Errorf("%w: key \"url\" is required", ErrBadExtra))
	}
	u, err := k.checkURL(o.URL)
	if err != nil {
		return inputError(fmt.Errorf("http: %w", err))
	}
	var body io.Reader
	contentType := ""
	if len(o.Body) > 0 {
		var s string
		if json.Unmarshal(o.Body, &s) == nil {
			body = strings.NewReader(s)
		} else {
			body, contentType = strings.NewReader(string(o.Body)), "application/json"
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(o.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, o.Method, u.String(), body)
	if err != nil {
		return inputError(fmt.Errorf("http: %w %q: %v", ErrBadURL, u.Redacted(), err))
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for n, v := range o.Headers {
		if strings.EqualFold(n, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(n, v)
	}
	req.Header.Set("X-Taskrunner-Trace-Id", run.TraceID)
	logger(run).DebugContext(ctx, "http request", "method", o.Method, "url", u.Redacted(), "headers", k.redactedHeaders(o.Headers))
	run.Printf("%s %s\n", o.Method, u.Redacted())

	start := time.Now()
	resp, err := k.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL may hold a password
		}
		if errors.Is(err, ErrHostNotAllowed) {
			return inputError(fmt.Errorf("http: %s %s: %w", o.Method, u.Redacted(), err))
		}
		return fmt.Errorf("http: %s %s: %w", o.Method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	tail := tailBuffer{limit: k.cfg.HTTP.TailBytes}
	n, readErr := io.Copy(&tail, io.LimitReader(resp.Body, k.cfg.HTTP.MaxBodyBytes))
	elapsed := time.Since(start).Round(time.Millisecond)
	run.Printf("status: %d in %s\n", resp.StatusCode, elapsed)
	head := fmt.Sprintf("--- body (%d bytes) ---", n)
	if got := tail.bytes(); int64(len(got)) < n {
		head = fmt.Sprintf("--- body (last %d of %d bytes) ---", len(got), n)
	}
	run.Printf("%s\n%s\n", head, tail.bytes())
	if !o.Success.has(resp.StatusCode) {
		return fmt.Errorf("http: %s %s: status %d, not in success %v", o.Method, u.Redacted(), resp.StatusCode, []string(o.Success))
	}
	if readErr != nil {
		return fmt.Errorf("http: %s %s: status %d, reading the body: %w", o.Method, u.Redacted(), resp.StatusCode, readErr)
	}
	return nil
}
