// Package stock is the inventory domain: the stock level of every SKU, the
// reservations that hold units for orders in checkout, and the ledger of
// every change. It declares the store and the catalog it needs; the rules
// that must hold under concurrency (stock never negative, never sold twice,
// all lines of an order or none) are enforced by the store's transactions.
package stock

import (
	"context"
	"time"

	"github.com/shopgraph/shopgraph/internal/contract"
)

// Item is the stock of one SKU.
type Item struct {
	SKU string
	// OnHand is the number of units in the warehouse, reserved ones included.
	OnHand int
	// Reserved is the number of units held for orders in checkout.
	Reserved int
	// UpdatedAt is when the stock last changed; zero for a SKU never stocked.
	UpdatedAt time.Time
}

// Available is the number of units that can still be sold.
func (i Item) Available() int { return i.OnHand - i.Reserved }

// Kind is what kind of change a ledger entry records.
type Kind string

// Kinds of stock change.
const (
	KindAdjustment  Kind = "ADJUSTMENT"
	KindReservation Kind = "RESERVATION"
	KindCommit      Kind = "COMMIT"
	KindRelease     Kind = "RELEASE"
	KindExpiry      Kind = "EXPIRY"
	KindRestock     Kind = "RESTOCK"
)

// Actors of changes that no administrator made.
const (
	// ActorCheckout made the changes asked for by the checkout saga.
	ActorCheckout = "checkout"
	// ActorExpiry released reservations that expired.
	ActorExpiry = "expiry"
)

// LedgerEntry is one change to a SKU's stock.
type LedgerEntry struct {
	// ID orders the entries of the ledger: a later entry has a greater ID.
	ID  int64
	SKU string
	// Delta is the change in OnHand for ADJUSTMENT, COMMIT and RESTOCK, and the
	// change in Reserved for RESERVATION, RELEASE and EXPIRY.
	Delta         int
	OnHandAfter   int
	ReservedAfter int
	Reason        string
	Kind          Kind
	// OrderID is the orders service's local ID of the order, if any.
	OrderID string
	// Actor is who made the change: an administrator's global user ID,
	// ActorCheckout or ActorExpiry.
	Actor string
	At    time.Time
}

// Status is where a reservation stands.
type Status string

// Reservation statuses.
const (
	StatusActive    Status = "ACTIVE"
	StatusCommitted Status = "COMMITTED"
	StatusReleased  Status = "RELEASED"
	StatusExpired   Status = "EXPIRED"
	StatusRejected  Status = "REJECTED"
)

// Line is a quantity of one SKU.
type Line struct {
	SKU      string
	Quantity int
}

// Shortage is a line that could not be reserved.
type Shortage struct {
	SKU       string
	Requested int
	Available int
}

