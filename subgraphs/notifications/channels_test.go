package notifications_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/shopgraph/shopgraph/subgraphs/notifications"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/email"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/sms"
)

func TestChannels(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	m, p, err := notifications.Channels(notifications.ChannelSettings{SMTPPort: 587, SMTPStartTLS: "opportunistic"}, log)
	if err != nil || m != nil {
		t.Fatalf("without an SMTP host: mailer %v, %v; want none (log only)", m, err)
	}
	if _, ok := p.(*sms.Sandbox); !ok {
		t.Errorf("without an SMS URL: %T, want the sandbox", p)
	}
	m, p, err = notifications.Channels(notifications.ChannelSettings{
		SMTPHost: "smtp.example.com", SMTPPort: 587, SMTPFrom: "Shop <shop@example.com>", SMTPStartTLS: "required",
		SMSURL: "https://sms.example.com/Messages.json", SMSAccountSID: "AC1", SMSAuthToken: "t", SMSFrom: "+14155550100",
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*email.SMTP); !ok {
		t.Errorf("mailer %T", m)
	}
	if _, ok := p.(*sms.HTTP); !ok {
		t.Errorf("SMS provider %T", p)
	}
	if _, _, err := notifications.Channels(notifications.ChannelSettings{SMTPHost: "smtp.example.com", SMTPStartTLS: "never"}, log); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("a bad STARTTLS mode: %v", err)
	}
}
