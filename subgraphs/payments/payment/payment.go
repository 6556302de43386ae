// Package payment is the payments service's domain: an event-sourced Payment
// (a stream of events folded by Apply, commands that decide new events from
// the current state), the card-provider interface, the service that answers
// the checkout saga's commands and the admin's refunds, and who may see what.
// It declares the store it needs; it imports no gqlgen, pgx, Redis or
// net/http.
package payment

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/money"
)

// Status is where a payment stands. It is derived from the payment's events.
type Status string

// Payment statuses.
const (
	// StatusPending means the authorization was requested and its outcome is not
	// yet recorded (the provider is being asked).
	StatusPending Status = "PENDING"
	// StatusRequiresAction means the customer must act (3-D Secure) before
	// the provider decides; the outcome arrives through its webhook.
	StatusRequiresAction Status = "REQUIRES_ACTION"
	// StatusAuthorized means the provider holds the amount on the card.
	StatusAuthorized Status = "AUTHORIZED"
	// StatusCaptured means the held amount was collected.
	StatusCaptured Status = "CAPTURED"
	// StatusPartiallyRefunded means part of the captured amount was given back.
	StatusPartiallyRefunded Status = "PARTIALLY_REFUNDED"
	// StatusRefunded means all of the captured amount was given back.
	StatusRefunded Status = "REFUNDED"
	// StatusVoided means the hold was released without collecting anything.
	StatusVoided Status = "VOIDED"
	// StatusDeclined means the provider refused the card.
	StatusDeclined Status = "DECLINED"
	// StatusFailed means the provider could not be reached or kept failing.
	StatusFailed Status = "FAILED"
)

// Decided reports whether the authorization's outcome is recorded.
func (s Status) Decided() bool { return s != StatusPending && s != StatusRequiresAction && s != "" }

