// Package notification is the notifications domain: what is sent to whom
// when orders and users change (Service, fed by the order and user events),
// the per-user preferences, the delivery log, and the Worker that sends the
// log's pending entries by email and SMS. It imports no gqlgen, MongoDB or
// HTTP: the store, the mailer and the SMS provider are interfaces.
//
// A notification's ID derives from the ID of the message that caused it and
// its channel, and the store keeps IDs unique, so a redelivered message
// creates nothing twice: the effects are idempotent by construction, with no
// inbox. A failed notification is retried with exponential backoff, up to a
// bound, and then marked FAILED and logged; it never affects the order.
package notification

import (
	"regexp"
	"strings"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// Kind is what a notification is about.
type Kind string

// Kinds.
const (
	KindWelcome        Kind = "WELCOME"
	KindOrderConfirmed Kind = "ORDER_CONFIRMED"
	KindOrderCancelled Kind = "ORDER_CANCELLED"
	KindOrderRejected  Kind = "ORDER_REJECTED"
	KindOrderShipped   Kind = "ORDER_SHIPPED"
	KindOrderDelivered Kind = "ORDER_DELIVERED"
)

// Kinds lists every kind.
var Kinds = []Kind{KindWelcome, KindOrderConfirmed, KindOrderCancelled, KindOrderRejected, KindOrderShipped, KindOrderDelivered}

// Channel is how a notification travels.
type Channel string

// Channels.
const (
	ChannelEmail Channel = "EMAIL"
	ChannelSMS   Channel = "SMS"
)

// Status is where a notification's delivery stands.
type Status string

// Statuses.
const (
	// StatusPending: not delivered yet; the worker sends it when it is due.
	StatusPending Status = "PENDING"
	// StatusSent: the mail server or SMS provider accepted it.
	StatusSent Status = "SENT"
	// StatusLogged: no delivery is configured for its channel (no SMTP
	// server, the SMS sandbox), so it was written to the log instead.
	StatusLogged Status = "LOGGED"
	// StatusFailed: every attempt failed, or the recipient was refused.
	StatusFailed Status = "FAILED"
)

// Notification is one message to one recipient on one channel, and the log
// of its delivery.
type Notification struct {
	// ID is SourceID(messageID, channel).
	ID string
	// UserID is the users service's local key of the recipient.
	UserID  string
	Kind    Kind
	Channel Channel
	// Recipient is an email address or an E.164 phone number.
	Recipient string
	// RecipientName is the recipient's name, if known (for the email's To).
	RecipientName string
	// Subject is the email's subject; empty for SMS.
	Subject string
	// Body is the plain-text message.
	Body string
	// HTML is the email's HTML part; empty for SMS.
	HTML string
	// OrderID is the local key of the order it is about, if any.
	OrderID  string
	Status   Status
	Attempts int
	// LastError describes the last failed attempt, for people; "" if none.
	LastError string
	CreatedAt time.Time
	// SentAt is when it was sent or logged; zero until then.
	SentAt time.Time
	// DueAt is when the worker may (next) try to send it. While a worker
	// holds it (its lease), DueAt is when the lease ends.
	DueAt time.Time
	// Claim identifies the worker's lease; "" when no worker holds it.
	Claim string
}

// SourceID is the ID of the notification on channel caused by the message
// with messageID: the same message always gives the same ID.
func SourceID(messageID string, ch Channel) string {
	return messageID + ":" + strings.ToLower(string(ch))
}

// Recipient is what the service knows about a user from the events: the
// email address and name to write to.
type Recipient struct {
	UserID string
	Email  string
	Name   string
}

// Preferences are a user's choices of channels.
type Preferences struct {
	// EmailEnabled: send email notifications (the default).
	EmailEnabled bool
	// SMSEnabled: send SMS notifications to Phone (off by default).
	SMSEnabled bool
	// Phone is an E.164 number, such as +14155550123; "" if none.
	Phone string
	// UpdatedAt is when the user last changed them; zero for the defaults.
	UpdatedAt time.Time
}

// DefaultPreferences are a user's preferences until they change them.
func DefaultPreferences() Preferences {
	return Preferences{EmailEnabled: true}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// NormalizePhone returns phone in E.164 form: spaces, hyphens, dots and
// parentheses, which people write for readability, are removed; what is
// left must be a + and 7 to 15 digits, the first not 0.
// Returns INVALID_INPUT (field "phone") otherwise.
func NormalizePhone(phone string) (string, error) {
	p := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')', '\t':
			return -1
		}
		return r
	}, phone)
	if !e164.MatchString(p) {
		return "", apperr.Invalid("phone", "%q is not a phone number in international (E.164) form, such as +14155550123", phone)
	}
	return p, nil
}
