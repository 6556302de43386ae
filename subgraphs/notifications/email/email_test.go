package email_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/shopgraph/shopgraph/subgraphs/notifications/email"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/notification"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/notifytest"
)

var msg = notification.Email{
	ID:      "0191b7a2-0000-7000-8000-000000000001:email",
	To:      "ada@example.com",
	ToName:  "Ada Lovelace",
	Subject: "Your order is confirmed — café",
	Text:    "Hi Ada,\n\nA line long enough to be wrapped by quoted-printable encoding, which cuts lines at 76 characters.\n",
	HTML:    "<p>Hi Ada,</p><p>Total: <strong>USD 42.50</strong></p>",
}

func TestSendEmail(t *testing.T) {
	t.Parallel()
	fixed := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name     string
		server   notifytest.SMTPOptions
		mode     email.StartTLS
		user     string
		password string
		wantTLS  bool
		// wantErr is a part of the failure's reason; "" for success.
		wantErr       string
		wantPermanent bool
	}{
		{name: "plain, STARTTLS off", mode: email.StartTLSOff},
		{name: "opportunistic without STARTTLS on offer", mode: email.StartTLSOpportunistic},
		{name: "opportunistic upgrades", server: notifytest.SMTPOptions{TLS: true}, mode: email.StartTLSOpportunistic, wantTLS: true},
		{name: "required, with authentication", server: notifytest.SMTPOptions{TLS: true, Username: "mailer", Password: "s3cret"},
			mode: email.StartTLSRequired, user: "mailer", password: "s3cret", wantTLS: true},
		{name: "required but not offered", mode: email.StartTLSRequired, wantErr: "does not offer STARTTLS"},
		{name: "wrong password", server: notifytest.SMTPOptions{TLS: true, Username: "mailer", Password: "s3cret"},
			mode: email.StartTLSRequired, user: "mailer", password: "wrong", wantErr: "refused the credentials"},
		{name: "recipient refused", mode: email.StartTLSOff,
			server: notifytest.SMTPOptions{RejectRcpt: func(string) error {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
			}},
			wantErr: "refused the recipient: 550", wantPermanent: true},
		{name: "message deferred", mode: email.StartTLSOff,
			server: notifytest.SMTPOptions{Reject: func(int) error {
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
			}},
			wantErr: "deferred the message: 451"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := notifytest.StartSMTP(t, tt.server)
			m, err := email.New(email.Config{
				Host: srv.Host, Port: srv.Port, Username: tt.user, Password: tt.password,
				From:     "Shop <shop@example.com>",
				StartTLS: tt.mode, TLSConfig: &tls.Config{RootCAs: srv.RootCAs},
				Now: func() time.Time { return fixed },
			})
			if err != nil {
				t.Fatal(err)
			}
			status, err := m.SendEmail(t.Context(), msg)
			if tt.wantErr != "" {
				var se *notification.SendError
				if !errors.As(err, &se) || !strings.Contains(se.Reason, tt.wantErr) || se.Permanent != tt.wantPermanent {
					t.Fatalf("SendEmail = %v, %v; want a SendError %q, permanent %v", status, err, tt.wantErr, tt.wantPermanent)
				}
				if n := len(srv.Mails()); n != 0 {
					t.Errorf("the server accepted %d messages", n)
				}
				return
			}
			if err != nil || status != notification.StatusSent {
				t.Fatalf("SendEmail = %v, %v", status, err)
			}
			got := srv.Mails()
			if len(got) != 1 {
				t.Fatalf("server got %d messages", len(got))
			}
			g := got[0]
			if g.From != "shop@example.com" || len(g.To) != 1 || g.To[0] != "ada@example.com" {
				t.Errorf("envelope from %q to %v", g.From, g.To)
			}
			if g.TLS != tt.wantTLS || g.User != tt.user {
				t.Errorf("TLS %v user %q; want %v %q", g.TLS, g.User, tt.wantTLS, tt.user)
			}
			h := g.Header
			if h.Get("From") != `"Shop" <shop@example.com>` || h.Get("To") != `"Ada Lovelace" <ada@example.com>` {
				t.Errorf("From %q To %q", h.Get("From"), h.Get("To"))
			}
			if g.Subject != msg.Subject {
				t.Errorf("subject %q, want %q", g.Subject, msg.Subject)
			}
			if h.Get("Message-Id") != "<0191b7a2-0000-7000-8000-000000000001.email@example.com>" {
				t.Errorf("Message-ID %q", h.Get("Message-Id"))
			}
			if d, err := h.Date(); err != nil || !d.Equal(fixed) {
				t.Errorf("Date %v, %v", d, err)
			}
			if g.Text != msg.Text || g.HTML != msg.HTML {
				t.Errorf("parts:\ntext %q\nhtml %q", g.Text, g.HTML)
			}
		})
	}
}

func TestSendEmailUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	m, err := email.New(email.Config{Host: "127.0.0.1", Port: port, StartTLS: email.StartTLSOff})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.SendEmail(context.Background(), msg)
	var se *notification.SendError
	if !errors.As(err, &se) || se.Permanent || se.Reason != "the mail server is unreachable" {
		t.Fatalf("SendEmail = %v; want a transient 'unreachable'", err)
	}
	if strings.Contains(se.Reason, "127.0.0.1") {
		t.Errorf("the reason shows the server's address: %q", se.Reason)
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    email.Config
		want string
	}{
		{"no host", email.Config{}, "no SMTP host"},
		{"bad port", email.Config{Host: "mail.example.com", Port: 70000}, "not a port"},
		{"bad from", email.Config{Host: "mail.example.com", From: "not an address"}, "from address"},
		{"bad mode", email.Config{Host: "mail.example.com", StartTLS: "sometimes"}, "not required, opportunistic or off"},
		{"password in the clear", email.Config{Host: "mail.example.com", Username: "u", Password: "p", StartTLS: email.StartTLSOff}, "in the clear"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := email.New(tt.c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v; want an error with %q", err, tt.want)
			}
		})
	}
	if _, err := email.New(email.Config{Host: "localhost", Username: "u", Password: "p", StartTLS: email.StartTLSOff}); err != nil {
		t.Errorf("credentials in the clear to localhost: %v", err)
	}
}
