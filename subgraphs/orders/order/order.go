// Package order is the orders domain: an order is a stream of events (the
// source of truth) folded into its current state, and the checkout saga that
// orders orchestrates lives here as decisions on that state — what to record
// and which commands to send when a reply arrives, a deadline passes or the
// customer cancels. It imports no database, Redis or GraphQL code: the store
// and the catalog, cart and shipping-rate sources are interfaces.
package order

import (
	"context"
	"fmt"
	"time"

	"github.com/shopgraph/shopgraph/internal/money"
)

// Status is where an order stands.
type Status string

// Order statuses.
const (
	StatusPending         Status = "PENDING"
	StatusAwaitingPayment Status = "AWAITING_PAYMENT"
	StatusConfirmed       Status = "CONFIRMED"
	StatusShipped         Status = "SHIPPED"
	StatusDelivered       Status = "DELIVERED"
	StatusRejected        Status = "REJECTED"
	StatusCancelled       Status = "CANCELLED"
	StatusRefunded        Status = "REFUNDED"
)

// Final reports whether s ends an order's journey: DELIVERED, REJECTED,
// CANCELLED or REFUNDED. A subscription to one order completes after it
// delivers a final status. (A refund may still follow DELIVERED or
// CANCELLED; a client that cares subscribes again or reads the order.)
func (s Status) Final() bool {
	return s == StatusDelivered || s == StatusRejected || s == StatusCancelled || s == StatusRefunded
}

// Cancellable reports whether an order in status s may still be cancelled.
func (s Status) Cancellable() bool {
	return s == StatusPending || s == StatusAwaitingPayment || s == StatusConfirmed
}

// Line is a quantity of one SKU at the price it was ordered at.
type Line struct {
	SKU         string      `json:"sku"`
	ProductID   string      `json:"productId,omitempty"`
	ProductName string      `json:"productName"`
	VariantName string      `json:"variantName"`
	Quantity    int         `json:"quantity"`
	UnitPrice   money.Money `json:"unitPrice"`
}

// Total is the line's unit price times its quantity.
func (l Line) Total() money.Money { return l.UnitPrice.Times(int64(l.Quantity)) }

