// Package stripe is the Stripe card provider: payment.Provider on Stripe's
// PaymentIntents API (github.com/stripe/stripe-go), with manual capture —
// authorize at checkout, capture when the order ships, cancel to void — and
// refunds.
//
// The payment token is a Stripe PaymentMethod ID (pm_…) that the customer's
// browser made with Stripe.js. Every call carries an Idempotency-Key derived
// from the payment (the authorization: the payment's provider key, which is
// one per customer and order idempotency key; capture and cancel: the
// PaymentIntent; a refund: the refund's ID), so a call made again after a
// timeout or a 5xx never charges, captures or refunds twice. Transient
// failures (429, 409 lock timeouts, 5xx, connection errors) are returned
// as payment.ErrTransient for the payments service to retry with backoff;
// stripe-go's own retries are off, so that one policy decides.
package stripe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	stripeapi "github.com/stripe/stripe-go/v82"

	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
)

// Config configures a Provider.
type Config struct {
	// SecretKey is the account's secret API key (sk_live_… or sk_test_…).
	SecretKey string
	// APIBase is Stripe's API root; empty means https://api.stripe.com.
	// Tests point it at stripe-mock.
	APIBase string
	// HTTPClient makes the calls; nil means a client without a timeout
	// (the payments service bounds every call with its context).
	HTTPClient *http.Client
	Log        *slog.Logger
}

// Provider is payment.Provider on Stripe. It is safe for concurrent use.
type Provider struct {
	client *stripeapi.Client
	log    *slog.Logger
}

var _ payment.Provider = (*Provider)(nil)

// New returns a Provider. It returns an error if the secret key is missing.
func New(c Config) (*Provider, error) {
	if strings.TrimSpace(c.SecretKey) == "" {
		return nil, errors.New("stripe: a secret key is required")
	}
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	cfg := &stripeapi.BackendConfig{
		HTTPClient:        c.HTTPClient,
		MaxNetworkRetries: stripeapi.Int64(0),
		// stripe-go logs to stderr by default; errors are ours to log.
		LeveledLogger: &stripeapi.LeveledLogger{Level: stripeapi.LevelNull},
	}
	if c.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if c.APIBase != "" {
		cfg.URL = stripeapi.String(strings.TrimSuffix(c.APIBase, "/"))
	}
	client := stripeapi.NewClient(c.SecretKey, stripeapi.WithBackends(stripeapi.NewBackendsWithConfig(cfg)))
	return &Provider{client: client, log: log}, nil
}

// Name is the provider's name shown on payments.
func (p *Provider) Name() string { return "stripe" }

// Authorize implements payment.Provider: it creates and confirms a
// PaymentIntent with capture_method=manual for req.Amount on the
// PaymentMethod req.Token. A PaymentIntent that needs the customer
// (requires_action: 3-D Secure) is reported with its client secret; its
// outcome arrives by webhook.
func (p *Provider) Authorize(ctx context.Context, req payment.AuthorizeRequest) (payment.AuthorizeResult, error) {
	if req.IdempotencyKey == "" {
		return payment.AuthorizeResult{}, errors.New("stripe: an idempotency key is required")
	}
	if !strings.HasPrefix(req.Token, "pm_") {
		return payment.AuthorizeResult{}, &payment.DeclineError{
			Code: "invalid_token", Reason: "The payment token is not a Stripe payment method (pm_…).",
		}
	}
	params := &stripeapi.PaymentIntentCreateParams{
		Amount:             stripeapi.Int64(req.Amount.Amount),
		Currency:           stripeapi.String(strings.ToLower(req.Amount.Currency)),
		PaymentMethod:      stripeapi.String(req.Token),
		PaymentMethodTypes: stripeapi.StringSlice([]string{"card"}),
		CaptureMethod:      stripeapi.String(string(stripeapi.PaymentIntentCaptureMethodManual)),
		Confirm:            stripeapi.Bool(true),
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	params.AddMetadata("idempotency_key", req.IdempotencyKey)
	pi, err := p.client.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		return payment.AuthorizeResult{}, classify("authorize", err)
	}
	return authorizeResult(pi)
}

// authorizeResult maps a confirmed PaymentIntent to the outcome of an
// authorization.
func authorizeResult(pi *stripeapi.PaymentIntent) (payment.AuthorizeResult, error) {
	switch pi.Status {
	case stripeapi.PaymentIntentStatusRequiresCapture, stripeapi.PaymentIntentStatusSucceeded:
		return payment.AuthorizeResult{Reference: pi.ID}, nil
	case stripeapi.PaymentIntentStatusRequiresAction, stripeapi.PaymentIntentStatusRequiresConfirmation,
		stripeapi.PaymentIntentStatusProcessing:
		return payment.AuthorizeResult{Reference: pi.ID, ActionRequired: true, ClientSecret: pi.ClientSecret}, nil
	case stripeapi.PaymentIntentStatusCanceled:
		return payment.AuthorizeResult{}, &payment.DeclineError{Code: "canceled", Reason: "The payment was canceled."}
	}
	// requires_payment_method: the card was refused.
	if d := Decline(pi.LastPaymentError); d != nil {
		return payment.AuthorizeResult{}, d
	}
	return payment.AuthorizeResult{}, &payment.DeclineError{Code: "card_declined", Reason: "Your card was declined."}
}

