package kinds

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"taskrunner/tasks"
)

// echoServer answers /status/N with N, /big with 10000 bytes, /slow
// never (until the client goes), /redirect with a redirect to ?to=, and
// anything else with the request it got.
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/status/"):
			code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
			w.WriteHeader(code)
			io.WriteString(w, "status body")
		case r.URL.Path == "/big":
			io.WriteString(w, strings.Repeat("x", 9990)+"0123456789")
		case r.URL.Path == "/slow":
			<-r.Context().Done()
		case r.URL.Path == "/redirect":
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		default:
			body, _ := io.ReadAll(r.Body)
			var b bytes.Buffer
			b.WriteString(r.Method + " " + r.URL.RequestURI() + "\n")
			for _, h := range []string{"Authorization", "Cookie", "X-Signature", "X-Plain", "Content-Type", "X-Taskrunner-Trace-Id"} {
				b.WriteString(h + "=" + r.Header.Get(h) + "\n")
			}
			b.WriteString("host=" + r.Host + "\nbody=" + string(body) + "\n")
			w.Write(b.Bytes())
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestKinds_HTTP(t *testing.T) {
	srv := echoServer(t)
	k, _ := setup(t, func(c *Config) { c.HTTP.RedactHeaders = []string{"x-signature"}; c.HTTP.TailBytes = 400 })
	var logs bytes.Buffer
	run := newRun(t, "call", map[string]any{
		"url": srv.URL + "/hook?x=1", "method": "put",
		"headers": map[string]string{"Authorization": "Bearer s3cret-token", "Cookie": "sid=c00kie", "X-Signature": "sig-value", "X-Plain": "visible", "Host": "api.example"},
		"body":    map[string]any{"n": 1},
		"timeout": "5s", "success": []any{200, "2xx"},
	}, &logs)
	if err := k.HTTP(context.Background(), run, HTTPArgs{}); err != nil {
		t.Fatalf("HTTP: %v\n%s", err, run.OutputText())
	}
	out := run.OutputText()
	for _, want := range []string{
		"PUT " + srv.URL + "/hook?x=1\nstatus: 200 in ",
		"PUT /hook?x=1\n", "Authorization=Bearer s3cret-token\n", "X-Plain=visible\n",
		"Content-Type=application/json\n", "X-Taskrunner-Trace-Id=trace-call\n", "host=api.example\n", `body={"n":1}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The server got the secrets; the logs never did.
	for _, secret := range []string{"s3cret-token", "c00kie", "sig-value"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log holds %q:\n%s", secret, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "Authorization: [redacted]") || !strings.Contains(logs.String(), "X-Signature: [redacted]") || !strings.Contains(logs.String(), "X-Plain: visible") {
		t.Errorf("log:\n%s", logs.String())
	}

	for _, c := range []struct {
		name    string
		extra   map[string]any
		wantErr string // "" for success
		wantOut string
	}{
		{"default 2xx", map[string]any{"url": srv.URL + "/status/204"}, "", "status: 204"},
		{"string body posts", map[string]any{"url": srv.URL + "/echo", "body": "a=1&b=$(id)"}, "", "POST /echo\n"},
		{"500 fails", map[string]any{"url": srv.URL + "/status/500"}, "status 500, not in success [2xx]", "status body"},
		{"listed 404", map[string]any{"url": srv.URL + "/status/404", "success": []any{"2xx", 404}}, "", "status: 404"},
		{"one status", map[string]any{"url": srv.URL + "/status/201", "success": 200}, "status 201, not in success [200]", ""},
		{"class", map[string]any{"url": srv.URL + "/status/302", "success": "3xx"}, "", "status: 302"},
		{"tail", map[string]any{"url": srv.URL + "/big"}, "", "--- body (last 400 of 10000 bytes) ---\n" + strings.Repeat("x", 390) + "0123456789\n"},
		{"timeout", map[string]any{"url": srv.URL + "/slow", "timeout": "50ms"}, "context deadline exceeded", ""},
		{"password in URL", map[string]any{"url": strings.Replace(srv.URL, "//", "//user:pa55word@", 1) + "/status/500"}, "user:xxxxx@", "user:xxxxx@"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			run := newRun(t, "call", c.extra, &logs)
			err := k.HTTP(context.Background(), run, HTTPArgs{})
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("err = %v, want %q", err, c.wantErr)
			}
			if errors.Is(err, tasks.ErrNoRetry) {
				t.Errorf("err %v is not bad input: it may be retried", err)
			}
			if !strings.Contains(run.OutputText(), c.wantOut) {
				t.Errorf("output lacks %q:\n%s", c.wantOut, run.OutputText())
			}
			if all := run.OutputText() + logs.String() + errString(err); strings.Contains(all, "pa55word") {
				t.Errorf("the password was recorded:\n%s", all)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestKinds_HTTP_badInput(t *testing.T) {
	srv := echoServer(t)
	u, _ := url.Parse(srv.URL)
	k, _ := setup(t, func(c *Config) { c.HTTP.AllowHosts = []string{u.Host, "*.example.com"} })
	for _, c := range []struct {
		name  string
		extra any
		want  error
		msg   string
	}{
		{"no url", map[string]any{"method": "GET"}, ErrBadExtra, `key "url" is required`},
		{"not a url", map[string]any{"url": "not a url"}, ErrBadURL, `malformed URL "not a url": want an absolute http:// or https:// URL with a host`},
		{"bad escape with password", map[string]any{"url": "http://u:p@ss:w0rd@x/%zz"}, ErrBadURL, `"http://xxxxx@x/%zz"`},
		{"bad escape", map[string]any{"url": "http://x/%zz"}, ErrBadURL, `invalid URL escape "%zz"`},
		{"control character", map[string]any{"url": "http://x/\n$(id)"}, ErrBadURL, "invalid control character in URL"},
		{"ftp", map[string]any{"url": "ftp://files.example.com/x"}, ErrBadURL, "want an absolute http:// or https:// URL"},
		{"no host", map[string]any{"url": "http:///path"}, ErrBadURL, "with a host"},
		{"file", map[string]any{"url": "file:///etc/passwd"}, ErrBadURL, "malformed URL"},
		{"host not allowed", map[string]any{"url": "http://evil.test/x"}, ErrHostNotAllowed, `host not allowed: "evil.test" (config key http.allow_hosts)`},
		{"port not allowed", map[string]any{"url": "http://" + u.Hostname() + ":1/"}, ErrHostNotAllowed, "host not allowed"},
		{"apex of a wildcard", map[string]any{"url": "https://example.com/"}, ErrHostNotAllowed, "host not allowed"},
		{"lookalike", map[string]any{"url": "https://evilexample.com/"}, ErrHostNotAllowed, "host not allowed"},
		{"userinfo trick", map[string]any{"url": "http://" + u.Host + "@evil.test/"}, ErrHostNotAllowed, `"evil.test"`},
		{"redirect out", map[string]any{"url": srv.URL + "/redirect?to=http://evil.test/"}, ErrHostNotAllowed, `redirect: host not allowed: "evil.test"`},
		{"bad method", map[string]any{"url": srv.URL, "method": "GET /x"}, ErrBadExtra, `key "method": "GET /X" is not an HTTP method`},
		{"header injection", map[string]any{"url": srv.URL, "headers": map[string]string{"X-A": "1\r\nX-B: 2"}}, ErrBadExtra, `the value of "X-A" has a line break`},
		{"bad header name", map[string]any{"url": srv.URL, "headers": map[string]string{"X A": "1"}}, ErrBadExtra, `"X A" is not a header name`},
		{"bad timeout", map[string]any{"url": srv.URL, "timeout": "soon"}, ErrBadExtra, `key "timeout": want a duration such as "10s", got "soon"`},
		{"bad success", map[string]any{"url": srv.URL, "success": "ok"}, ErrBadExtra, `key "success": want a status (200), a class ("2xx")`},
		{"bad headers type", map[string]any{"url": srv.URL, "headers": []string{"a"}}, ErrBadExtra, `key "headers": want an object, got a JSON array`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := k.HTTP(context.Background(), newRun(t, "bad", c.extra, nil), HTTPArgs{})
			if !errors.Is(err, c.want) || !errors.Is(err, tasks.ErrNoRetry) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v\nwant %v with %q, not retried", err, c.want, c.msg)
			}
		})
	}
	for _, ok := range []string{srv.URL + "/status/200", "http://a.example.com:80/"} {
		parsed, _ := url.Parse(ok)
		if !k.hostAllowed(parsed) {
			t.Errorf("%s refused", ok)
		}
	}
}
