// Package sms sends the notifications service's text messages: HTTP, a
// provider API shaped like the common ones (Twilio's Messages resource and
// its imitators: a form POST of To, From and Body, authenticated with the
// account SID and auth token as HTTP basic auth), and Sandbox, which only
// logs.
package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/shopgraph/shopgraph/subgraphs/notifications/notification"
)

// Config configures an HTTP provider. Every field but Client is required.
type Config struct {
	// URL is the endpoint that creates a message, e.g.
	// https://api.twilio.com/2010-04-01/Accounts/<SID>/Messages.json.
	URL        string
	AccountSID string
	AuthToken  string
	// From is the sending phone number (E.164).
	From string
	// Client defaults to one with a 15-second timeout.
	Client *http.Client
}

// HTTP is a notification.SMSProvider that calls a provider's HTTP API.
type HTTP struct {
	c Config
}

var _ notification.SMSProvider = (*HTTP)(nil)

// NewHTTP returns a provider for c, or an error that names the setting at
// fault.
func NewHTTP(c Config) (*HTTP, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sms: provider URL %q is not an http(s) URL", c.URL)
	}
	if c.AccountSID == "" || c.AuthToken == "" {
		return nil, errors.New("sms: the provider needs an account SID and an auth token")
	}
	from, err := notification.NormalizePhone(c.From)
	if err != nil {
		return nil, fmt.Errorf("sms: from number %q is not an E.164 phone number such as +14155550123", c.From)
	}
	c.From = from
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 15 * time.Second}
	}
	return &HTTP{c: c}, nil
}

// Name is the provider's name, for logs.
func (p *HTTP) Name() string { return "http" }

// SendSMS implements notification.SMSProvider. A 4xx answer other than 401,
// 403, 408 and 429 refuses the message for good; anything else (the
// provider is unreachable, failing, busy or refuses the credentials) is worth
// retrying.
func (p *HTTP) SendSMS(ctx context.Context, m notification.TextMessage) (notification.Status, error) {
	form := url.Values{"To": {m.To}, "From": {p.c.From}, "Body": {m.Body}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.c.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", notification.Rejected("the SMS request could not be made", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(p.c.AccountSID, p.c.AuthToken)
	res, err := p.c.Client.Do(req)
	if err != nil {
		return "", notification.Transient("the SMS provider is unreachable", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 16<<10))
	if res.StatusCode/100 == 2 {
		return notification.StatusSent, nil
	}
	detail := providerMessage(body)
	err = fmt.Errorf("SMS provider answered %s: %s", res.Status, body)
	switch {
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		return "", notification.Transient("the SMS provider refused the credentials", err)
	case res.StatusCode == http.StatusRequestTimeout || res.StatusCode == http.StatusTooManyRequests:
		return "", notification.Transient(fmt.Sprintf("the SMS provider is busy (%d)", res.StatusCode), err)
	case res.StatusCode/100 == 4:
		reason := fmt.Sprintf("the SMS provider refused the message (%d)", res.StatusCode)
		if detail != "" {
			reason += ": " + detail
		}
		return "", notification.Rejected(reason, err)
	}
	return "", notification.Transient(fmt.Sprintf("the SMS provider failed (%d)", res.StatusCode), err)
}

// providerMessage returns the "message" of a JSON error body, as the common
// SMS APIs send, cut to a readable length; "" if there is none.
func providerMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	msg := strings.Join(strings.Fields(e.Message), " ")
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:200]) + "…"
	}
	return msg
}

// Sandbox is a notification.SMSProvider that sends nothing: it logs each
// message and keeps it in memory, for development and tests. Messages it
// takes are LOGGED, not SENT.
type Sandbox struct {
	log  *slog.Logger
	mu   sync.Mutex
	sent []notification.TextMessage
}

var _ notification.SMSProvider = (*Sandbox)(nil)

// NewSandbox returns a sandbox that logs to log (slog.Default() if nil).
func NewSandbox(log *slog.Logger) *Sandbox {
	if log == nil {
		log = slog.Default()
	}
	return &Sandbox{log: log}
}

// Name is the provider's name, for logs.
func (s *Sandbox) Name() string { return "sandbox" }

// SendSMS implements notification.SMSProvider.
func (s *Sandbox) SendSMS(ctx context.Context, m notification.TextMessage) (notification.Status, error) {
	s.mu.Lock()
	s.sent = append(s.sent, m)
	s.mu.Unlock()
	s.log.InfoContext(ctx, "SMS logged, not sent: the SMS sandbox is in use", "notification_id", m.ID, "to", m.To, "body", m.Body)
	return notification.StatusLogged, nil
}

// Sent returns the messages the sandbox took, oldest first.
func (s *Sandbox) Sent() []notification.TextMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]notification.TextMessage(nil), s.sent...)
}
