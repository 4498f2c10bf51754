package notice

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/jonboulle/clockwork"
)

// Documented limits of each robot, from its own documentation.
var (
	dingTalkLimits = []Limit{{N: 20, Per: 60e9}}
	weComLimits    = []Limit{{N: 20, Per: 60e9}}
	feishuLimits   = []Limit{{N: 5, Per: 1e9}, {N: 100, Per: 60e9}}
)

// Bytes of content each robot takes; longer is cut.
const (
	dingTalkMaxBytes = 18000 // Documented as about 20,000; kept under it.
	weComMaxBytes    = 4096  // Markdown content, documented.
	feishuMaxBytes   = 15000 // The body may be 20 KB; JSON adds escaping.
	webhookMaxBytes  = 64000
)

// ---- generic JSON webhook

type webhook struct {
	u       *url.URL
	token   string
	perMin  int
	client  *http.Client
	secrets []string
}

func newWebhook(c WebhookConfig, client *http.Client) (*webhook, error) {
	u, err := parseWebhook(c.URL)
	if err != nil {
		return nil, err
	}
	return &webhook{u: u, token: c.Token, perMin: c.PerMinute, client: client,
		secrets: append(webhookSecrets(u), c.Token)}, nil
}

func (w *webhook) Name() string { return "webhook" }
func (w *webhook) Host() string { return w.u.Host }
func (w *webhook) Limits() []Limit {
	if w.perMin == 0 {
		return nil
	}
	return []Limit{{N: w.perMin, Per: 60e9}}
}

// webhookPayload is what the generic webhook posts: the batch itself, plus
// its rendering for receivers that only forward text.
type webhookPayload struct {
	Title string `json:"title"`
	Text  string `json:"text"`
	Batch
}

func (w *webhook) Send(ctx context.Context, b Batch) error {
	h := http.Header{}
	if w.token != "" {
		h.Set("Authorization", "Bearer "+w.token)
	}
	_, err := postJSON(ctx, w.client, w.u, h, webhookPayload{Title: b.Title(), Text: b.Text(webhookMaxBytes), Batch: b})
	return redact(err, w.secrets...)
}

// ---- DingTalk

type dingTalk struct {
	u       *url.URL
	c       DingTalkConfig
	client  *http.Client
	clock   clockwork.Clock
	secrets []string
}

func newDingTalk(c DingTalkConfig, client *http.Client, clock clockwork.Clock) (*dingTalk, error) {
	u, err := parseWebhook(c.Webhook)
	if err != nil {
		return nil, err
	}
	return &dingTalk{u: u, c: c, client: client, clock: clock,
		secrets: append(webhookSecrets(u), c.Secret)}, nil
}

func (d *dingTalk) Name() string    { return "dingtalk" }
func (d *dingTalk) Host() string    { return d.u.Host }
func (d *dingTalk) Limits() []Limit { return dingTalkLimits }