// Address is a postal address an order ships to.
type Address struct {
	Recipient  string `json:"recipient"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
	Phone      string `json:"phone,omitempty"`
}

// ShippingMethod is a way to ship an order, priced in one currency.
type ShippingMethod struct {
	Code  string
	Name  string
	Price money.Money
}

// Progress records how far each participant of the saga has got with an
// order, as the order's events tell.
type Progress struct {
	// Stock is the last outcome inventory reported: "" (nothing yet),
	// RESERVED, COMMITTED, RELEASED, EXPIRED, REJECTED or COMMIT_FAILED.
	Stock string
	// PaymentRequested: AuthorizePayment was sent.
	PaymentRequested bool
	// CommitRequested: CommitStock was sent.
	CommitRequested bool
	// ShipmentRequested: CreateShipment was sent.
	ShipmentRequested bool
	// Payment is the last outcome payments reported: "", AUTHORIZED,
	// DECLINED, FAILED, CAPTURED or VOIDED.
	Payment   string
	PaymentID string
	// Shipment is the last outcome shipping reported: "", CREATED,
	// SHIPPED, DELIVERED or CANCELLED.
	Shipment       string
	ShipmentID     string
	TrackingNumber string
	Carrier        string
	// Refunded is the money given back so far.
	Refunded money.Money
}

// Outcomes in Progress.
const (
	Reserved     = "RESERVED"
	Committed    = "COMMITTED"
	Released     = "RELEASED"
	Expired      = "EXPIRED"
	Rejected     = "REJECTED"
	CommitFailed = "COMMIT_FAILED"
	Authorized   = "AUTHORIZED"
	Declined     = "DECLINED"
	Failed       = "FAILED"
	Captured     = "CAPTURED"
	Voided       = "VOIDED"
	Created      = "CREATED"
	Shipped      = "SHIPPED"
	Delivered    = "DELIVERED"
	Cancelled    = "CANCELLED"
)

// Step is what the saga waits for.
type Step string

// Saga steps. Before the pivot (the payment) a step that times out is
// compensated; after it, the step's command is sent again.
const (
	StepNone             Step = ""
	StepReserveStock     Step = "RESERVE_STOCK"
	StepAuthorizePayment Step = "AUTHORIZE_PAYMENT"
	StepCommitStock      Step = "COMMIT_STOCK"
	StepCreateShipment   Step = "CREATE_SHIPMENT"
	StepCapturePayment   Step = "CAPTURE_PAYMENT"
	// StepCompensate waits for the compensations of a cancelled order
	// (released stock, voided payment, cancelled shipment) to be confirmed.
	StepCompensate Step = "COMPENSATE"
)

// afterPivot reports whether a timed-out s is sent again rather than
// compensated.
func (s Step) afterPivot() bool {
	return s != StepNone && s != StepReserveStock && s != StepAuthorizePayment
}

// Saga is the persisted state of an order's saga, kept with the order.
type Saga struct {
	Step Step
	// Deadline is when Step times out; zero when Step is StepNone.
	Deadline time.Time
	// Attempts is how many times Step's command was sent again.
	Attempts int
	// PaymentToken is kept until AuthorizePayment is sent, then forgotten.
	PaymentToken string
	// Unsent reports that a command of the order is still in the outbox
	// (the relay or Redis is down): the step could not run yet. Only the
	// store's UpdateDue fills it.
	Unsent bool
}

// Order is an order: its placement, folded with every event since.
type Order struct {
	ID             string
	Number         int64
	CustomerID     string
	Email          string
	IdempotencyKey string
	Status         Status
	// StatusReason tells why the order is REJECTED or CANCELLED.
	StatusReason   string
	Lines          []Line
	Subtotal       money.Money
	ShippingCost   money.Money
	Total          money.Money
	Address        Address
	ShippingMethod ShippingMethod
	// Version is the number of events in the order's stream.
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time

	// Progress is folded from the events; only Load fills it (projections
	// read for display leave it zero).
	Progress Progress
	// Saga is only filled by Load and the store's Update.
	Saga Saga
}

// FormatNumber returns an order number for people, e.g. SG-000123.
func FormatNumber(n int64) string { return fmt.Sprintf("SG-%06d", n) }

// DisplayNumber is the order's number for people.
func (o *Order) DisplayNumber() string { return FormatNumber(o.Number) }

// Message is a command or event the saga sends, written to the outbox in
// the same transaction as the order's change. Its key is the order's ID.
type Message struct {
	// Stream is one of the internal/contract streams.
	Stream string
	// Type is one of the internal/contract message types.
	Type string
	// Payload is the contract payload, encoded as JSON.
	Payload any
}

// Change is what a decision about an order records: events appended to its
// stream, messages to the outbox, and the saga's new state.
type Change struct {
	// At is when the events happened.
	At       time.Time
	Events   []EventData
	Messages []Message
	// Saga, if not nil, replaces the order's saga state.
	Saga *Saga
}

// Empty reports whether c records nothing.
func (c Change) Empty() bool { return len(c.Events) == 0 && len(c.Messages) == 0 && c.Saga == nil }

// ListQuery asks for a page of orders, the newest first.
type ListQuery struct {
	// CustomerID, if set, keeps only that customer's orders.
	CustomerID string
	// Status, if set, keeps only orders with that status.
	Status Status
	// First is how many orders to return.
	First int
	// After, if not nil, is where the previous page ended: only older orders.
	After *Cursor
}

// Cursor is a position in the newest-first order of orders.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// Store keeps orders: each a stream of events, with a projection for
// queries and the saga's state, changed in one transaction together with the
// outbox.
type Store interface {
	// NextNumber returns a new order number.
	NextNumber(ctx context.Context) (int64, error)
	// Create records a new order: its first events, its projection and lines,
	// its saga state and msgs in the outbox, all in one transaction.
	// Returns CONFLICT if the customer already has an order with o's
	// idempotency key.
	Create(ctx context.Context, o *Order, evs []Event, saga Saga, msgs []Message) error
	// Append records ch on o: its events at versions o.Version+1, …, the
	// projection of the order after them, the saga state and the messages,
	// in one transaction, and returns the order after the change.
	// Returns CONFLICT if the order's stream is no longer at o.Version
	// (another change got there first).
	Append(ctx context.Context, o *Order, ch Change) (*Order, error)
	// Update loads the order with id (locked against concurrent changes),
	// calls fn with it and records the change fn returns (see Append), and
	// returns the order after it. fn's error is returned as is, and nothing
	// is recorded.
	// Returns NOT_FOUND if there is no such order.
	Update(ctx context.Context, id string, fn func(*Order) (Change, error)) (*Order, error)
	// UpdateDue is Update for one order whose saga deadline is at or before
	// now, skipping orders that another transaction holds. It reports
	// whether there was one.
	UpdateDue(ctx context.Context, now time.Time, fn func(*Order) (Change, error)) (bool, error)
	// Load returns the order with id folded from its events, with its saga
	// state.
	// Returns NOT_FOUND if there is none.
	Load(ctx context.Context, id string) (*Order, error)
	// LoadByIdempotencyKey returns the customer's order placed with key.
	// Returns NOT_FOUND if there is none.
	LoadByIdempotencyKey(ctx context.Context, customerID, key string) (*Order, error)
	// Orders returns the projections (without lines) of those orders with
	// ids that exist, by ID.
	Orders(ctx context.Context, ids []string) (map[string]*Order, error)
	// Lines returns the lines of the orders with ids, in order, by order ID.
	Lines(ctx context.Context, ids []string) (map[string][]Line, error)
	// Events returns the events of the orders with ids, oldest first, by
	// order ID.
	Events(ctx context.Context, ids []string) (map[string][]Event, error)
	// List returns up to q.First+1 projections (without lines) in q's
	// order, so that the caller can tell whether there are more.
	List(ctx context.Context, q ListQuery) ([]*Order, error)
}

// ShippingRates prices shipping.
type ShippingRates interface {
	// Methods returns the shipping methods for orders in currency, each
	// priced in it.
	// Returns UNAVAILABLE if the rates cannot be asked.
	Methods(ctx context.Context, currency string) ([]ShippingMethod, error)
}
