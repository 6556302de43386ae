package payment

import (
	"context"
	"fmt"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/money"
)

// OutcomeKind is what an asynchronous provider event says.
type OutcomeKind string

// Outcomes a provider reports through its webhook.
const (
	// OutcomeAuthorized: the amount is held (the customer completed 3-D
	// Secure).
	OutcomeAuthorized OutcomeKind = "authorized"
	// OutcomeDeclined: the card was refused after all.
	OutcomeDeclined OutcomeKind = "declined"
	// OutcomeRefunded: Amount is what was refunded in all so far.
	OutcomeRefunded OutcomeKind = "refunded"
	// OutcomeDisputed: the customer disputed Amount with their bank.
	OutcomeDisputed OutcomeKind = "disputed"
)

// Outcome is an event the provider reports later, through its webhook.
type Outcome struct {
	// EventID is the provider's ID of the event; one event is applied once.
	EventID string
	Kind    OutcomeKind
	// Reference is the authorization's ID at the provider.
	Reference string
	Amount    money.Money
	// DeclineCode and Reason explain a decline or a dispute.
	DeclineCode, Reason string
}

// ApplyOutcome applies an outcome the provider reported to the payment it
// names, and answers the saga when it settles an authorization
// (PaymentAuthorized, PaymentDeclined) or records a refund (PaymentRefunded).
// An event already applied, an outcome the payment already reflects, or
// one about a payment that moved on (say, voided when the saga's deadline
// passed) changes nothing.
// Returns NOT_FOUND if no payment has the reference (the provider may send
// events about payments that are not this shop's).
func (s *Service) ApplyOutcome(ctx context.Context, o Outcome) (*Payment, error) {
	seen, err := s.store.ProviderEventSeen(ctx, o.EventID)
	if err != nil {
		return nil, fmt.Errorf("apply provider event: %w", err)
	}
	if seen {
		s.log.InfoContext(ctx, "provider event already applied", "event", o.EventID)
		return nil, nil
	}
	p, err := s.store.LoadByReference(ctx, o.Reference)
	if err != nil {
		return nil, err
	}
	decide, answer := s.outcome(p, o)
	for range conflictRetries {
		evs, err := decide(p, s.at())
		if apperr.Code(err) == apperr.Conflict {
			s.log.InfoContext(ctx, "provider event does not apply to the payment", "event", o.EventID,
				"kind", o.Kind, "payment", p.ID, "status", p.Status)
			evs, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		next := p.With(evs...)
		var notices []Notice
		if len(evs) > 0 && answer != nil {
			notices = append(notices, answer(next))
		}
		err = s.store.Append(ctx, p, evs, notices...)
		if apperr.Code(err) == apperr.Conflict {
			if p, err = s.store.Load(ctx, p.ID); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("apply provider event: %w", err)
		}
		// Marked after it is applied: a crash in between applies it again,
		// which changes nothing (every outcome is decided on the state).
		if err := s.store.MarkProviderEvent(ctx, o.EventID); err != nil {
			return nil, fmt.Errorf("apply provider event: %w", err)
		}
		return next, nil
	}
	return nil, apperr.Errorf(apperr.Conflict, "payment %s is changing too often, try again", p.ID)
}

// outcome returns how o decides on a payment, and the answer to the saga.
func (s *Service) outcome(p *Payment, o Outcome) (func(*Payment, time.Time) ([]Event, error), func(*Payment) Notice) {
	switch o.Kind {
	case OutcomeAuthorized:
		return func(p *Payment, at time.Time) ([]Event, error) {
			if p.Status == StatusAuthorized || p.Status == StatusCaptured {
				return nil, nil
			}
			return p.Authorize(o.Reference, at)
		}, authorizeAnswer
	case OutcomeDeclined:
		return func(p *Payment, at time.Time) ([]Event, error) {
			if p.Status == StatusDeclined {
				return nil, nil
			}
			return p.Decline(o.DeclineCode, o.Reason, at)
		}, authorizeAnswer
	case OutcomeRefunded:
		refundID := s.newID()
		var amt money.Money
		return func(p *Payment, at time.Time) ([]Event, error) {
				evs, err := p.RefundedAtProvider(refundID, o.Amount, at)
				if len(evs) > 0 {
					amt = evs[0].Data.(Refunded).Amount
				}
				return evs, err
			}, func(p *Payment) Notice {
				r := result(p)
				r.Amount, r.Reason = amt, "refunded at the payment provider"
				return Notice{Type: contract.TypePaymentRefunded, Result: r}
			}
	case OutcomeDisputed:
		return func(p *Payment, at time.Time) ([]Event, error) {
			return p.Dispute(o.Amount, o.Reason, at)
		}, nil
	}
	return func(*Payment, time.Time) ([]Event, error) {
		return nil, apperr.Invalid("kind", "unknown provider outcome %q", o.Kind)
	}, nil
}
