// Package sandbox is a parcel carrier for development and tests. It issues
// tracking numbers (SBX followed by 16 letters and digits) without any
// network, and refuses parcels to the well-known test postal code
// PostalCodeUndeliverable ("00000"). Where a parcel then goes is simulated
// by the shipping service's schedule (see shipping.Config.StepInterval).
//
// Like a real carrier it is idempotent per label key: the tracking number is
// derived from the key, so asking again (even after a restart) returns the
// same number and issues no second label.
package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strings"
	"sync"

	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

// Name is the sandbox carrier's name on shipments.
const Name = "sandbox"

// PostalCodeUndeliverable is the postal code the sandbox refuses to deliver to.
const PostalCodeUndeliverable = "00000"

// ErrUnavailable is returned by every call while the sandbox is down (see
// SetDown).
var ErrUnavailable = errors.New("sandbox carrier unavailable")

// Sandbox is the in-memory test carrier. It is safe for concurrent use.
type Sandbox struct {
	mu     sync.Mutex
	down   bool
	calls  map[string]int  // label key → CreateLabel calls
	labels map[string]bool // tracking number → issued
	voided map[string]bool // tracking number → voided
}

var _ shipment.Carrier = (*Sandbox)(nil)

// New returns a sandbox carrier.
func New() *Sandbox {
	return &Sandbox{calls: map[string]int{}, labels: map[string]bool{}, voided: map[string]bool{}}
}

// Name implements shipment.Carrier.
func (*Sandbox) Name() string { return Name }

// TrackingNumber is the tracking number the sandbox issues for key.
func TrackingNumber(key string) string {
	sum := sha256.Sum256([]byte("shopgraph-sandbox-label:" + key))
	return "SBX" + base32.StdEncoding.EncodeToString(sum[:])[:16]
}

// CreateLabel implements shipment.Carrier.
func (s *Sandbox) CreateLabel(ctx context.Context, r shipment.LabelRequest) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return "", ErrUnavailable
	}
	if r.Key == "" {
		return "", errors.New("sandbox carrier: label key is required")
	}
	s.calls[r.Key]++
	if strings.TrimSpace(r.Address.PostalCode) == PostalCodeUndeliverable {
		return "", &shipment.RefusedError{Reason: "the carrier does not deliver to postal code " + PostalCodeUndeliverable}
	}
	tn := TrackingNumber(r.Key)
	s.labels[tn] = true
	return tn, nil
}

// Cancel implements shipment.Carrier. A tracking number from an earlier
// process (the sandbox forgets on restart) is voided as if it were known.
func (s *Sandbox) Cancel(ctx context.Context, trackingNumber string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return ErrUnavailable
	}
	if !strings.HasPrefix(trackingNumber, "SBX") {
		return errors.New("sandbox carrier: unknown tracking number " + trackingNumber)
	}
	s.voided[trackingNumber] = true
	return nil
}

// SetDown makes every call fail with ErrUnavailable (down) or work again.
func (s *Sandbox) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Calls is how many times CreateLabel was called with key.
func (s *Sandbox) Calls(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

// Labels is how many distinct labels the sandbox issued.
func (s *Sandbox) Labels() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.labels)
}

// Voided reports whether the label with trackingNumber was voided.
func (s *Sandbox) Voided(trackingNumber string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.voided[trackingNumber]
}
