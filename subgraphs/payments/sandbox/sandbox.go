// Package sandbox is a card provider for development and tests. It keeps its
// charges in memory and answers the well-known test tokens:
//
//   - tok_visa approves;
//   - tok_chargeDeclined declines with code card_declined;
//   - tok_chargeDeclinedInsufficientFunds declines with code insufficient_funds;
//   - tok_processingError fails transiently (payment.ErrTransient) for the first
//     N attempts with one idempotency key (N = 2 unless set with
//     WithTransientFailures), then approves;
//   - any other token declines with code invalid_token.
//
// Like a real provider it is idempotent per idempotency key: the same key
// never holds money twice, it returns the first final result again.
//
// A reference from an earlier process (the sandbox forgets on restart) is
// accepted by Capture, Void and Refund as if it were known, so that payments
// authorized before a restart of the all-in-one binary can still complete.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
)

// Test tokens.
const (
	TokenVisa                = "tok_visa"
	TokenDeclined            = "tok_chargeDeclined"
	TokenInsufficientFunds   = "tok_chargeDeclinedInsufficientFunds"
	TokenProcessingError     = "tok_processingError"
	DefaultTransientFailures = 2
)

// refPrefix starts every reference the sandbox hands out.
const refPrefix = "ch_sandbox_"

// Sandbox is the in-memory test provider. It is safe for concurrent use.
type Sandbox struct {
	failures int

	mu       sync.Mutex
	attempts map[string]int           // idempotency key → processing-error attempts so far
	results  map[string]authorization // idempotency key → first final result
	charges  map[string]*charge       // reference → charge
	calls    map[string]int           // idempotency key → Authorize calls
	holds    int                      // authorizations granted
}

type authorization struct {
	ref string
	err *payment.DeclineError
}

type charge struct {
	authorized money.Money
	captured   int64
	refunded   int64
	voided     bool
}

// Option configures a Sandbox.
type Option func(*Sandbox)

// WithTransientFailures sets how many attempts per idempotency key
// tok_processingError fails before it approves.
func WithTransientFailures(n int) Option {
	return func(s *Sandbox) { s.failures = n }
}

// New returns an empty sandbox.
func New(opts ...Option) *Sandbox {
	s := &Sandbox{
		failures: DefaultTransientFailures,
		attempts: map[string]int{},
		results:  map[string]authorization{},
		charges:  map[string]*charge{},
		calls:    map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

var _ payment.Provider = (*Sandbox)(nil)

// Name is the provider's name shown on payments.
func (s *Sandbox) Name() string { return "sandbox" }

// Holds returns how many authorizations the sandbox granted: how many times
// money was held on a card.
func (s *Sandbox) Holds() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holds
}

// Calls returns how many times Authorize was called with key.
func (s *Sandbox) Calls(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[key]
}

// Authorize implements payment.Provider.
func (s *Sandbox) Authorize(ctx context.Context, req payment.AuthorizeRequest) (payment.AuthorizeResult, error) {
	if err := ctx.Err(); err != nil {
		return payment.AuthorizeResult{}, err
	}
	if req.IdempotencyKey == "" {
		return payment.AuthorizeResult{}, errors.New("sandbox: an idempotency key is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[req.IdempotencyKey]++
	if r, ok := s.results[req.IdempotencyKey]; ok {
		return r.result()
	}
	var r authorization
	switch {
	case req.Amount.Amount <= 0:
		r.err = &payment.DeclineError{Code: "invalid_amount", Reason: "The amount must be positive."}
	case req.Token == TokenVisa:
	case req.Token == TokenDeclined:
		r.err = &payment.DeclineError{Code: "card_declined", Reason: "Your card was declined."}
	case req.Token == TokenInsufficientFunds:
		r.err = &payment.DeclineError{Code: "insufficient_funds", Reason: "Your card has insufficient funds."}
	case req.Token == TokenProcessingError:
		s.attempts[req.IdempotencyKey]++
		if s.attempts[req.IdempotencyKey] <= s.failures {
			return payment.AuthorizeResult{}, fmt.Errorf("sandbox: processing error, try again: %w", payment.ErrTransient)
		}
	default:
		r.err = &payment.DeclineError{Code: "invalid_token", Reason: "The payment token is not valid."}
	}
	if r.err == nil {
		r.ref = refPrefix + randomHex()
		s.charges[r.ref] = &charge{authorized: req.Amount}
		s.holds++
	}
	s.results[req.IdempotencyKey] = r
	return r.result()
}

func (r authorization) result() (payment.AuthorizeResult, error) {
	if r.err != nil {
		return payment.AuthorizeResult{}, r.err
	}
	return payment.AuthorizeResult{Reference: r.ref}, nil
}

// lookup returns the charge ref names; a sandbox reference from an earlier
// process is adopted with what the caller says about it.
func (s *Sandbox) lookup(ref string, amount money.Money) (*charge, error) {
	if c, ok := s.charges[ref]; ok {
		return c, nil
	}
	if !strings.HasPrefix(ref, refPrefix) {
		return nil, &payment.DeclineError{Code: "resource_missing", Reason: "No such charge."}
	}
	c := &charge{authorized: amount}
	s.charges[ref] = c
	return c, nil
}

// Capture implements payment.Provider.
func (s *Sandbox) Capture(ctx context.Context, ref string, amount money.Money) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookup(ref, amount)
	if err != nil {
		return err
	}
	switch {
	case c.voided:
		return &payment.DeclineError{Code: "charge_voided", Reason: "The authorization was voided."}
	case amount.Currency != c.authorized.Currency:
		return &payment.DeclineError{Code: "currency_mismatch", Reason: "The currency differs from the authorization's."}
	case amount.Amount <= 0 || amount.Amount > c.authorized.Amount:
		return &payment.DeclineError{Code: "amount_too_large", Reason: "The amount is more than was authorized."}
	case c.captured > 0 && c.captured != amount.Amount:
		return &payment.DeclineError{Code: "charge_already_captured", Reason: "The charge was already captured with another amount."}
	}
	c.captured = amount.Amount
	return nil
}

// Void implements payment.Provider.
func (s *Sandbox) Void(ctx context.Context, ref string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookup(ref, money.Money{})
	if err != nil {
		return err
	}
	if c.captured > 0 {
		return &payment.DeclineError{Code: "charge_already_captured", Reason: "A captured charge cannot be voided; refund it."}
	}
	c.voided = true
	return nil
}

// Refund implements payment.Provider.
func (s *Sandbox) Refund(ctx context.Context, ref string, amount money.Money, _ string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.charges[ref]
	if !ok {
		if !strings.HasPrefix(ref, refPrefix) {
			return &payment.DeclineError{Code: "resource_missing", Reason: "No such charge."}
		}
		// From an earlier process: what was captured is unknown here.
		return nil
	}
	switch {
	case c.captured == 0:
		return &payment.DeclineError{Code: "charge_not_captured", Reason: "Only a captured charge can be refunded."}
	case amount.Currency != c.authorized.Currency:
		return &payment.DeclineError{Code: "currency_mismatch", Reason: "The currency differs from the charge's."}
	case amount.Amount <= 0 || c.refunded+amount.Amount > c.captured:
		return &payment.DeclineError{Code: "amount_too_large", Reason: "The refund is more than what is left on the charge."}
	}
	c.refunded += amount.Amount
	return nil
}

func randomHex() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