// dingTalkSign is DingTalk's 加签: HMAC-SHA256 keyed with the secret over
// timestamp+"\n"+secret, base64, then URL-encoded (url.Values does that).
// The timestamp is in milliseconds.
func dingTalkSign(timestampMs int64, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestampMs, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

type dingTalkMsg struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"markdown"`
	At struct {
		AtMobiles []string `json:"atMobiles,omitempty"`
		IsAtAll   bool     `json:"isAtAll"`
	} `json:"at"`
}

func (d *dingTalk) Send(ctx context.Context, b Batch) error {
	u := *d.u
	if d.c.Secret != "" {
		ts := d.clock.Now().UnixMilli()
		q := u.Query()
		q.Set("timestamp", strconv.FormatInt(ts, 10))
		q.Set("sign", dingTalkSign(ts, d.c.Secret))
		u.RawQuery = q.Encode()
	}
	var m dingTalkMsg
	m.MsgType = "markdown"
	m.Markdown.Title = b.Title()
	text := b.Markdown(dingTalkMaxBytes - 20*len(d.c.AtMobiles))
	// DingTalk renders a mention only when "@<mobile>" is in the text.
	if len(d.c.AtMobiles) > 0 {
		text += "\n" + "@" + strings.Join(d.c.AtMobiles, " @")
	}
	m.Markdown.Text = text
	m.At.AtMobiles = d.c.AtMobiles
	m.At.IsAtAll = d.c.AtAll
	return redact(sendRobot(ctx, d.client, &u, m), d.secrets...)
}

// sendRobot posts to a DingTalk or WeCom robot and reads its errcode.
func sendRobot(ctx context.Context, client *http.Client, u *url.URL, m any) error {
	body, err := postJSON(ctx, client, u, nil, m)
	if err != nil {
		return err
	}
	var a robotAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	return a.err(body)
}

// ---- WeCom

type weCom struct {
	u       *url.URL
	client  *http.Client
	secrets []string
}

func newWeCom(c WeComConfig, client *http.Client) (*weCom, error) {
	u, err := parseWebhook(c.Webhook)
	if err != nil {
		return nil, err
	}
	return &weCom{u: u, client: client, secrets: webhookSecrets(u)}, nil
}

func (w *weCom) Name() string    { return "wecom" }
func (w *weCom) Host() string    { return w.u.Host }
func (w *weCom) Limits() []Limit { return weComLimits }

type weComMsg struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Content string `json:"content"`
	} `json:"markdown"`
}

func (w *weCom) Send(ctx context.Context, b Batch) error {
	var m weComMsg
	m.MsgType = "markdown"
	m.Markdown.Content = b.Markdown(weComMaxBytes)
	return redact(sendRobot(ctx, w.client, w.u, m), w.secrets...)
}

// ---- Feishu / Lark

type feishu struct {
	u       *url.URL
	secret  string
	client  *http.Client
	clock   clockwork.Clock
	secrets []string
}

func newFeishu(c FeishuConfig, client *http.Client, clock clockwork.Clock) (*feishu, error) {
	u, err := parseWebhook(c.Webhook)
	if err != nil {
		return nil, err
	}
	return &feishu{u: u, secret: c.Secret, client: client, clock: clock,
		secrets: append(webhookSecrets(u), c.Secret)}, nil
}

func (f *feishu) Name() string    { return "feishu" }
func (f *feishu) Host() string    { return f.u.Host }
func (f *feishu) Limits() []Limit { return feishuLimits }

// feishuSign is Feishu's 签名校验. Unlike DingTalk, timestamp+"\n"+secret
// is the HMAC key and the message is empty; the timestamp is in seconds
// and the base64 goes into the JSON body as is.
func feishuSign(timestampSec int64, secret string) string {
	mac := hmac.New(sha256.New, []byte(strconv.FormatInt(timestampSec, 10)+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

type feishuText struct {
	Tag  string `json:"tag"`
	Text string `json:"text"`
	Href string `json:"href,omitempty"`
}

type feishuMsg struct {
	Timestamp string `json:"timestamp,omitempty"`
	Sign      string `json:"sign,omitempty"`
	MsgType   string `json:"msg_type"`
	Content   struct {
		Post struct {
			ZhCN struct {
				Title   string         `json:"title"`
				Content [][]feishuText `json:"content"`
			} `json:"zh_cn"`
		} `json:"post"`
	} `json:"content"`
}

// feishuAnswer: code 0 is success; older endpoints answer StatusCode.
type feishuAnswer struct {
	Code       *int   `json:"code"`
	Msg        string `json:"msg"`
	StatusCode *int   `json:"StatusCode"`
}

func (f *feishu) Send(ctx context.Context, b Batch) error {
	var m feishuMsg
	if f.secret != "" {
		ts := f.clock.Now().Unix()
		m.Timestamp = strconv.FormatInt(ts, 10)
		m.Sign = feishuSign(ts, f.secret)
	}
	m.MsgType = "post"
	m.Content.Post.ZhCN.Title = b.Title()
	// The post shows the title; the text starts after it. A single
	// message's link becomes a link tag instead of a line of text.
	link := ""
	if b.Single() && b.Messages[0].Link != "" {
		link = b.Messages[0].Link
		one := b.Messages[0]
		one.Link = ""
		b = Batch{Messages: []Message{one}}
	}
	text := b.Text(feishuMaxBytes)
	if _, rest, ok := strings.Cut(text, "\n"); ok {
		text = strings.TrimLeft(rest, "\n")
	}
	for l := range strings.Lines(text) {
		m.Content.Post.ZhCN.Content = append(m.Content.Post.ZhCN.Content,
			[]feishuText{{Tag: "text", Text: strings.TrimRight(l, "\n")}})
	}
	if link != "" {
		m.Content.Post.ZhCN.Content = append(m.Content.Post.ZhCN.Content,
			[]feishuText{{Tag: "a", Text: "Open in console", Href: link}})
	}
	return redact(f.send(ctx, m), f.secrets...)
}

func (f *feishu) send(ctx context.Context, m feishuMsg) error {
	body, err := postJSON(ctx, f.client, f.u, nil, m)
	if err != nil {
		return err
	}
	var a feishuAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	switch {
	case a.Code != nil && *a.Code != 0:
		return fmt.Errorf("code %d: %s", *a.Code, head(oneLine(a.Msg), 200))
	case a.Code == nil && (a.StatusCode == nil || *a.StatusCode != 0):
		return fmt.Errorf("answer without code: %s", head(oneLine(string(body)), 200))
	}
	return nil
}
