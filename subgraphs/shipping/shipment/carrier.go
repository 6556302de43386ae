package shipment

import (
	"context"
	"errors"
	"fmt"
)

// Carrier is a parcel carrier (a shipping API such as EasyPost or a
// carrier's own). It labels parcels and voids labels; how a parcel then
// moves is told by the carrier's tracking, which the service records as
// tracking events (for the sandbox carrier, on a schedule: see Config.Step).
//
// Errors: a *RefusedError when the carrier will not carry the parcel
// (final; asking again gives the same answer); anything else may go away
// when the call is made again.
type Carrier interface {
	// Name is the carrier's name, shown on shipments, e.g. "sandbox".
	Name() string
	// CreateLabel registers the parcel and returns its tracking number. The
	// carrier is idempotent per r.Key: asked again with the same key it
	// returns the same tracking number and charges one label.
	CreateLabel(ctx context.Context, r LabelRequest) (string, error)
	// Cancel voids the label with the tracking number. Voiding a voided
	// label again succeeds.
	Cancel(ctx context.Context, trackingNumber string) error
}

// LabelRequest asks a carrier for a label.
type LabelRequest struct {
	// Key makes retries safe: one key, one label. It is the shipment's ID.
	Key     string
	Method  string
	Address Address
	Lines   []Line
}

// RefusedError is a carrier's refusal to carry a parcel, such as to an
// address it does not serve.
type RefusedError struct {
	// Reason is meant for people, e.g. "the carrier does not deliver to 00000".
	Reason string
}

// Error implements error.
func (e *RefusedError) Error() string { return fmt.Sprintf("carrier refused: %s", e.Reason) }

// AsRefused returns the *RefusedError in err's chain.
func AsRefused(err error) (*RefusedError, bool) {
	var r *RefusedError
	ok := errors.As(err, &r)
	return r, ok
}
