package sms_test

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/shopgraph/shopgraph/subgraphs/notifications/notification"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/notifytest"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/sms"
)

var text = notification.TextMessage{ID: "m1:sms", To: "+14155550123", Body: "Shopgraph: your order o1 has shipped."}

func TestHTTPSendsTheForm(t *testing.T) {
	t.Parallel()
	srv := notifytest.StartSMS(t, nil)
	p, err := sms.NewHTTP(sms.Config{URL: srv.URL, AccountSID: "AC123", AuthToken: "tok", From: "+1 (415) 555-0100"})
	if err != nil {
		t.Fatal(err)
	}
	status, err := p.SendSMS(t.Context(), text)
	if err != nil || status != notification.StatusSent {
		t.Fatalf("SendSMS = %v, %v", status, err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.ContentType != "application/x-www-form-urlencoded" {
		t.Errorf("%s %s", r.Method, r.ContentType)
	}
	if r.User != "AC123" || r.Password != "tok" {
		t.Errorf("basic auth %q:%q", r.User, r.Password)
	}
	if r.Form.Get("To") != text.To || r.Form.Get("From") != "+14155550100" || r.Form.Get("Body") != text.Body {
		t.Errorf("form %v", r.Form)
	}
}

func TestHTTPFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		code          int
		body          string
		wantReason    string
		wantPermanent bool
	}{
		{"invalid number", 400, `{"code":21211,"message":"The 'To' number +14155550123 is not a valid phone number.","status":400}`,
			"the SMS provider refused the message (400): The 'To' number +14155550123 is not a valid phone number.", true},
		{"bad credentials", 401, `{"code":20003,"message":"Authenticate"}`, "the SMS provider refused the credentials", false},
		{"rate limited", 429, `{}`, "the SMS provider is busy (429)", false},
		{"server error", 503, `<html>oops</html>`, "the SMS provider failed (503)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := notifytest.StartSMS(t, func(int) (int, string) { return tt.code, tt.body })
			p, err := sms.NewHTTP(sms.Config{URL: srv.URL, AccountSID: "AC123", AuthToken: "tok", From: "+14155550100"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.SendSMS(t.Context(), text)
			var se *notification.SendError
			if !errors.As(err, &se) || se.Reason != tt.wantReason || se.Permanent != tt.wantPermanent {
				t.Fatalf("SendSMS error %#v; want reason %q permanent %v", err, tt.wantReason, tt.wantPermanent)
			}
		})
	}
}

func TestNewHTTPRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    sms.Config
		want string
	}{
		{"not a URL", sms.Config{URL: "ftp://x", AccountSID: "a", AuthToken: "b", From: "+14155550100"}, "not an http(s) URL"},
		{"no token", sms.Config{URL: "https://sms.example.com/m", AccountSID: "a", From: "+14155550100"}, "account SID and an auth token"},
		{"bad from", sms.Config{URL: "https://sms.example.com/m", AccountSID: "a", AuthToken: "b", From: "555-0100"}, "not an E.164"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := sms.NewHTTP(tt.c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewHTTP = %v; want %q", err, tt.want)
			}
		})
	}
}

func TestSandboxLogsOnly(t *testing.T) {
	t.Parallel()
	s := sms.NewSandbox(slog.New(slog.DiscardHandler))
	status, err := s.SendSMS(t.Context(), text)
	if err != nil || status != notification.StatusLogged {
		t.Fatalf("SendSMS = %v, %v; want LOGGED", status, err)
	}
	if got := s.Sent(); len(got) != 1 || got[0] != text {
		t.Errorf("Sent = %+v", got)
	}
}
