package notifications

import (
	"fmt"
	"log/slog"

	"github.com/shopgraph/shopgraph/subgraphs/notifications/email"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/notification"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/sms"
)

// ChannelSettings are the delivery settings, as internal/config's Config
// carries them (SMTPHost, …, SMSFrom).
type ChannelSettings struct {
	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	SMTPPassword string
	SMTPFrom     string
	// SMTPStartTLS is "required", "opportunistic" or "off".
	SMTPStartTLS string

	SMSURL        string
	SMSAccountSID string
	SMSAuthToken  string
	SMSFrom       string
}

// Channels returns the mailer and the SMS provider that s describes, for
// Config.Mailer and Config.SMS: no mailer without an SMTP host (emails are
// logged and recorded as LOGGED), and the sandbox without an SMS URL (text
// messages likewise). It returns an error that names the setting at fault.
func Channels(s ChannelSettings, log *slog.Logger) (notification.Mailer, notification.SMSProvider, error) {
	var mailer notification.Mailer
	if s.SMTPHost != "" {
		m, err := email.New(email.Config{
			Host: s.SMTPHost, Port: s.SMTPPort, Username: s.SMTPUsername, Password: s.SMTPPassword,
			From: s.SMTPFrom, StartTLS: email.StartTLS(s.SMTPStartTLS),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("notifications: %w", err)
		}
		mailer = m
	}
	if s.SMSURL == "" {
		return mailer, sms.NewSandbox(log), nil
	}
	p, err := sms.NewHTTP(sms.Config{URL: s.SMSURL, AccountSID: s.SMSAccountSID, AuthToken: s.SMSAuthToken, From: s.SMSFrom})
	if err != nil {
		return nil, nil, fmt.Errorf("notifications: %w", err)
	}
	return mailer, p, nil
}