// Decline returns the refusal that a Stripe error describes: its decline
// code (else its code) and its message, meant for the customer. It returns
// nil for nil.
func Decline(e *stripeapi.Error) *payment.DeclineError {
	if e == nil {
		return nil
	}
	d := &payment.DeclineError{Code: string(e.DeclineCode), Reason: e.Msg}
	if d.Code == "" {
		d.Code = string(e.Code)
	}
	if d.Code == "" {
		d.Code = "card_declined"
	}
	if d.Reason == "" {
		d.Reason = "Your card was declined."
	}
	return d
}

// Capture implements payment.Provider. Capturing a captured PaymentIntent
// succeeds.
func (p *Provider) Capture(ctx context.Context, ref string, amount money.Money) error {
	params := &stripeapi.PaymentIntentCaptureParams{AmountToCapture: stripeapi.Int64(amount.Amount)}
	params.SetIdempotencyKey("capture-" + ref)
	_, err := p.client.V1PaymentIntents.Capture(ctx, ref, params)
	if already(err, stripeapi.PaymentIntentStatusSucceeded) {
		return nil
	}
	if err != nil {
		return classify("capture", err)
	}
	return nil
}

// Void implements payment.Provider: it cancels the PaymentIntent, which
// releases the hold. Cancelling a cancelled PaymentIntent succeeds.
func (p *Provider) Void(ctx context.Context, ref string) error {
	params := &stripeapi.PaymentIntentCancelParams{}
	params.SetIdempotencyKey("cancel-" + ref)
	_, err := p.client.V1PaymentIntents.Cancel(ctx, ref, params)
	if already(err, stripeapi.PaymentIntentStatusCanceled) {
		return nil
	}
	if err != nil {
		return classify("void", err)
	}
	return nil
}

// Refund implements payment.Provider with a Refund of the PaymentIntent.
func (p *Provider) Refund(ctx context.Context, ref string, amount money.Money, key string) error {
	params := &stripeapi.RefundCreateParams{PaymentIntent: stripeapi.String(ref), Amount: stripeapi.Int64(amount.Amount)}
	if key != "" {
		params.SetIdempotencyKey(key)
	}
	if _, err := p.client.V1Refunds.Create(ctx, params); err != nil {
		return classify("refund", err)
	}
	return nil
}

// already reports whether err says that the PaymentIntent is already in
// state want (captured twice, cancelled twice).
func already(err error, want stripeapi.PaymentIntentStatus) bool {
	var se *stripeapi.Error
	return errors.As(err, &se) && se.Code == stripeapi.ErrorCodePaymentIntentUnexpectedState &&
		se.PaymentIntent != nil && se.PaymentIntent.Status == want
}

// classify turns a Stripe error into the provider contract: a card error (or
// a refused payment method) is a *payment.DeclineError, a failure that may go
// away is payment.ErrTransient, anything else stays as it is.
func classify(op string, err error) error {
	var se *stripeapi.Error
	if !errors.As(err, &se) {
		var ne net.Error
		var ue *url.Error
		if errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("stripe %s: %w: %w", op, payment.ErrTransient, err)
		}
		return fmt.Errorf("stripe %s: %w", op, err)
	}
	switch {
	case se.HTTPStatusCode == http.StatusTooManyRequests, se.HTTPStatusCode >= 500,
		se.HTTPStatusCode == http.StatusConflict, se.Code == stripeapi.ErrorCodeLockTimeout,
		se.Type == stripeapi.ErrorTypeAPI && se.HTTPStatusCode == 0:
		return fmt.Errorf("stripe %s: %w: %s", op, payment.ErrTransient, describe(se))
	case se.Type == stripeapi.ErrorTypeCard:
		return Decline(se)
	case se.Type == stripeapi.ErrorTypeInvalidRequest && (se.Param == "payment_method" || se.Code == stripeapi.ErrorCodeResourceMissing) && op == "authorize":
		return &payment.DeclineError{Code: string(se.Code), Reason: "The payment method is not valid."}
	case se.Type == stripeapi.ErrorTypeInvalidRequest && op != "authorize":
		// Over-refunds, captures of cancelled intents: a refusal.
		return &payment.DeclineError{Code: string(se.Code), Reason: se.Msg}
	}
	return fmt.Errorf("stripe %s: %s", op, describe(se))
}

func describe(se *stripeapi.Error) string {
	return fmt.Sprintf("%d %s %s: %s (request %s)", se.HTTPStatusCode, se.Type, se.Code, se.Msg, se.RequestID)
}