// Payment is one payment of an order: the state folded from its events.
type Payment struct {
	// ID is a UUID: the local key of the payment's global ID.
	ID string
	// OrderID is the orders service's local key of the order.
	OrderID string
	// CustomerID is the users service's local key of the customer who pays;
	// only they (and admins) may see the payment.
	CustomerID string
	// IdempotencyKey is the order's idempotency key: one payment per
	// customer and key.
	IdempotencyKey string
	// Provider names the card provider, such as "sandbox".
	Provider string
	// Reference is the provider's reference of the authorization, once
	// authorized.
	Reference string
	// ClientSecret lets the customer's browser complete the action the
	// provider asks for; set while REQUIRES_ACTION.
	ClientSecret string
	// Disputed is set once the customer disputed the charge with their bank.
	Disputed bool

	Amount   money.Money
	Captured money.Money
	Refunded money.Money
	Status   Status

	DeclineCode   string
	DeclineReason string
	FailureReason string

	// Refunds in the order they were made.
	Refunds []Refund

	// Version is the number of events folded: the stream's version.
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Refund is money given back from a captured payment.
type Refund struct {
	// ID is a UUID: the local key of the refund's global ID.
	ID        string
	PaymentID string
	Amount    money.Money
	Reason    string
	CreatedAt time.Time
}

// Remaining is what may still be refunded: captured minus refunded.
func (p *Payment) Remaining() money.Money {
	return money.Money{Amount: p.Captured.Amount - p.Refunded.Amount, Currency: p.Amount.Currency}
}

// Apply folds one event into p. Events are facts: Apply never refuses one.
func (p *Payment) Apply(e Event) {
	p.Version = e.Version
	p.UpdatedAt = e.At
	switch d := e.Data.(type) {
	case Requested:
		p.ID = e.PaymentID
		p.OrderID = d.OrderID
		p.CustomerID = d.CustomerID
		p.IdempotencyKey = d.IdempotencyKey
		p.Provider = d.Provider
		p.Amount = d.Amount
		p.Captured = money.Money{Currency: d.Amount.Currency}
		p.Refunded = money.Money{Currency: d.Amount.Currency}
		p.Status = StatusPending
		p.CreatedAt = e.At
	case ActionRequired:
		p.Reference = d.Reference
		p.ClientSecret = d.ClientSecret
		p.Status = StatusRequiresAction
	case Authorized:
		p.Reference = d.Reference
		p.ClientSecret = ""
		p.Status = StatusAuthorized
	case Disputed:
		p.Disputed = true
	case Declined:
		p.ClientSecret = ""
		p.DeclineCode = d.Code
		p.DeclineReason = d.Reason
		p.Status = StatusDeclined
	case Failed:
		p.FailureReason = d.Reason
		p.Status = StatusFailed
	case Captured:
		p.Captured = d.Amount
		p.Status = StatusCaptured
	case Voided:
		p.ClientSecret = ""
		p.Status = StatusVoided
	case Refunded:
		p.Refunded.Amount += d.Amount.Amount
		p.Refunds = append(p.Refunds, Refund{ID: d.RefundID, PaymentID: p.ID, Amount: d.Amount, Reason: d.Reason, CreatedAt: e.At})
		if p.Refunded.Amount >= p.Captured.Amount {
			p.Status = StatusRefunded
		} else {
			p.Status = StatusPartiallyRefunded
		}
	}
}

// Fold returns the payment the events describe, or nil for no events.
func Fold(events []Event) *Payment {
	if len(events) == 0 {
		return nil
	}
	p := &Payment{}
	for _, e := range events {
		p.Apply(e)
	}
	return p
}

// With returns a copy of p with events applied; p is left as it is.
func (p *Payment) With(events ...Event) *Payment {
	next := &Payment{}
	if p != nil {
		*next = *p
		next.Refunds = append([]Refund(nil), p.Refunds...)
	}
	for _, e := range events {
		next.Apply(e)
	}
	return next
}

// event returns the next event of p's stream.
func (p *Payment) event(at time.Time, d EventData) Event {
	return Event{PaymentID: p.ID, Version: p.Version + 1, At: at, Data: d}
}

// RequestInput is what a new payment is requested with.
type RequestInput struct {
	OrderID        string
	CustomerID     string
	Amount         money.Money
	IdempotencyKey string
	Provider       string
}

// Validate checks a request. Returns INVALID_INPUT naming the field at fault.
func (in RequestInput) Validate() error {
	switch {
	case strings.TrimSpace(in.OrderID) == "":
		return apperr.Invalid("orderId", "order ID is required")
	case strings.TrimSpace(in.CustomerID) == "":
		return apperr.Invalid("customerId", "customer ID is required")
	case strings.TrimSpace(in.IdempotencyKey) == "":
		return apperr.Invalid("idempotencyKey", "idempotency key is required")
	case len(in.IdempotencyKey) > 255:
		return apperr.Invalid("idempotencyKey", "idempotency key is longer than 255 characters")
	}
	if err := in.Amount.Validate("amount"); err != nil {
		return err
	}
	if in.Amount.Amount == 0 {
		return apperr.Invalid("amount", "amount must be positive")
	}
	return nil
}

// Request returns the first event of a new payment stream with id.
// Returns INVALID_INPUT if in is not acceptable.
func Request(id string, in RequestInput, at time.Time) ([]Event, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return []Event{{PaymentID: id, Version: 1, At: at, Data: Requested{
		OrderID: in.OrderID, CustomerID: in.CustomerID, Amount: in.Amount,
		IdempotencyKey: in.IdempotencyKey, Provider: in.Provider,
	}}}, nil
}

func (p *Payment) illegal(action string) error {
	return apperr.Errorf(apperr.Conflict, "cannot %s a payment that is %s", action, p.Status)
}

// RequireAction records that the provider waits for the customer (3-D
// Secure) on the authorization ref, which clientSecret lets them complete.
// Returns CONFLICT unless the payment is PENDING.
func (p *Payment) RequireAction(ref, clientSecret string, at time.Time) ([]Event, error) {
	if p.Status != StatusPending {
		return nil, p.illegal("wait for the customer on")
	}
	return []Event{p.event(at, ActionRequired{Reference: ref, ClientSecret: clientSecret})}, nil
}

// Authorize records the provider's authorization with reference ref.
// Returns CONFLICT unless the payment is PENDING or REQUIRES_ACTION.
func (p *Payment) Authorize(ref string, at time.Time) ([]Event, error) {
	if p.Status != StatusPending && p.Status != StatusRequiresAction {
		return nil, p.illegal("authorize")
	}
	return []Event{p.event(at, Authorized{Reference: ref})}, nil
}

// Decline records the provider's refusal.
// Returns CONFLICT unless the payment is PENDING or REQUIRES_ACTION.
func (p *Payment) Decline(code, reason string, at time.Time) ([]Event, error) {
	if p.Status != StatusPending && p.Status != StatusRequiresAction {
		return nil, p.illegal("decline")
	}
	return []Event{p.event(at, Declined{Code: code, Reason: reason})}, nil
}

// Fail records that the authorization could not be obtained.
// Returns CONFLICT unless the payment is PENDING.
func (p *Payment) Fail(reason string, at time.Time) ([]Event, error) {
	if p.Status != StatusPending {
		return nil, p.illegal("fail")
	}
	return []Event{p.event(at, Failed{Reason: reason})}, nil
}

// Capture collects the authorized amount. Capturing a captured payment
// decides nothing new (no events, no error).
// Returns CONFLICT unless the payment is AUTHORIZED or CAPTURED.
func (p *Payment) Capture(at time.Time) ([]Event, error) {
	switch p.Status {
	case StatusCaptured:
		return nil, nil
	case StatusAuthorized:
		return []Event{p.event(at, Captured{Amount: p.Amount})}, nil
	}
	return nil, p.illegal("capture")
}

// Void releases the authorization. Voiding a voided payment decides nothing
// new (no events, no error).
// Returns CONFLICT unless the payment is AUTHORIZED, REQUIRES_ACTION (the
// customer never completed it) or VOIDED.
func (p *Payment) Void(reason string, at time.Time) ([]Event, error) {
	switch p.Status {
	case StatusVoided:
		return nil, nil
	case StatusAuthorized, StatusRequiresAction:
		return []Event{p.event(at, Voided{Reason: reason})}, nil
	}
	return nil, p.illegal("void")
}

// MaxReasonLength is the longest refund reason accepted, in characters.
const MaxReasonLength = 500

// RefundAmount returns what a refund of amount (nil: all that is left) with
// reason would give back, and the cleaned reason.
// Returns CONFLICT unless the payment is CAPTURED or PARTIALLY_REFUNDED, and
// INVALID_INPUT if the amount is not positive, is in another currency, or is
// more than what is left, or if the reason is empty or too long.
func (p *Payment) RefundAmount(amount *money.Money, reason string) (money.Money, string, error) {
	if p.Status != StatusCaptured && p.Status != StatusPartiallyRefunded {
		return money.Money{}, "", apperr.Errorf(apperr.Conflict, "only a captured payment can be refunded; this one is %s", p.Status)
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return money.Money{}, "", apperr.Invalid("reason", "a reason is required")
	}
	if utf8.RuneCountInString(reason) > MaxReasonLength {
		return money.Money{}, "", apperr.Invalid("reason", "reason is longer than %d characters", MaxReasonLength)
	}
	left := p.Remaining()
	if amount == nil {
		return left, reason, nil
	}
	if err := amount.Validate("amount"); err != nil {
		return money.Money{}, "", err
	}
	if amount.Currency != p.Amount.Currency {
		return money.Money{}, "", apperr.Invalid("amount", "the payment is in %s, not %s", p.Amount.Currency, amount.Currency)
	}
	if amount.Amount == 0 {
		return money.Money{}, "", apperr.Invalid("amount", "amount must be positive")
	}
	if amount.Amount > left.Amount {
		return money.Money{}, "", apperr.Invalid("amount", "%s is more than the %s left to refund", amount, left)
	}
	return *amount, reason, nil
}

// Refund gives back amount (nil: all that is left) with reason, as refund
// refundID.
// Returns what RefundAmount returns.
func (p *Payment) Refund(refundID string, amount *money.Money, reason string, at time.Time) ([]Event, error) {
	amt, reason, err := p.RefundAmount(amount, reason)
	if err != nil {
		return nil, err
	}
	return []Event{p.event(at, Refunded{RefundID: refundID, Amount: amt, Reason: reason})}, nil
}

// Dispute records that the customer disputed amount of the charge with
// their bank, for reason. A disputed payment is not disputed again (no
// events). Returns CONFLICT if nothing was authorized.
func (p *Payment) Dispute(amount money.Money, reason string, at time.Time) ([]Event, error) {
	if p.Disputed {
		return nil, nil
	}
	if p.Reference == "" || p.Status == StatusDeclined || p.Status == StatusFailed {
		return nil, p.illegal("dispute")
	}
	return []Event{p.event(at, Disputed{Amount: amount, Reason: reason})}, nil
}

// RefundedAtProvider records a refund made at the provider (its dashboard,
// or this service's own refund reported back): refunded is what the
// provider says was refunded in all. Only what this payment does not know
// of yet is recorded, as refund refundID, so the same report changes
// nothing twice. Returns CONFLICT unless the payment was captured.
func (p *Payment) RefundedAtProvider(refundID string, refunded money.Money, at time.Time) ([]Event, error) {
	if p.Status != StatusCaptured && p.Status != StatusPartiallyRefunded && p.Status != StatusRefunded {
		return nil, apperr.Errorf(apperr.Conflict, "only a captured payment can be refunded; this one is %s", p.Status)
	}
	if refunded.Currency != p.Amount.Currency {
		return nil, apperr.Invalid("amount", "the payment is in %s, not %s", p.Amount.Currency, refunded.Currency)
	}
	more := min(refunded.Amount, p.Captured.Amount) - p.Refunded.Amount
	if more <= 0 {
		return nil, nil
	}
	return []Event{p.event(at, Refunded{RefundID: refundID, Amount: money.Money{Amount: more, Currency: refunded.Currency}, Reason: "refunded at the payment provider"})}, nil
}
