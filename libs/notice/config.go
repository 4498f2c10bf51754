package notice

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"time"
)

// Config is the alert configuration: shared limits, then one table per
// channel. A channel is on when its address (webhook, or addr for email) is
// set; with none set, Notify does nothing.
type Config struct {
	// TaskInterval lets one alert per task through per this long; the
	// rest are counted and reported in one digest when it has passed.
	// 0 lets every alert through. Defaults to 5m.
	TaskInterval time.Duration `toml:"task_interval"`
	// QueueSize is how many alerts each channel holds while it waits for
	// its rate limit or retries; more are counted into the next digest,
	// not kept. Defaults to 100.
	QueueSize int `toml:"queue_size"`
	// MaxAttempts is how many times one message is sent before it is
	// given up and logged. Defaults to 3.
	MaxAttempts int `toml:"max_attempts"`
	// RetryDelay is the wait before the second attempt; it doubles for
	// each attempt after. Defaults to 5s.
	RetryDelay time.Duration `toml:"retry_delay"`
	// Timeout bounds one attempt (an HTTP request, an SMTP session).
	// Defaults to 10s.
	Timeout time.Duration `toml:"timeout"`

	Webhook  WebhookConfig  `toml:"webhook"`
	DingTalk DingTalkConfig `toml:"dingtalk"`
	WeCom    WeComConfig    `toml:"wecom"`
	Feishu   FeishuConfig   `toml:"feishu"`
	Email    EmailConfig    `toml:"email"`
}

// WebhookConfig is a generic JSON webhook: each message is POSTed as one
// JSON object (see the webhook channel's payload in webhook.go).
type WebhookConfig struct {
	URL string `toml:"url"` // http(s) URL; a secret, never logged. Defaults to "" (off).
	// Token, when set, is sent as "Authorization: Bearer <token>".
	Token     string `toml:"token"`
	PerMinute int    `toml:"per_minute"` // Most messages a minute; 0 is no limit. Defaults to 0.
}

// DingTalkConfig is a DingTalk custom robot (钉钉自定义机器人). It sends at
// most 20 messages a minute, the robot's documented limit.
type DingTalkConfig struct {
	// Webhook is the robot's address with its access_token:
	// https://oapi.dingtalk.com/robot/send?access_token=…; a secret.
	// Defaults to "" (off).
	Webhook string `toml:"webhook"`
	// Secret is the 加签 key (SEC…), when the robot signs. Defaults to "".
	Secret    string   `toml:"secret"`
	AtMobiles []string `toml:"at_mobiles"` // Phone numbers to @. Defaults to none.
	AtAll     bool     `toml:"at_all"`     // @ everyone. Defaults to false.
}

// WeComConfig is a WeCom group robot (企业微信群机器人). It sends at most 20
// messages a minute, the robot's documented limit.
type WeComConfig struct {
	// Webhook is https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…;
	// the key is the robot's only credential. Defaults to "" (off).
	Webhook string `toml:"webhook"`
}

// FeishuConfig is a Feishu or Lark custom bot (飞书自定义机器人). It sends at
// most 5 messages a second and 100 a minute, the bot's documented limits.
type FeishuConfig struct {
	// Webhook is https://open.feishu.cn/open-apis/bot/v2/hook/…; a
	// secret. Defaults to "" (off).
	Webhook string `toml:"webhook"`
	// Secret is the 签名校验 key, when the bot checks signatures.
	// Defaults to "".
	Secret string `toml:"secret"`
}

// EmailConfig sends plain-text mail over SMTP, upgrading to TLS when the
// server offers STARTTLS.
type EmailConfig struct {
	Addr string `toml:"addr"` // host:port of the SMTP server. Defaults to "" (off).
	// Username and Password, when Username is set, log in with AUTH PLAIN,
	// which net/smtp allows only over TLS or to localhost. Default to "".
	Username  string   `toml:"username"`
	Password  string   `toml:"password"`
	From      string   `toml:"from"`       // Sender address. Required with addr.
	To        []string `toml:"to"`         // Recipients. Required with addr.
	PerMinute int      `toml:"per_minute"` // Most messages a minute; 0 is no limit. Defaults to 10.
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		TaskInterval: 5 * time.Minute,
		QueueSize:    100,
		MaxAttempts:  3,
		RetryDelay:   5 * time.Second,
		Timeout:      10 * time.Second,
		Email:        EmailConfig{PerMinute: 10},
	}
}

// Validate reports the first bad key, by its toml name ("dingtalk.webhook").
// Its errors never quote a webhook address or a secret.
func (c Config) Validate() (key string, err error) {
	switch {
	case c.TaskInterval < 0:
		return "task_interval", fmt.Errorf("must not be negative")
	case c.QueueSize <= 0:
		return "queue_size", fmt.Errorf("must be positive")
	case c.MaxAttempts < 1 || c.MaxAttempts > 10:
		return "max_attempts", fmt.Errorf("want 1 to 10, got %d", c.MaxAttempts)
	case c.RetryDelay <= 0:
		return "retry_delay", fmt.Errorf("must be positive")
	case c.Timeout <= 0:
		return "timeout", fmt.Errorf("must be positive")
	case c.Webhook.PerMinute < 0:
		return "webhook.per_minute", fmt.Errorf("must not be negative")
	case c.Email.PerMinute < 0:
		return "email.per_minute", fmt.Errorf("must not be negative")
	}
	for _, w := range []struct{ key, url string }{
		{"webhook.url", c.Webhook.URL},
		{"dingtalk.webhook", c.DingTalk.Webhook},
		{"wecom.webhook", c.WeCom.Webhook},
		{"feishu.webhook", c.Feishu.Webhook},
	} {
		if w.url == "" {
			continue
		}
		if _, err := parseWebhook(w.url); err != nil {
			return w.key, err
		}
	}
	if c.DingTalk.Webhook != "" {
		u, _ := url.Parse(c.DingTalk.Webhook)
		if u.Query().Get("access_token") == "" {
			return "dingtalk.webhook", fmt.Errorf("has no access_token parameter")
		}
	}
	if c.WeCom.Webhook != "" {
		u, _ := url.Parse(c.WeCom.Webhook)
		if u.Query().Get("key") == "" {
			return "wecom.webhook", fmt.Errorf("has no key parameter")
		}
	}
	if c.DingTalk.Webhook == "" && c.DingTalk.Secret != "" {
		return "dingtalk.secret", fmt.Errorf("is set but dingtalk.webhook is not")
	}
	if c.Feishu.Webhook == "" && c.Feishu.Secret != "" {
		return "feishu.secret", fmt.Errorf("is set but feishu.webhook is not")
	}
	if c.Email.Addr == "" {
		return "", nil
	}
	if _, _, err := net.SplitHostPort(c.Email.Addr); err != nil {
		return "email.addr", fmt.Errorf("want host:port, got %q", c.Email.Addr)
	}
	if _, err := mail.ParseAddress(c.Email.From); err != nil {
		return "email.from", fmt.Errorf("want an address, got %q", c.Email.From)
	}
	if len(c.Email.To) == 0 {
		return "email.to", fmt.Errorf("is required with email.addr")
	}
	for _, to := range c.Email.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return "email.to", fmt.Errorf("want addresses, got %q", to)
		}
	}
	return "", nil
}

// parseWebhook checks an http(s) URL without quoting it: the address holds
// the robot's credential.
func parseWebhook(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("want an http(s) URL (not quoted: it holds a credential)")
	}
	return u, nil
}
