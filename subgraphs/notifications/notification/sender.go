package notification

import (
	"context"
	"errors"
)

// Email is one email to send.
type Email struct {
	// ID is the notification's ID; a mailer derives the Message-ID from it,
	// so that a resent email can be recognised as the same one.
	ID      string
	To      string
	ToName  string
	Subject string
	Text    string
	HTML    string
}

// TextMessage is one SMS to send.
type TextMessage struct {
	// ID is the notification's ID.
	ID string
	// To is an E.164 phone number.
	To   string
	Body string
}

// Mailer sends email.
type Mailer interface {
	// SendEmail delivers e, and returns StatusSent, or StatusLogged if it
	// only logged it. A failure is retried unless it is a *SendError with
	// Permanent set.
	SendEmail(ctx context.Context, e Email) (Status, error)
}

// SMSProvider sends text messages.
type SMSProvider interface {
	// SendSMS delivers m, and returns StatusSent, or StatusLogged if it only
	// logged it (a sandbox). A failure is retried unless it is a *SendError
	// with Permanent set.
	SendSMS(ctx context.Context, m TextMessage) (Status, error)
}

// SendError is a failed delivery, described for people.
type SendError struct {
	// Reason is what the customer and the operator see (Notification's
	// lastError): no internal addresses or credentials.
	Reason string
	// Permanent: trying again cannot help (the recipient was refused).
	Permanent bool
	// Err is the cause, for the log.
	Err error
}

func (e *SendError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *SendError) Unwrap() error { return e.Err }

// Transient returns a *SendError that is worth retrying.
func Transient(reason string, err error) *SendError {
	return &SendError{Reason: reason, Err: err}
}

// Rejected returns a *SendError that retrying cannot fix.
func Rejected(reason string, err error) *SendError {
	return &SendError{Reason: reason, Permanent: true, Err: err}
}

// describe returns what to record of err, and whether it is permanent.
func describe(err error) (reason string, permanent bool) {
	var se *SendError
	if errors.As(err, &se) {
		return se.Reason, se.Permanent
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "delivery timed out", false
	}
	return "delivery failed", false
}
