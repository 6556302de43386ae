package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/money"
)

// Config configures a Service.
type Config struct {
	Store    Store
	Provider Provider
	// ProviderName is shown on payments, e.g. "sandbox".
	ProviderName string
	Log          *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NewID returns a new UUID; nil means random UUIDs (version 7).
	NewID func() string
	// Attempts is how many times a provider call that fails transiently
	// is made in all (DefaultAttempts if 0).
	Attempts int
	// RetryBase is the wait before the second attempt; each further wait
	// doubles, with jitter (DefaultRetryBase if 0).
	RetryBase time.Duration
	// MaxDelay caps one wait (DefaultMaxDelay if 0).
	MaxDelay time.Duration
	// CallTimeout bounds one provider call (DefaultCallTimeout if 0); a call
	// that times out counts as a transient failure.
	CallTimeout time.Duration
}

// Service answers the checkout saga's payment commands, the admin's refunds
// and everybody's reads, deciding who may see what.
type Service struct {
	store    Store
	provider Provider
	name     string
	log      *slog.Logger
	now      func() time.Time
	newID    func() string
	retry    retryPolicy
}

// NewService returns a Service.
func NewService(c Config) *Service {
	s := &Service{
		store: c.Store, provider: c.Provider, name: c.ProviderName, log: c.Log, now: c.Now, newID: c.NewID,
		retry: retryPolicy{attempts: c.Attempts, base: c.RetryBase, maxDelay: c.MaxDelay, callTimeout: c.CallTimeout},
	}
	if s.name == "" {
		s.name = "provider"
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	if s.retry.attempts <= 0 {
		s.retry.attempts = DefaultAttempts
	}
	if s.retry.base <= 0 {
		s.retry.base = DefaultRetryBase
	}
	if s.retry.maxDelay <= 0 {
		s.retry.maxDelay = DefaultMaxDelay
	}
	if s.retry.callTimeout <= 0 {
		s.retry.callTimeout = DefaultCallTimeout
	}
	return s
}

// at returns the current time as the store keeps it.
func (s *Service) at() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// conflictRetries bounds how often a decision is made again after another
// writer appended to the same stream first.
const conflictRetries = 10

// AuthorizeCommand is the saga's AuthorizePayment command.
type AuthorizeCommand = contract.AuthorizePayment

// ProviderKey is the idempotency key the provider is called with for p: the
// payment's ID, which is unique and does not change when the command is
// delivered again.
func ProviderKey(p *Payment) string { return "payment-" + p.ID }

// Authorize answers an AuthorizePayment command: it records the payment
// (once per customer and idempotency key), asks the provider to hold the
// amount, retrying transient failures with backoff, and records the outcome
// with the answer to the saga (PaymentAuthorized, PaymentDeclined or
// PaymentFailed). A command for a payment already decided is answered again
// with the recorded outcome; the provider is not asked again.
//
// The provider is called outside any transaction: the request is recorded
// first (PENDING), so a crash before the outcome is recorded is safe — the
// command is delivered again and the provider, asked with the same
// idempotency key, returns the same result.
//
// Returns INVALID_INPUT if the command is malformed (answered with
// PaymentFailed when it names an order), CONFLICT if the idempotency key was
// used for another order or amount (answered with PaymentDeclined), and the
// context's error if ctx ends before the outcome is recorded.
func (s *Service) Authorize(ctx context.Context, cmd AuthorizeCommand) (*Payment, error) {
	in := RequestInput{
		OrderID: cmd.OrderID, CustomerID: cmd.CustomerID, Amount: cmd.Amount,
		IdempotencyKey: cmd.IdempotencyKey, Provider: s.name,
	}
	verr := in.Validate()
	if verr == nil && strings.TrimSpace(cmd.PaymentToken) == "" {
		verr = apperr.Invalid("paymentToken", "payment token is required")
	}
	if verr != nil {
		if strings.TrimSpace(cmd.OrderID) != "" {
			n := Notice{Type: contract.TypePaymentFailed, Result: contract.PaymentResult{
				OrderID: cmd.OrderID, Amount: cmd.Amount, Reason: "invalid payment request: " + apperr.Message(verr),
			}}
			if err := s.store.Publish(ctx, n); err != nil {
				return nil, fmt.Errorf("authorize payment: %w", err)
			}
		}
		return nil, verr
	}

	p, err := s.request(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("authorize payment: %w", err)
	}
	if p.OrderID != cmd.OrderID || p.Amount != cmd.Amount {
		n := Notice{Type: contract.TypePaymentDeclined, Result: contract.PaymentResult{
			OrderID: cmd.OrderID, Amount: cmd.Amount, DeclineCode: "idempotency_key_reused",
			Reason: "the idempotency key was already used for another payment",
		}}
		if err := s.store.Publish(ctx, n); err != nil {
			return nil, fmt.Errorf("authorize payment: %w", err)
		}
		return nil, apperr.Errorf(apperr.Conflict, "idempotency key already used for order %s (%s)", p.OrderID, p.Amount)
	}
	if p.Status == StatusRequiresAction {
		// Waiting for the customer; the provider's webhook decides.
		return p, nil
	}
	if p.Status.Decided() {
		if err := s.store.Publish(ctx, authorizeAnswer(p)); err != nil {
			return nil, fmt.Errorf("authorize payment: answer again: %w", err)
		}
		return p, nil
	}

	var res AuthorizeResult
	perr := s.retry.do(ctx, s.logRetry(ctx, "authorize", p), func(ctx context.Context) error {
		var err error
		res, err = s.provider.Authorize(ctx, AuthorizeRequest{Token: cmd.PaymentToken, Amount: p.Amount, IdempotencyKey: ProviderKey(p)})
		return err
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	decide := func(p *Payment, at time.Time) ([]Event, error) {
		if perr == nil && res.ActionRequired {
			return p.RequireAction(res.Reference, res.ClientSecret, at)
		}
		if perr == nil {
			return p.Authorize(res.Reference, at)
		}
		if d, ok := AsDecline(perr); ok {
			return p.Decline(d.Code, d.Reason, at)
		}
		if errors.Is(perr, ErrTransient) {
			s.log.WarnContext(ctx, "payment provider kept failing", "payment", p.ID, "order", p.OrderID, "err", perr)
			return p.Fail("the payment provider is not available, please try again later", at)
		}
		s.log.ErrorContext(ctx, "payment provider error", "payment", p.ID, "order", p.OrderID, "err", perr)
		return p.Fail("the payment could not be processed", at)
	}
	return s.record(ctx, p, decide, authorizeAnswer)
}

// request returns the payment of in's customer and idempotency key,
// recording it (PENDING) if there is none.
func (s *Service) request(ctx context.Context, in RequestInput) (*Payment, error) {
	p, err := s.store.LoadByIdempotencyKey(ctx, in.CustomerID, in.IdempotencyKey)
	if apperr.Code(err) != apperr.NotFound {
		return p, err
	}
	evs, err := Request(s.newID(), in, s.at())
	if err != nil {
		return nil, err
	}
	err = s.store.Append(ctx, nil, evs)
	if apperr.Code(err) == apperr.Conflict {
		// Recorded meanwhile by another delivery of the same command.
		return s.store.LoadByIdempotencyKey(ctx, in.CustomerID, in.IdempotencyKey)
	}
	if err != nil {
		return nil, err
	}
	return Fold(evs), nil
}

// record decides the events of a command on p and appends them with the
// answer, deciding again on the payment's new state if another writer
// appended first. A decision that is no longer legal because the outcome is
// already recorded answers with that outcome.
func (s *Service) record(ctx context.Context, p *Payment, decide func(*Payment, time.Time) ([]Event, error), answer func(*Payment) Notice) (*Payment, error) {
	for range conflictRetries {
		evs, err := decide(p, s.at())
		if err != nil {
			if p.Status == StatusRequiresAction && apperr.Code(err) == apperr.Conflict {
				return p, nil // waiting for the customer, recorded meanwhile
			}
			if p.Status.Decided() && apperr.Code(err) == apperr.Conflict {
				// Decided meanwhile by another delivery.
				if err := s.store.Publish(ctx, answer(p)); err != nil {
					return nil, err
				}
				return p, nil
			}
			return nil, err
		}
		next := p.With(evs...)
		var notices []Notice
		if n := answer(next); n.Type != "" {
			notices = append(notices, n)
		}
		err = s.store.Append(ctx, p, evs, notices...)
		if apperr.Code(err) == apperr.Conflict {
			if p, err = s.store.Load(ctx, p.ID); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return next, nil
	}
	return nil, apperr.Errorf(apperr.Conflict, "payment %s is changing too often, try again", p.ID)
}

// authorizeAnswer is the answer to AuthorizePayment for a decided payment.
func authorizeAnswer(p *Payment) Notice {
	r := result(p)
	switch p.Status {
	case StatusDeclined:
		r.Reason, r.DeclineCode = p.DeclineReason, p.DeclineCode
		return Notice{Type: contract.TypePaymentDeclined, Result: r}
	case StatusFailed:
		r.Reason = p.FailureReason
		return Notice{Type: contract.TypePaymentFailed, Result: r}
	case StatusPending, StatusRequiresAction:
		// No answer yet: the saga keeps waiting, within its deadline.
		return Notice{}
	}
	// Authorized, and anything that comes after it.
	return Notice{Type: contract.TypePaymentAuthorized, Result: r}
}

func result(p *Payment) contract.PaymentResult {
	return contract.PaymentResult{OrderID: p.OrderID, PaymentID: p.ID, Amount: p.Amount}
}

func (s *Service) logRetry(ctx context.Context, op string, p *Payment) func(int, time.Duration, error) {
	return func(attempt int, wait time.Duration, err error) {
		s.log.WarnContext(ctx, "payment provider failed, retrying", "op", op, "payment", p.ID, "order", p.OrderID,
			"attempt", attempt, "wait", wait, "err", err)
	}
}

// providerError turns a provider's error about a capture, void or refund
// into an application error: a refusal is a CONFLICT, a provider that kept
// failing is UNAVAILABLE; anything else stays internal.
func providerError(op string, err error) error {
	if d, ok := AsDecline(err); ok {
		return apperr.Errorf(apperr.Conflict, "the payment provider refused the %s: %s", op, d.Reason)
	}
	if errors.Is(err, ErrTransient) {
		// The cause stays in the chain for the logs.
		return fmt.Errorf("%w: %w", apperr.Errorf(apperr.Unavailable, "the payment provider is not available, try again later"), err)
	}
	return fmt.Errorf("%s at the payment provider: %w", op, err)
}

// Capture answers a CapturePayment command: it collects the authorized
// amount of the order's latest payment and records PaymentCaptured with the
// answer to the saga. Capturing a captured payment answers PaymentCaptured
// again without asking the provider.
// Returns NOT_FOUND if the order has no payment, CONFLICT if its payment
// cannot be captured (it is not AUTHORIZED) or the provider refuses, and
// UNAVAILABLE if the provider kept failing.
func (s *Service) Capture(ctx context.Context, orderID string) (*Payment, error) {
	p, err := s.store.LoadLatestForOrder(ctx, orderID)
	if err != nil {
		return nil, fmt.Errorf("capture payment: %w", err)
	}
	answer := func(p *Payment) Notice {
		r := result(p)
		r.Amount = p.Captured
		return Notice{Type: contract.TypePaymentCaptured, Result: r}
	}
	return s.settle(ctx, "capture", p, nil,
		func(p *Payment) ([]Event, error) { return p.Capture(s.at()) },
		func(ctx context.Context, p *Payment) error { return s.provider.Capture(ctx, p.Reference, p.Amount) },
		answer)
}

// Void answers a VoidPayment command (a compensation): it releases the
// authorization of the order's latest payment and records PaymentVoided with
// the answer to the saga. Voiding a voided payment answers PaymentVoided
// again; so does voiding a payment that was declined or failed, or an order
// without a payment, since no money is held (nothing is recorded then).
// Returns CONFLICT if the payment was captured (refund it instead) or the
// provider refuses, and UNAVAILABLE if the authorization is still being
// decided (try again later) or the provider kept failing.
func (s *Service) Void(ctx context.Context, orderID, reason string) (*Payment, error) {
	p, err := s.store.LoadLatestForOrder(ctx, orderID)
	if apperr.Code(err) == apperr.NotFound {
		s.log.WarnContext(ctx, "void requested for an order without payment", "order", orderID)
		return nil, s.store.Publish(ctx, Notice{Type: contract.TypePaymentVoided, Result: contract.PaymentResult{
			OrderID: orderID, Reason: "no payment was made for this order",
		}})
	}
	if err != nil {
		return nil, fmt.Errorf("void payment: %w", err)
	}
	answer := func(p *Payment) Notice {
		r := result(p)
		r.Reason = reason
		return Notice{Type: contract.TypePaymentVoided, Result: r}
	}
	guard := func(p *Payment) (bool, *Payment, error) {
		switch p.Status {
		case StatusPending:
			return true, nil, apperr.Errorf(apperr.Unavailable, "the authorization of payment %s is still being decided", p.ID)
		case StatusDeclined, StatusFailed:
			n := answer(p)
			n.Result.Reason = fmt.Sprintf("nothing to void: the payment was %s", strings.ToLower(string(p.Status)))
			return true, p, s.store.Publish(ctx, n)
		}
		return false, nil, nil
	}
	return s.settle(ctx, "void", p, guard,
		func(p *Payment) ([]Event, error) { return p.Void(reason, s.at()) },
		func(ctx context.Context, p *Payment) error { return s.provider.Void(ctx, p.Reference) },
		answer)
}

// settle takes one provider-backed step of p (capture, void) and answers
// the saga: guard, if not nil, may settle the step before anything else for
// the payment as it is; decide returns the step's events (none: the step was
// already taken, and the saga is answered again without asking the
// provider); call asks the provider, retried while it fails transiently; the
// events are appended with answer's notice in one transaction. When another
// change got there first, the payment is reloaded and the step decided
// again.
func (s *Service) settle(ctx context.Context, op string, p *Payment,
	guard func(*Payment) (done bool, _ *Payment, _ error),
	decide func(*Payment) ([]Event, error),
	call func(context.Context, *Payment) error,
	answer func(*Payment) Notice,
) (*Payment, error) {
	for range conflictRetries {
		if guard != nil {
			if done, q, err := guard(p); done {
				return q, err
			}
		}
		evs, err := decide(p)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 {
			return p, s.store.Publish(ctx, answer(p))
		}
		err = s.retry.do(ctx, s.logRetry(ctx, op, p), func(ctx context.Context) error { return call(ctx, p) })
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, providerError(op, err)
		}
		next := p.With(evs...)
		err = s.store.Append(ctx, p, evs, answer(next))
		if apperr.Code(err) == apperr.Conflict {
			if p, err = s.store.Load(ctx, p.ID); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s payment: %w", op, err)
		}
		return next, nil
	}
	return nil, apperr.Errorf(apperr.Conflict, "payment %s is changing too often, try again", p.ID)
}

// Refund gives back amount (nil: all that is left) of the captured payment
// with id, for reason, and records PaymentRefunded (also published on
// contract.PaymentEvents). Admins only.
// Returns UNAUTHENTICATED or FORBIDDEN for anyone else, NOT_FOUND if there
// is no such payment, CONFLICT if it is not captured (or fully refunded) or
// the provider refuses, INVALID_INPUT for an amount that is not positive, in
// another currency or more than what is left, or a missing reason, and
// UNAVAILABLE if the provider kept failing. Nothing changes on error.
func (s *Service) Refund(ctx context.Context, id string, amount *money.Money, reason string) (*Payment, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, apperr.Errorf(apperr.NotFound, "no such payment")
	}
	p, err := s.store.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	amt, reason, err := p.RefundAmount(amount, reason)
	if err != nil {
		return nil, err
	}
	// One refund ID, and so one provider idempotency key, for every attempt:
	// a retried call never gives the money back twice.
	refundID := s.newID()
	err = s.retry.do(ctx, s.logRetry(ctx, "refund", p), func(ctx context.Context) error {
		return s.provider.Refund(ctx, p.Reference, amt, "refund-"+refundID)
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, providerError("refund", err)
	}
	decide := func(p *Payment, at time.Time) ([]Event, error) {
		evs, err := p.Refund(refundID, &amt, reason, at)
		if err != nil {
			// The provider gave the money back; the books must say so.
			s.log.ErrorContext(ctx, "refund made at the provider could not be recorded",
				"payment", p.ID, "amount", amt.String(), "err", err)
			return nil, fmt.Errorf("record refund of %s: %v", amt, err) // internal: not the caller's fault
		}
		return evs, nil
	}
	answer := func(p *Payment) Notice {
		r := result(p)
		r.Amount, r.Reason = amt, reason
		return Notice{Type: contract.TypePaymentRefunded, Result: r}
	}
	// Compared with record, every failure to decide here is internal: the
	// checks were made before the provider was asked.
	for range conflictRetries {
		evs, err := decide(p, s.at())
		if err != nil {
			return nil, err
		}
		next := p.With(evs...)
		err = s.store.Append(ctx, p, evs, answer(next))
		if apperr.Code(err) == apperr.Conflict {
			if p, err = s.store.Load(ctx, p.ID); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("record refund: %w", err)
		}
		return next, nil
	}
	return nil, fmt.Errorf("record refund of payment %s: too many concurrent changes", p.ID)
}

// CanSee reports whether the caller id may see p: its customer and admins
// (and services) may.
func CanSee(id auth.Identity, p *Payment) bool {
	return id.IsAdmin() || (id.UserID != "" && p.CustomerID == id.UserID)
}

// Payment returns the payment with id.
// Returns UNAUTHENTICATED without sign-in, and NOT_FOUND if there is no such
// payment or the caller may not see it.
func (s *Service) Payment(ctx context.Context, id string) (*Payment, error) {
	ps, err := s.Payments(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	p, ok := ps[id]
	if !ok {
		return nil, apperr.Errorf(apperr.NotFound, "no such payment")
	}
	return p, nil
}

// Payments returns those payments with ids that exist and the caller may
// see, by ID. Returns UNAUTHENTICATED without sign-in.
func (s *Service) Payments(ctx context.Context, ids []string) (map[string]*Payment, error) {
	who, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := s.store.Payments(ctx, validIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	return visible(who, ps), nil
}

// LatestPayments returns the latest payment of each order in orderIDs that
// has one the caller may see, by order ID. Returns UNAUTHENTICATED without
// sign-in.
func (s *Service) LatestPayments(ctx context.Context, orderIDs []string) (map[string]*Payment, error) {
	who, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := s.store.LatestPayments(ctx, orderIDs)
	if err != nil {
		return nil, fmt.Errorf("latest payments: %w", err)
	}
	return visible(who, ps), nil
}

// Refunds returns the refunds of the payments with paymentIDs, oldest first,
// by payment ID. It does not check who may see them: pass the IDs of
// payments the caller got from Payments or LatestPayments.
func (s *Service) Refunds(ctx context.Context, paymentIDs []string) (map[string][]Refund, error) {
	rs, err := s.store.Refunds(ctx, validIDs(paymentIDs))
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	return rs, nil
}

// RefundsByIDs returns those refunds with ids that exist and whose payment
// the caller may see, by ID. Returns UNAUTHENTICATED without sign-in.
func (s *Service) RefundsByIDs(ctx context.Context, ids []string) (map[string]Refund, error) {
	rs, err := s.store.RefundsByIDs(ctx, validIDs(ids))
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	paymentIDs := make([]string, 0, len(rs))
	for _, r := range rs {
		paymentIDs = append(paymentIDs, r.PaymentID)
	}
	ps, err := s.Payments(ctx, paymentIDs)
	if err != nil {
		return nil, err
	}
	for id, r := range rs {
		if _, ok := ps[r.PaymentID]; !ok {
			delete(rs, id)
		}
	}
	return rs, nil
}

// Timelines returns the events of the payments with paymentIDs, oldest
// first, by payment ID. Like Refunds, it does not check who may see them.
func (s *Service) Timelines(ctx context.Context, paymentIDs []string) (map[string][]Event, error) {
	evs, err := s.store.Events(ctx, validIDs(paymentIDs))
	if err != nil {
		return nil, fmt.Errorf("payment events: %w", err)
	}
	return evs, nil
}

func visible(who auth.Identity, ps map[string]*Payment) map[string]*Payment {
	for k, p := range ps {
		if !CanSee(who, p) {
			delete(ps, k)
		}
	}
	return ps
}

// validIDs returns the ids that are UUIDs, in canonical form: a malformed
// ID names nothing.
func validIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if u, err := uuid.Parse(id); err == nil && u.String() == id {
			out = append(out, id)
		}
	}
	return out
}

// ValidID reports whether id is a payment or refund ID in canonical form.
func ValidID(id string) bool { return len(validIDs([]string{id})) == 1 }
