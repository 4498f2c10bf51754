package notice

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// Known-answer values from the research notes (Python's hmac and Go agree).
func TestDingTalkSign_KnownAnswer(t *testing.T) {
	got := dingTalkSign(1700000000000, "SECtest-secret-123")
	if want := "OdCH901FOf73VhFoU/E7B7DzgzJbshAF1ZFsnN4AYZg="; got != want {
		t.Fatalf("dingTalkSign = %s, want %s", got, want)
	}
	if got, want := url.QueryEscape(got), "OdCH901FOf73VhFoU%2FE7B7DzgzJbshAF1ZFsnN4AYZg%3D"; got != want {
		t.Fatalf("URL-encoded = %s, want %s", got, want)
	}
}

func TestFeishuSign_KnownAnswer(t *testing.T) {
	got := feishuSign(1700000000, "feishu-secret-123")
	if want := "wAKC6MXbPqtffyEjIIFCeFvDIz3W7u9+zZzoj6JvcJE="; got != want {
		t.Fatalf("feishuSign = %s, want %s", got, want)
	}
	// DingTalk's scheme copied over (key = secret, message = ts\nsecret)
	// gives this; Feishu refuses it.
	if wrong := "zJ1fTdvVW4j/+9u25YHmBvTk69rc1gHrUhNZBer9kWI="; got == wrong {
		t.Fatal("feishuSign uses DingTalk's scheme")
	}
}

// robot is an httptest server standing in for a robot: it hands each
// request to the test and answers with reply.
type robot struct {
	*httptest.Server
	reqs  chan recorded
	reply string
}

type recorded struct {
	url  *url.URL
	head http.Header
	body []byte
}

func newRobot(t *testing.T, reply string) *robot {
	t.Helper()
	r := &robot{reqs: make(chan recorded, 100), reply: reply}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost || !strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		r.reqs <- recorded{url: req.URL, head: req.Header, body: body}
		io.WriteString(w, r.reply)
	}))
	t.Cleanup(r.Close)
	return r
}

// next waits for the robot's next request.
func (r *robot) next(t *testing.T) recorded {
	t.Helper()
	select {
	case rec := <-r.reqs:
		return rec
	case <-time.After(5 * time.Second):
		t.Fatal("no request reached the robot")
		return recorded{}
	}
}

var testNow = time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC) // Unix 1700000000.

func single() Batch { return Batch{Messages: []Message{sampleMessage()}} }

func TestDingTalk_SendSigned(t *testing.T) {
	r := newRobot(t, `{"errcode":0,"errmsg":"ok"}`)
	const secret = "SECtest-secret-123"
	ch, err := newDingTalk(DingTalkConfig{
		Webhook: r.URL + "/robot/send?access_token=tok123456789", Secret: secret,
		AtMobiles: []string{"13800001111"},
	}, r.Client(), clockwork.NewFakeClockAt(testNow))
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Send(context.Background(), single()); err != nil {
		t.Fatal(err)
	}
	rec := r.next(t)
	q := rec.url.Query()
	if q.Get("access_token") != "tok123456789" || q.Get("timestamp") != "1700000000000" {
		t.Fatalf("query = %s", rec.url.RawQuery)
	}
	// Recompute as DingTalk does: key = secret, message = ts\nsecret.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(q.Get("timestamp") + "\n" + secret))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); q.Get("sign") != want {
		t.Fatalf("sign = %s, want %s", q.Get("sign"), want)
	}
	if !strings.Contains(rec.url.RawQuery, "sign=OdCH901FOf73VhFoU%2FE7B7DzgzJbshAF1ZFsnN4AYZg%3D") {
		t.Fatalf("raw query lacks the known-answer sign: %s", rec.url.RawQuery)
	}
	var m struct {
		MsgType  string
		Markdown struct{ Title, Text string }
		At       struct {
			AtMobiles []string
			IsAtAll   bool
		}
	}
	if err := json.Unmarshal(rec.body, &m); err != nil {
		t.Fatal(err)
	}
	if m.MsgType != "markdown" || m.Markdown.Title != "[taskrunner] failed: report_daily" ||
		!strings.Contains(m.Markdown.Text, "**Status: **failed") || !strings.Contains(m.Markdown.Text, "@13800001111") ||
		len(m.At.AtMobiles) != 1 || m.At.IsAtAll {
		t.Fatalf("body = %s", rec.body)
	}
}

func TestDingTalk_SendPlainAndErrcode(t *testing.T) {
	r := newRobot(t, `{"errcode":310000,"errmsg":"sign not match"}`)
	ch, _ := newDingTalk(DingTalkConfig{Webhook: r.URL + "/robot/send?access_token=tok123456789"},
		r.Client(), clockwork.NewFakeClockAt(testNow))
	err := ch.Send(context.Background(), single())
	if err == nil || !strings.Contains(err.Error(), "errcode 310000: sign not match") {
		t.Fatalf("err = %v", err)
	}
	if q := r.next(t).url.Query(); q.Has("sign") || q.Has("timestamp") {
		t.Fatalf("an unsigned robot got %v", q)
	}
}

