package sandbox

import (
	"context"
	"errors"
	"testing"

	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
)

var usd10 = money.Money{Amount: 1000, Currency: "USD"}

func TestAuthorizeTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		token string
		code  string // "" approves
		// reason is checked for declines.
		reason string
	}{
		{TokenVisa, "", ""},
		{TokenDeclined, "card_declined", "Your card was declined."},
		{TokenInsufficientFunds, "insufficient_funds", "Your card has insufficient funds."},
		{"tok_unknown", "invalid_token", "The payment token is not valid."},
		{"", "invalid_token", "The payment token is not valid."},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			t.Parallel()
			s := New()
			res, err := s.Authorize(context.Background(), payment.AuthorizeRequest{Token: tt.token, Amount: usd10, IdempotencyKey: "k"})
			if tt.code == "" {
				if err != nil || res.Reference == "" || s.Holds() != 1 {
					t.Fatalf("got %+v, %v, %d holds; want approval", res, err, s.Holds())
				}
				return
			}
			d, ok := payment.AsDecline(err)
			if !ok || d.Code != tt.code || d.Reason != tt.reason {
				t.Fatalf("err = %v, want decline %s %q", err, tt.code, tt.reason)
			}
			if s.Holds() != 0 {
				t.Errorf("holds = %d after a decline", s.Holds())
			}
		})
	}
}

func TestAuthorizeIsIdempotentPerKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	first, err := s.Authorize(ctx, payment.AuthorizeRequest{Token: TokenVisa, Amount: usd10, IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	// Same key, even with another token: the first result.
	again, err := s.Authorize(ctx, payment.AuthorizeRequest{Token: TokenDeclined, Amount: usd10, IdempotencyKey: "k1"})
	if err != nil || again != first {
		t.Fatalf("second call = %+v, %v; want %+v", again, err, first)
	}
	other, err := s.Authorize(ctx, payment.AuthorizeRequest{Token: TokenVisa, Amount: usd10, IdempotencyKey: "k2"})
	if err != nil || other == first {
		t.Fatalf("other key = %+v, %v", other, err)
	}
	if s.Holds() != 2 || s.Calls("k1") != 2 {
		t.Errorf("holds %d, calls %d; want 2, 2", s.Holds(), s.Calls("k1"))
	}
	// A decline is remembered too.
	_, err1 := s.Authorize(ctx, payment.AuthorizeRequest{Token: TokenDeclined, Amount: usd10, IdempotencyKey: "k3"})
	_, err2 := s.Authorize(ctx, payment.AuthorizeRequest{Token: TokenVisa, Amount: usd10, IdempotencyKey: "k3"})
	if _, ok := payment.AsDecline(err2); !ok || err1 == nil {
		t.Errorf("repeated declined key: %v, %v", err1, err2)
	}
}

func TestProcessingError(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 2, 5} {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			s := New(WithTransientFailures(n))
			req := payment.AuthorizeRequest{Token: TokenProcessingError, Amount: usd10, IdempotencyKey: "k"}
			for i := range n {
				if _, err := s.Authorize(context.Background(), req); !errors.Is(err, payment.ErrTransient) {
					t.Fatalf("attempt %d: err = %v, want transient", i+1, err)
				}
			}
			res, err := s.Authorize(context.Background(), req)
			if err != nil || res.Reference == "" {
				t.Fatalf("attempt %d: %+v, %v; want approval", n+1, res, err)
			}
			// Another key starts counting again.
			req.IdempotencyKey = "other"
			if _, err := s.Authorize(context.Background(), req); n > 0 && !errors.Is(err, payment.ErrTransient) {
				t.Fatalf("other key: err = %v, want transient", err)
			}
		})
	}
	if New().failures != DefaultTransientFailures || DefaultTransientFailures != 2 {
		t.Error("default is not 2 failures")
	}
}

func TestCaptureVoidRefund(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	authorize := func(t *testing.T, s *Sandbox) string {
		res, err := s.Authorize(ctx, payment.AuthorizeRequest{Token: TokenVisa, Amount: usd10, IdempotencyKey: t.Name()})
		if err != nil {
			t.Fatal(err)
		}
		return res.Reference
	}
	usd := func(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }
	tests := []struct {
		name string
		run  func(s *Sandbox, ref string) error
		code string // "" succeeds
	}{
		{"capture", func(s *Sandbox, ref string) error { return s.Capture(ctx, ref, usd10) }, ""},
		{"capture twice", func(s *Sandbox, ref string) error {
			_ = s.Capture(ctx, ref, usd10)
			return s.Capture(ctx, ref, usd10)
		}, ""},
		{"capture more than authorized", func(s *Sandbox, ref string) error { return s.Capture(ctx, ref, usd(1001)) }, "amount_too_large"},
		{"capture a voided charge", func(s *Sandbox, ref string) error {
			_ = s.Void(ctx, ref)
			return s.Capture(ctx, ref, usd10)
		}, "charge_voided"},
		{"void twice", func(s *Sandbox, ref string) error {
			_ = s.Void(ctx, ref)
			return s.Void(ctx, ref)
		}, ""},
		{"void a captured charge", func(s *Sandbox, ref string) error {
			_ = s.Capture(ctx, ref, usd10)
			return s.Void(ctx, ref)
		}, "charge_already_captured"},
		{"refund before capture", func(s *Sandbox, ref string) error { return s.Refund(ctx, ref, usd(1), "") }, "charge_not_captured"},
		{"refund in parts", func(s *Sandbox, ref string) error {
			_ = s.Capture(ctx, ref, usd10)
			if err := s.Refund(ctx, ref, usd(400), ""); err != nil {
				return err
			}
			return s.Refund(ctx, ref, usd(600), "")
		}, ""},
		{"refund more than captured", func(s *Sandbox, ref string) error {
			_ = s.Capture(ctx, ref, usd10)
			_ = s.Refund(ctx, ref, usd(400), "")
			return s.Refund(ctx, ref, usd(601), "")
		}, "amount_too_large"},
		{"unknown reference", func(s *Sandbox, _ string) error { return s.Capture(ctx, "ch_elsewhere", usd10) }, "resource_missing"},
		{"reference from an earlier process", func(s *Sandbox, _ string) error {
			return s.Capture(ctx, refPrefix+"0123", usd10)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New()
			err := tt.run(s, authorize(t, s))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if d, ok := payment.AsDecline(err); !ok || d.Code != tt.code {
				t.Fatalf("err = %v, want decline %s", err, tt.code)
			}
		})
	}
}
