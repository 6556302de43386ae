package payment

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopgraph/shopgraph/internal/money"
)

// Provider is a card payment provider (a PSP such as Stripe or Adyen).
//
// Errors: a *DeclineError when the provider refuses (final; asking again
// gives the same answer), an error that matches ErrTransient when asking
// again later may succeed (timeouts, 5xx, rate limits), anything else is
// final and unexpected.
type Provider interface {
	// Authorize holds req.Amount on the card that req.Token stands for. The
	// provider is idempotent per req.IdempotencyKey: the same key never
	// holds money twice, it returns the first result again.
	Authorize(ctx context.Context, req AuthorizeRequest) (AuthorizeResult, error)
	// Capture collects amount of the authorization ref. Capturing a
	// captured authorization again succeeds.
	Capture(ctx context.Context, ref string, amount money.Money) error
	// Void releases the authorization ref. Voiding it again succeeds.
	Void(ctx context.Context, ref string) error
	// Refund gives back amount of the captured authorization ref. It fails
	// (with a *DeclineError) if that is more than what is left. The
	// provider is idempotent per key: asking again with one key gives back
	// the money once.
	Refund(ctx context.Context, ref string, amount money.Money, key string) error
}

// AuthorizeRequest asks a provider to hold an amount on a card.
type AuthorizeRequest struct {
	// Token stands for the card, such as "tok_visa"; the client got it from
	// the provider.
	Token  string
	Amount money.Money
	// IdempotencyKey makes retries safe: one key, at most one hold.
	IdempotencyKey string
}

// AuthorizeResult is a successful authorization, or one whose outcome comes
// later.
type AuthorizeResult struct {
	// Reference is the provider's ID of the authorization.
	Reference string
	// ActionRequired is set when the customer must act (3-D Secure) before
	// the provider decides; the outcome arrives later, through the
	// provider's webhook. ClientSecret lets the customer's browser complete
	// that action.
	ActionRequired bool
	ClientSecret   string
}

// DeclineError is a provider's refusal.
type DeclineError struct {
	// Code is the provider's machine-readable code, e.g. "card_declined".
	Code string
	// Reason is meant for the customer, e.g. "Your card was declined.".
	Reason string
}

// Error implements error.
func (e *DeclineError) Error() string { return fmt.Sprintf("declined (%s): %s", e.Code, e.Reason) }

// ErrTransient is matched (errors.Is) by provider errors that may go away
// when the call is made again.
var ErrTransient = errors.New("transient provider error")

// AsDecline returns the *DeclineError in err's chain.
func AsDecline(err error) (*DeclineError, bool) {
	var d *DeclineError
	ok := errors.As(err, &d)
	return d, ok
}