func TestWeCom_Send(t *testing.T) {
	r := newRobot(t, `{"errcode":0,"errmsg":"ok"}`)
	ch, _ := newWeCom(WeComConfig{Webhook: r.URL + "/cgi-bin/webhook/send?key=693a91f6-7xxx"}, r.Client())
	b := single()
	b.Messages[0].Error = strings.Repeat("x", 10000)
	if err := ch.Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	rec := r.next(t)
	if rec.url.Query().Get("key") != "693a91f6-7xxx" {
		t.Fatalf("query = %s", rec.url.RawQuery)
	}
	var m struct {
		MsgType  string
		Markdown struct{ Content string }
	}
	if err := json.Unmarshal(rec.body, &m); err != nil {
		t.Fatal(err)
	}
	if m.MsgType != "markdown" || !strings.Contains(m.Markdown.Content, "report_daily") || len(m.Markdown.Content) > 4096 {
		t.Fatalf("msgtype %q, %d bytes: %.200s", m.MsgType, len(m.Markdown.Content), m.Markdown.Content)
	}
}

func TestWeCom_TooFast(t *testing.T) {
	r := newRobot(t, `{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`)
	ch, _ := newWeCom(WeComConfig{Webhook: r.URL + "/send?key=693a91f6-7xxx"}, r.Client())
	if err := ch.Send(context.Background(), single()); err == nil || !strings.Contains(err.Error(), "130101") {
		t.Fatalf("err = %v", err)
	}
}

func TestFeishu_SendSigned(t *testing.T) {
	r := newRobot(t, `{"code":0,"msg":"success","data":{}}`)
	const secret = "feishu-secret-123"
	ch, _ := newFeishu(FeishuConfig{Webhook: r.URL + "/open-apis/bot/v2/hook/0d2e-hook-token", Secret: secret},
		r.Client(), clockwork.NewFakeClockAt(testNow))
	if err := ch.Send(context.Background(), single()); err != nil {
		t.Fatal(err)
	}
	rec := r.next(t)
	var m struct {
		Timestamp string `json:"timestamp"`
		Sign      string `json:"sign"`
		MsgType   string `json:"msg_type"`
		Content   struct {
			Post struct {
				ZhCN struct {
					Title   string
					Content [][]struct{ Tag, Text, Href string }
				} `json:"zh_cn"`
			}
		}
	}
	if err := json.Unmarshal(rec.body, &m); err != nil {
		t.Fatal(err)
	}
	if rec.url.RawQuery != "" {
		t.Fatalf("Feishu signs in the body, not the URL: %s", rec.url.RawQuery)
	}
	if m.Timestamp != "1700000000" {
		t.Fatalf("timestamp = %q, want seconds", m.Timestamp)
	}
	// Recompute as Feishu does: key = ts\nsecret, empty message.
	ts, _ := strconv.ParseInt(m.Timestamp, 10, 64)
	mac := hmac.New(sha256.New, []byte(strconv.FormatInt(ts, 10)+"\n"+secret))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); m.Sign != want {
		t.Fatalf("sign = %s, want %s", m.Sign, want)
	}
	if m.Sign != "wAKC6MXbPqtffyEjIIFCeFvDIz3W7u9+zZzoj6JvcJE=" {
		t.Fatalf("sign = %s, not the known answer", m.Sign)
	}
	p := m.Content.Post.ZhCN
	if m.MsgType != "post" || p.Title != "[taskrunner] failed: report_daily" || len(p.Content) < 3 {
		t.Fatalf("body = %s", rec.body)
	}
	last := p.Content[len(p.Content)-1][0]
	if last.Tag != "a" || last.Href != "https://console.example.com/runs/1234" {
		t.Fatalf("last line = %+v, want the console link", last)
	}
	if strings.Contains(p.Content[0][0].Text, "[taskrunner]") {
		t.Fatalf("the title is repeated in the text: %+v", p.Content[0])
	}
}

func TestFeishu_Errors(t *testing.T) {
	for _, tt := range []struct{ reply, want string }{
		{`{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`, "code 19021"},
		{`{"StatusCode":0,"StatusMessage":"success"}`, ""},
		{`{}`, "answer without code"},
	} {
		r := newRobot(t, tt.reply)
		ch, _ := newFeishu(FeishuConfig{Webhook: r.URL + "/hook/0d2e-hook-token"}, r.Client(), clockwork.NewFakeClockAt(testNow))
		err := ch.Send(context.Background(), single())
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("reply %s: err = %v, want %q", tt.reply, err, tt.want)
		}
	}
}

func TestWebhook_Send(t *testing.T) {
	r := newRobot(t, `ok`)
	ch, _ := newWebhook(WebhookConfig{URL: r.URL + "/alerts", Token: "bearer-secret-1"}, r.Client())
	b := Batch{Messages: []Message{sampleMessage()}, Counted: []Count{{TaskKey: "x", N: 2, Why: "repeated"}}}
	if err := ch.Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	rec := r.next(t)
	if rec.head.Get("Authorization") != "Bearer bearer-secret-1" {
		t.Fatalf("Authorization = %q", rec.head.Get("Authorization"))
	}
	var got webhookPayload
	if err := json.Unmarshal(rec.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Title != "[taskrunner] 3 alerts" || len(got.Messages) != 1 || got.Messages[0] != sampleMessage() ||
		len(got.Counted) != 1 || !strings.Contains(got.Text, "x: 2 more alerts") {
		t.Fatalf("body = %s", rec.body)
	}
}

func TestWebhook_RedirectNotFollowed(t *testing.T) {
	elsewhere := newRobot(t, "ok")
	r := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusTemporaryRedirect))
	defer r.Close()
	ch, _ := newWebhook(WebhookConfig{URL: r.URL + "/alerts"}, r.Client())
	if err := ch.Send(context.Background(), single()); err == nil || !strings.Contains(err.Error(), "status 307") {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-elsewhere.reqs:
		t.Fatal("the redirect was followed")
	default:
	}
}
