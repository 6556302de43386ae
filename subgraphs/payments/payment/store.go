package payment

import (
	"context"

	"github.com/shopgraph/shopgraph/internal/contract"
)

// Notice is an answer to the checkout saga: a payment event on
// contract.PaymentEvents, keyed by the order's ID. It is written to the
// outbox in the same transaction as the payment events that decided it.
type Notice struct {
	// Type is one of contract.TypePayment*, such as TypePaymentAuthorized.
	Type   string
	Result contract.PaymentResult
}

// Store keeps payment streams, their projection (the current state of every
// payment, which serves queries) and the outbox. IDs are UUIDs; the Service
// never passes a malformed one.
type Store interface {
	// Append appends events to the stream of p (nil for a new payment) at
	// versions p.Version+1, p.Version+2, …, saves the projection of the
	// payment after them and writes notices to the outbox, all in one
	// transaction: either all of it is saved or none of it.
	// Returns CONFLICT if the stream is no longer at p's version (another
	// append got there first: load the payment again and decide again), or,
	// for a new payment, if its customer already has a payment with its
	// idempotency key.
	Append(ctx context.Context, p *Payment, events []Event, notices ...Notice) error
	// Publish writes notices to the outbox on their own: answers that
	// repeat a recorded outcome.
	Publish(ctx context.Context, notices ...Notice) error

	// Load returns the payment with id folded from its events.
	// Returns NOT_FOUND if there is none.
	Load(ctx context.Context, id string) (*Payment, error)
	// LoadByIdempotencyKey returns the customer's payment with the
	// idempotency key, folded from its events.
	// Returns NOT_FOUND if there is none.
	LoadByIdempotencyKey(ctx context.Context, customerID, key string) (*Payment, error)
	// LoadByReference returns the payment whose provider reference (the
	// authorization's ID at the provider) is ref, folded from its events.
	// Returns NOT_FOUND if there is none.
	LoadByReference(ctx context.Context, ref string) (*Payment, error)
	// ProviderEventSeen reports whether the provider's event id was applied.
	ProviderEventSeen(ctx context.Context, id string) (bool, error)
	// MarkProviderEvent records that the provider's event id was applied.
	// Marking it again changes nothing.
	MarkProviderEvent(ctx context.Context, id string) error
	// LoadLatestForOrder returns the order's most recent payment, folded
	// from its events.
	// Returns NOT_FOUND if the order has none.
	LoadLatestForOrder(ctx context.Context, orderID string) (*Payment, error)

	// Payments returns the projections of those payments with ids that
	// exist, by ID, without their refunds (see Refunds).
	Payments(ctx context.Context, ids []string) (map[string]*Payment, error)
	// LatestPayments returns the projection of the most recent payment of
	// each order in orderIDs that has one, by order ID.
	LatestPayments(ctx context.Context, orderIDs []string) (map[string]*Payment, error)
	// Refunds returns the refunds of the payments with paymentIDs, oldest
	// first, by payment ID; payments without refunds are left out.
	Refunds(ctx context.Context, paymentIDs []string) (map[string][]Refund, error)
	// RefundsByIDs returns those refunds with ids that exist, by ID.
	RefundsByIDs(ctx context.Context, ids []string) (map[string]Refund, error)
	// Events returns the events of the payments with ids, in stream order,
	// by payment ID; unknown payments are left out.
	Events(ctx context.Context, ids []string) (map[string][]Event, error)
}
