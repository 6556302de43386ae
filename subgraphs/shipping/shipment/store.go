package shipment

import (
	"context"
	"time"
)

// Store keeps shipping methods, shipments, their tracking events and the
// outbox of shipping events. Every method that changes a shipment saves its
// new tracking events and publishes its notices in the same transaction.
type Store interface {
	// Methods returns the active shipping methods priced in currency, in
	// display order; none if no method has a rate in it.
	Methods(ctx context.Context, currency string) ([]Method, error)
	// Currencies returns the currencies shipping is priced in, sorted.
	Currencies(ctx context.Context) ([]string, error)
	// MethodActive reports whether code names an active shipping method.
	MethodActive(ctx context.Context, code string) (bool, error)

	// Shipments returns the shipments with the given IDs that exist, with
	// their tracking events, in no particular order.
	Shipments(ctx context.Context, ids []string) ([]Shipment, error)
	// ShipmentsByOrders returns the shipments of the given orders, with
	// their tracking events, in no particular order.
	ShipmentsByOrders(ctx context.Context, orderIDs []string) ([]Shipment, error)

	// Open records s (PENDING, with its first tracking event) unless its
	// order already has a shipment or was cancelled before it had one. It
	// returns the order's shipment, and whether Open created it; or, for a
	// cancelled order, nil and the cancellation.
	Open(ctx context.Context, s Shipment) (sh *Shipment, created bool, c *Cancellation, err error)
	// Update locks shipment id, runs fn on it and, if fn returns nil, saves
	// it with the tracking events fn appended and publishes fn's notices, in
	// one transaction. It returns the saved shipment, or fn's error.
	// Returns NOT_FOUND if there is no such shipment.
	Update(ctx context.Context, id string, fn func(*Shipment) ([]Notice, error)) (*Shipment, error)
	// CancelOrder locks the shipment of c.OrderID and runs fn on it as
	// Update does; if the order has none, it records c, so that Open creates
	// none for the order later, and runs fn(nil), publishing its notices.
	CancelOrder(ctx context.Context, c Cancellation, fn func(*Shipment) ([]Notice, error)) (*Shipment, error)
	// StepDue runs fn, as Update does, on up to limit shipments that have a
	// label, are not final and last changed at or before due, oldest first,
	// each in its own transaction, and returns how many it stepped.
	// Shipments another transaction holds are skipped, so that several
	// replicas can step at once. An error from fn stops the run.
	StepDue(ctx context.Context, due time.Time, limit int, fn func(*Shipment) ([]Notice, error)) (int, error)
	// PendingLabels returns up to limit PENDING shipments whose label was
	// last asked for (or which were recorded) at or before before, the
	// oldest first.
	PendingLabels(ctx context.Context, before time.Time, limit int) ([]Shipment, error)
	// LabelAttempted records that the carrier failed to label shipment id
	// at at.
	LabelAttempted(ctx context.Context, id string, at time.Time) error
	// LabelsToVoid returns up to limit cancelled shipments whose label has
	// not been voided yet, the oldest first.
	LabelsToVoid(ctx context.Context, limit int) ([]Shipment, error)
	// LabelVoided records that the label of shipment id was voided at at.
	LabelVoided(ctx context.Context, id string, at time.Time) error
	// Publish publishes notices in a transaction of their own.
	Publish(ctx context.Context, notices ...Notice) error
}
