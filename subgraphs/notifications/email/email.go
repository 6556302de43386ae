// Package email sends the notifications service's email over SMTP: one
// connection per message, STARTTLS as configured, PLAIN authentication, and
// a multipart/alternative message with a plain-text and an HTML part.
//
// It uses net/smtp, whose client can ask for STARTTLS after EHLO when the
// server offers it, which opportunistic mode needs (go-smtp's client cannot:
// it would take a second connection), and whose PLAIN authentication
// refuses to send credentials over an unencrypted connection to anything
// but localhost.
package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/shopgraph/shopgraph/subgraphs/notifications/notification"
)

// StartTLS says whether a connection is upgraded to TLS with STARTTLS.
type StartTLS string

// STARTTLS modes.
const (
	// StartTLSRequired: upgrade, and send nothing if the server does not
	// offer STARTTLS.
	StartTLSRequired StartTLS = "required"
	// StartTLSOpportunistic: upgrade if the server offers STARTTLS.
	StartTLSOpportunistic StartTLS = "opportunistic"
	// StartTLSOff: never upgrade (a local relay or test server).
	StartTLSOff StartTLS = "off"
)

// Defaults.
const (
	DefaultPort = 587
	DefaultFrom = "Shopgraph <no-reply@shopgraph.local>"
)

// Config configures an SMTP mailer. Host is required.
type Config struct {
	Host string
	// Port defaults to DefaultPort (submission).
	Port int
	// Username and Password, if Username is set, authenticate with PLAIN.
	Username string
	Password string
	// From is the sender, an address with an optional name (DefaultFrom).
	From string
	// StartTLS defaults to StartTLSOpportunistic.
	StartTLS StartTLS
	// TLSConfig is used for STARTTLS; nil verifies the server's certificate
	// for Host against the system's roots.
	TLSConfig *tls.Config
	// LocalName is the name this client gives in EHLO ("localhost").
	LocalName string
	// Now stamps the Date header; nil means time.Now.
	Now func() time.Time
}

// SMTP is a notification.Mailer that sends through an SMTP server.
type SMTP struct {
	c    Config
	from *mail.Address
	addr string
}

var _ notification.Mailer = (*SMTP)(nil)

// New returns a mailer for c, or an error that names the setting at fault.
func New(c Config) (*SMTP, error) {
	if c.Host == "" {
		return nil, errors.New("email: no SMTP host")
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.Port < 1 || c.Port > 65535 {
		return nil, fmt.Errorf("email: SMTP port %d is not a port", c.Port)
	}
	if c.From == "" {
		c.From = DefaultFrom
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return nil, fmt.Errorf("email: from address %q: %w", c.From, err)
	}
	if c.StartTLS == "" {
		c.StartTLS = StartTLSOpportunistic
	}
	if err := c.StartTLS.Validate(); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	if c.Username != "" && c.StartTLS == StartTLSOff && !isLocalhost(c.Host) {
		return nil, fmt.Errorf("email: STARTTLS is off, so the SMTP password would cross the network to %s in the clear; use required or opportunistic", c.Host)
	}
	if c.LocalName == "" {
		c.LocalName = "localhost"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &SMTP{c: c, from: from, addr: net.JoinHostPort(c.Host, strconv.Itoa(c.Port))}, nil
}

// Validate reports whether m is one of the modes.
func (m StartTLS) Validate() error {
	switch m {
	case StartTLSRequired, StartTLSOpportunistic, StartTLSOff:
		return nil
	}
	return fmt.Errorf("STARTTLS mode %q is not required, opportunistic or off", string(m))
}

func isLocalhost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SendEmail implements notification.Mailer. Refusals of the sender, the
// recipient or the message (5xx replies) are permanent; everything else
// (the server is unreachable, busy, refuses TLS or the credentials) is
// worth retrying, since it is not about this message.
func (m *SMTP) SendEmail(ctx context.Context, e notification.Email) (notification.Status, error) {
	msg, err := m.compose(e)
	if err != nil {
		return "", notification.Rejected("the email could not be composed", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return "", notification.Transient("the mail server is unreachable", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, m.c.Host)
	if err != nil {
		return "", classify("connection", err)
	}
	defer c.Close()
	if err := c.Hello(m.c.LocalName); err != nil {
		return "", classify("greeting", err)
	}
	if m.c.StartTLS != StartTLSOff {
		if ok, _ := c.Extension("STARTTLS"); ok {
			cfg := m.c.TLSConfig
			if cfg == nil {
				cfg = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			if cfg.ServerName == "" {
				cfg = cfg.Clone()
				cfg.ServerName = m.c.Host
			}
			if err := c.StartTLS(cfg); err != nil {
				return "", notification.Transient("TLS with the mail server failed", err)
			}
		} else if m.c.StartTLS == StartTLSRequired {
			return "", notification.Transient("the mail server does not offer STARTTLS, which is required", nil)
		}
	}
	if m.c.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return "", notification.Transient("the mail server does not offer authentication", nil)
		}
		if err := c.Auth(smtp.PlainAuth("", m.c.Username, m.c.Password, m.c.Host)); err != nil {
			return "", notification.Transient("the mail server refused the credentials", err)
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return "", classify("sender", err)
	}
	if err := c.Rcpt(e.To); err != nil {
		return "", classify("recipient", err)
	}
	w, err := c.Data()
	if err != nil {
		return "", classify("message", err)
	}
	if _, err := w.Write(msg); err != nil {
		return "", classify("message", err)
	}
	if err := w.Close(); err != nil {
		return "", classify("message", err)
	}
	// The message is accepted; a failed QUIT changes nothing.
	_ = c.Quit()
	return notification.StatusSent, nil
}

// classify describes a failure at stage: a 5xx reply is permanent, a 4xx
// one or a broken connection is not.
func classify(stage string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		if te.Code >= 500 {
			return notification.Rejected(fmt.Sprintf("the mail server refused the %s: %d %s", stage, te.Code, te.Msg), err)
		}
		return notification.Transient(fmt.Sprintf("the mail server deferred the %s: %d %s", stage, te.Code, te.Msg), err)
	}
	return notification.Transient("the connection to the mail server failed", err)
}

// compose returns the message: headers and a multipart/alternative body
// with the text and HTML parts, quoted-printable.
func (m *SMTP) compose(e notification.Email) ([]byte, error) {
	to, err := mail.ParseAddress(e.To)
	if err != nil {
		return nil, fmt.Errorf("recipient %q: %w", e.To, err)
	}
	to.Name = oneLine(e.ToName)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct{ typ, content string }{
		{"text/plain; charset=utf-8", e.Text},
		{"text/html; charset=utf-8", e.HTML},
	} {
		if part.content == "" {
			continue
		}
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(part.content)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", m.from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(e.Subject)))
	header("Date", m.c.Now().Format(time.RFC1123Z))
	header("Message-ID", m.messageID(e.ID))
	header("MIME-Version", "1.0")
	header("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	b.Write(body.Bytes())
	return b.Bytes(), nil
}

// messageID derives the Message-ID from the notification's ID, so that an
// email sent twice (a worker died after sending, before recording it) is
// recognisably the same message.
func (m *SMTP) messageID(id string) string {
	_, domain, _ := strings.Cut(m.from.Address, "@")
	left := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '.'
	}, id)
	return "<" + left + "@" + domain + ">"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
