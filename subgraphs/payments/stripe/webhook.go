package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	stripeapi "github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
)

// WebhookPath is where the payments service receives Stripe's events.
const WebhookPath = "/webhooks/stripe"

// maxWebhookBytes bounds the body of one event (Stripe's are a few KB).
const maxWebhookBytes = 1 << 20

// Applier applies a provider's outcome to its payment (payment.Service's
// ApplyOutcome). It returns nil and no error for an event already applied.
type Applier func(context.Context, payment.Outcome) (*payment.Payment, error)

// WebhookConfig configures the webhook handler.
type WebhookConfig struct {
	// Secret is the endpoint's signing secret (whsec_…).
	Secret string
	// Tolerance is how old a signature may be (webhook.DefaultTolerance,
	// 5 minutes, if 0); older ones are refused as replays.
	Tolerance time.Duration
	Apply     Applier
	Log       *slog.Logger
}

// Webhook returns the handler of Stripe's events. It checks the
// Stripe-Signature header (stripe-go's webhook package: HMAC of the body
// with the secret, timestamp within the tolerance) and applies
// payment_intent.amount_capturable_updated and payment_intent.succeeded
// (authorized), payment_intent.payment_failed (declined), charge.refunded
// and charge.dispute.created to the payment; an event already applied
// (by its ID) is acknowledged and changes nothing; other types are
// acknowledged and ignored.
//
// It answers 400 to a request that is not a correctly signed, recent event
// (Stripe does not retry those), 200 to every event it applied or ignored,
// and 500 when applying failed (Stripe retries later).
func Webhook(c WebhookConfig) http.Handler {
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	tolerance := c.Tolerance
	if tolerance <= 0 {
		tolerance = webhook.DefaultTolerance
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			reply(w, http.StatusMethodNotAllowed, map[string]any{"error": "POST Stripe events here"})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBytes))
		if err != nil {
			reply(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "the event is too large"})
			return
		}
		ev, err := webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), c.Secret,
			webhook.ConstructEventOptions{Tolerance: tolerance, IgnoreAPIVersionMismatch: true})
		if err != nil {
			msg := "the Stripe-Signature does not match the event"
			switch {
			case errors.Is(err, webhook.ErrTooOld):
				msg = "the event's signature is too old (a replay?)"
			case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader):
				msg = "the request has no valid Stripe-Signature header"
			}
			log.WarnContext(r.Context(), "stripe webhook refused", "err", err)
			reply(w, http.StatusBadRequest, map[string]any{"error": msg})
			return
		}
		o, ok, err := outcome(ev)
		if err != nil {
			log.WarnContext(r.Context(), "stripe webhook event not understood", "event", ev.ID, "type", ev.Type, "err", err)
			reply(w, http.StatusBadRequest, map[string]any{"error": "the event's object is not what its type says"})
			return
		}
		if !ok {
			reply(w, http.StatusOK, map[string]any{"received": true, "ignored": "event type " + string(ev.Type) + " is not used"})
			return
		}
		p, err := c.Apply(r.Context(), o)
		switch {
		case apperr.Code(err) == apperr.NotFound:
			reply(w, http.StatusOK, map[string]any{"received": true, "ignored": "no payment has this reference"})
		case err != nil:
			log.ErrorContext(r.Context(), "stripe webhook event not applied", "event", ev.ID, "type", ev.Type, "err", err)
			reply(w, http.StatusInternalServerError, map[string]any{"error": "the event could not be applied; send it again"})
		case p == nil:
			reply(w, http.StatusOK, map[string]any{"received": true, "duplicate": true})
		default:
			reply(w, http.StatusOK, map[string]any{"received": true, "status": p.Status})
		}
	})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// outcome maps a Stripe event to a payment outcome; ok is false for types
// that are not used.
func outcome(ev stripeapi.Event) (o payment.Outcome, ok bool, err error) {
	o.EventID = ev.ID
	if ev.Data == nil {
		return o, false, errors.New("event without data")
	}
	switch ev.Type {
	case "payment_intent.amount_capturable_updated", "payment_intent.succeeded", "payment_intent.payment_failed":
		var pi stripeapi.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil || pi.ID == "" {
			return o, false, errors.Join(errors.New("not a PaymentIntent"), err)
		}
		o.Reference = pi.ID
		o.Amount = money.Money{Amount: pi.Amount, Currency: strings.ToUpper(string(pi.Currency))}
		if ev.Type == "payment_intent.payment_failed" {
			o.Kind = payment.OutcomeDeclined
			d := Decline(pi.LastPaymentError)
			if d == nil {
				d = &payment.DeclineError{Code: "card_declined", Reason: "Your card was declined."}
			}
			o.DeclineCode, o.Reason = d.Code, d.Reason
		} else {
			o.Kind = payment.OutcomeAuthorized
		}
	case "charge.refunded":
		var ch stripeapi.Charge
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil || ch.PaymentIntent == nil || ch.PaymentIntent.ID == "" {
			return o, false, errors.Join(errors.New("not a Charge of a PaymentIntent"), err)
		}
		o.Kind = payment.OutcomeRefunded
		o.Reference = ch.PaymentIntent.ID
		o.Amount = money.Money{Amount: ch.AmountRefunded, Currency: strings.ToUpper(string(ch.Currency))}
	case "charge.dispute.created":
		var d stripeapi.Dispute
		if err := json.Unmarshal(ev.Data.Raw, &d); err != nil || d.PaymentIntent == nil || d.PaymentIntent.ID == "" {
			return o, false, errors.Join(errors.New("not a Dispute of a PaymentIntent"), err)
		}
		o.Kind = payment.OutcomeDisputed
		o.Reference = d.PaymentIntent.ID
		o.Amount = money.Money{Amount: d.Amount, Currency: strings.ToUpper(string(d.Currency))}
		o.Reason = string(d.Reason)
	default:
		return o, false, nil
	}
	return o, true, nil
}