// Reservation is the units held for one order. There is at most one per
// order: asking again for the same order answers with the recorded one.
type Reservation struct {
	// ID is the reservation's UUID.
	ID string
	// OrderID is the orders service's local ID of the order.
	OrderID string
	// Lines are the SKUs and quantities the order asked for, sorted by SKU.
	Lines  []Line
	Status Status
	// Shortages are the lines that were short, for a REJECTED reservation.
	Shortages []Shortage
	// Reason explains a rejection or a release.
	Reason    string
	ExpiresAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Event is an inventory event to publish on contract.InventoryEvents: the
// answer to a saga command, or the news that a reservation expired. Its key
// is the order ID.
type Event struct {
	// Type is one of contract's inventory event types.
	Type   string
	Result contract.StockResult
}

// Outcome is what a saga command did.
type Outcome struct {
	// Reservation is the order's reservation after the command.
	Reservation Reservation
	// Changed reports whether the command changed any stock or status; false
	// for a repeated command, which is answered from the recorded state.
	Changed bool
	// Events are the events the command published, in order; the last one
	// answers the command.
	Events []Event
}

// Answer is the event that answers a command.
func (o Outcome) Answer() Event {
	if len(o.Events) == 0 {
		return Event{}
	}
	return o.Events[len(o.Events)-1]
}

// ReserveRequest asks to reserve every line of an order, or none.
type ReserveRequest struct {
	OrderID string
	Lines   []Line
	// ExpiresAt is when the reservation lapses if not committed.
	ExpiresAt time.Time
	// Invalid, if set, is why the request cannot be honoured (a malformed
	// line, say): the store records a REJECTED reservation with this reason
	// and reserves nothing, so the saga still gets an answer.
	Invalid string
	// Now is the time of the change.
	Now time.Time
}

// CommitRequest asks to turn an order's reservation into an allocation.
type CommitRequest struct {
	OrderID string
	Now     time.Time
}

// ReleaseRequest asks to release an order's reservation.
type ReleaseRequest struct {
	OrderID string
	Reason  string
	// Restock returns the units of a COMMITTED reservation to on hand.
	Restock bool
	Now     time.Time
}

// Adjustment changes the units on hand of a SKU.
type Adjustment struct {
	SKU    string
	Delta  int
	Reason string
	// Actor is the global user ID of the administrator.
	Actor string
	Now   time.Time
}

// ItemQuery selects a page of stocked SKUs in SKU order.
type ItemQuery struct {
	// First is the page size.
	First int
	// After is the SKU after which the page starts; "" for the first page.
	After string
	// LowStockBelow, if set, keeps the items with fewer units available.
	LowStockBelow *int
}

// ItemPage is a page of stock items.
type ItemPage struct {
	Items   []Item
	HasNext bool
}

// LedgerQuery selects a page of SKUs' ledgers, the newest entry first.
type LedgerQuery struct {
	First int
	// After is the ID of the entry after which (older than which) the page
	// starts; 0 for the first page.
	After int64
}

// LedgerPage is a page of one SKU's ledger.
type LedgerPage struct {
	Entries []LedgerEntry
	HasNext bool
}

// Store keeps stock levels, reservations and the ledger. Every method that
// changes stock writes its ledger entries and its events (to the outbox) in
// the same transaction as the change.
type Store interface {
	// Items returns the stock of the SKUs that were ever stocked among skus,
	// in no particular order.
	Items(ctx context.Context, skus []string) ([]Item, error)
	// ListItems returns a page of stocked SKUs in SKU order.
	ListItems(ctx context.Context, q ItemQuery) (ItemPage, error)
	// Ledgers returns a page of the ledger of each SKU in skus (an empty page
	// for a SKU with no entries).
	Ledgers(ctx context.Context, skus []string, q LedgerQuery) (map[string]LedgerPage, error)
	// Adjust changes the units on hand of a SKU, creating its stock item if
	// needed, and records the change in the ledger.
	// Returns CONFLICT if the change would take on hand below zero or below
	// the units reserved.
	Adjust(ctx context.Context, a Adjustment) (Item, error)

	// Reservation returns the reservation of an order.
	// Returns NOT_FOUND if the order has none.
	Reservation(ctx context.Context, orderID string) (Reservation, error)
	// Reservations returns the reservations with the given IDs that exist,
	// in no particular order.
	Reservations(ctx context.Context, ids []string) ([]Reservation, error)

	// Reserve reserves every line of the request or none, in one transaction,
	// and publishes StockReserved or StockRejected (with the shortages). A
	// repeated request for an order that has a reservation changes nothing
	// and publishes the event of the reservation's recorded state.
	Reserve(ctx context.Context, r ReserveRequest) (Outcome, error)
	// Commit takes an ACTIVE reservation's units out of on hand and reserved,
	// marks it COMMITTED and publishes StockCommitted; committing a COMMITTED
	// one again changes nothing and publishes StockCommitted again. An ACTIVE
	// reservation past its expiry is expired first (ReservationExpired).
	// Committing one that is not ACTIVE or COMMITTED, or a missing one, changes
	// nothing and publishes StockRejected with the reason.
	Commit(ctx context.Context, r CommitRequest) (Outcome, error)
	// Release releases an ACTIVE reservation's units (RELEASED), or with
	// Restock returns a COMMITTED one's units to on hand (RELEASED), and
	// publishes StockReleased. Releasing an order without a reservation
	// records a RELEASED one with no lines, so that a late ReserveStock for
	// the order reserves nothing. A repeated release changes nothing and
	// publishes StockReleased again; releasing a COMMITTED reservation without
	// Restock changes nothing and publishes StockRejected.
	Release(ctx context.Context, r ReleaseRequest) (Outcome, error)
	// ExpireDue expires up to limit ACTIVE reservations whose expiry is at or
	// before now, releasing their units, and publishes ReservationExpired for
	// each. Reservations another transaction holds are skipped, so that
	// several replicas can sweep at once.
	ExpireDue(ctx context.Context, now time.Time, limit int) ([]Outcome, error)
}

// Catalog tells which SKUs exist in the product catalog.
type Catalog interface {
	// KnownSKUs reports, for each of skus, whether the catalog has a variant
	// with that SKU.
	// Returns UNAVAILABLE if the catalog cannot be asked.
	KnownSKUs(ctx context.Context, skus []string) (map[string]bool, error)
}
