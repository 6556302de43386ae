package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shopgraph/shopgraph/subgraphs/shipping/sandbox"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

func TestSandbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	req := func(key, postalCode string) shipment.LabelRequest {
		return shipment.LabelRequest{Key: key, Method: "STANDARD", Address: shipment.Address{PostalCode: postalCode, Country: "US"}}
	}
	for _, tc := range []struct {
		name    string
		run     func(s *sandbox.Sandbox) (string, error)
		refused bool
		down    bool
	}{
		{"labels", func(s *sandbox.Sandbox) (string, error) { return s.CreateLabel(ctx, req("k1", "10001")) }, false, false},
		{"refuses the undeliverable postal code", func(s *sandbox.Sandbox) (string, error) {
			return s.CreateLabel(ctx, req("k1", sandbox.PostalCodeUndeliverable))
		}, true, false},
		{"down", func(s *sandbox.Sandbox) (string, error) {
			s.SetDown(true)
			return s.CreateLabel(ctx, req("k1", "10001"))
		}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := sandbox.New()
			tn, err := tc.run(s)
			if _, ok := shipment.AsRefused(err); ok != tc.refused {
				t.Errorf("refused = %v (%v), want %v", ok, err, tc.refused)
			}
			if errors.Is(err, sandbox.ErrUnavailable) != tc.down {
				t.Errorf("err = %v, want unavailable: %v", err, tc.down)
			}
			if err == nil && (tn != sandbox.TrackingNumber("k1") || !strings.HasPrefix(tn, "SBX") || len(tn) != 19 || s.Labels() != 1) {
				t.Errorf("tracking number %q, labels %d", tn, s.Labels())
			}
		})
	}
	t.Run("idempotent per key", func(t *testing.T) {
		t.Parallel()
		s := sandbox.New()
		a, _ := s.CreateLabel(ctx, req("k1", "10001"))
		b, _ := s.CreateLabel(ctx, req("k1", "10001"))
		c, _ := s.CreateLabel(ctx, req("k2", "10001"))
		if a != b || a == c || s.Labels() != 2 || s.Calls("k1") != 2 {
			t.Errorf("labels %s %s %s, %d issued, %d calls", a, b, c, s.Labels(), s.Calls("k1"))
		}
		if err := s.Cancel(ctx, a); err != nil || !s.Voided(a) || s.Voided(c) {
			t.Errorf("cancel: %v, voided %v %v", err, s.Voided(a), s.Voided(c))
		}
		if err := s.Cancel(ctx, a); err != nil {
			t.Errorf("voiding again: %v", err)
		}
	})
}
