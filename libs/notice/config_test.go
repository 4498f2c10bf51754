package notice

import (
	"strings"
	"testing"
)

func TestConfig_Validate(t *testing.T) {
	const token = "tok-0123456789abcdef"
	tests := []struct {
		name string
		edit func(*Config)
		key  string
	}{
		{"defaults", func(*Config) {}, ""},
		{"all channels", func(c *Config) {
			c.Webhook.URL = "https://hooks.example.com/x"
			c.DingTalk = DingTalkConfig{Webhook: "https://oapi.dingtalk.com/robot/send?access_token=" + token, Secret: "SECabc"}
			c.WeCom.Webhook = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + token
			c.Feishu = FeishuConfig{Webhook: "https://open.feishu.cn/open-apis/bot/v2/hook/" + token, Secret: "s"}
			c.Email = EmailConfig{Addr: "smtp.example.com:587", From: "a@example.com", To: []string{"b@example.com"}}
		}, ""},
		{"negative task_interval", func(c *Config) { c.TaskInterval = -1 }, "task_interval"},
		{"queue_size 0", func(c *Config) { c.QueueSize = 0 }, "queue_size"},
		{"max_attempts 0", func(c *Config) { c.MaxAttempts = 0 }, "max_attempts"},
		{"retry_delay 0", func(c *Config) { c.RetryDelay = 0 }, "retry_delay"},
		{"timeout 0", func(c *Config) { c.Timeout = 0 }, "timeout"},
		{"webhook not a URL", func(c *Config) { c.Webhook.URL = "ftp://x/" + token }, "webhook.url"},
		{"dingtalk without token", func(c *Config) { c.DingTalk.Webhook = "https://oapi.dingtalk.com/robot/send" }, "dingtalk.webhook"},
		{"dingtalk secret alone", func(c *Config) { c.DingTalk.Secret = "SEC" + token }, "dingtalk.secret"},
		{"wecom without key", func(c *Config) { c.WeCom.Webhook = "https://qyapi.weixin.qq.com/x?k=" + token }, "wecom.webhook"},
		{"feishu relative", func(c *Config) { c.Feishu.Webhook = "/open-apis/bot/v2/hook/" + token }, "feishu.webhook"},
		{"email bad addr", func(c *Config) { c.Email = EmailConfig{Addr: "smtp", From: "a@x", To: []string{"b@x"}} }, "email.addr"},
		{"email no from", func(c *Config) { c.Email = EmailConfig{Addr: "smtp:25", To: []string{"b@x"}} }, "email.from"},
		{"email no to", func(c *Config) { c.Email = EmailConfig{Addr: "smtp:25", From: "a@x"} }, "email.to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			key, err := c.Validate()
			if key != tt.key || (err == nil) != (tt.key == "") {
				t.Fatalf("Validate() = %q, %v; want key %q", key, err, tt.key)
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Fatalf("error quotes the credential: %v", err)
			}
		})
	}
}
