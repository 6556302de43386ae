package stripe_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
	"github.com/shopgraph/shopgraph/subgraphs/payments/stripe"
	"github.com/shopgraph/shopgraph/subgraphs/payments/stripe/stripetest"
)

func usd(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }

func newProvider(t *testing.T, mock string) (*stripe.Provider, *stripetest.Proxy) {
	t.Helper()
	px := stripetest.NewProxy(t, mock)
	p, err := stripe.New(stripe.Config{SecretKey: "sk_test_123", APIBase: px.URL})
	if err != nil {
		t.Fatal(err)
	}
	return p, px
}

const cardError = `{"error":{"type":"card_error","code":"card_declined","decline_code":"%s","message":"%s"}}`

func TestAuthorize(t *testing.T) {
	t.Parallel()
	mock := stripetest.Start(t)
	tests := []struct {
		name     string
		token    string
		answer   map[string]any
		fail     []stripetest.Failure
		want     payment.AuthorizeResult // Reference "" means: any pi_ ID
		decline  string                  // code of the expected decline
		reason   string
		rejected bool // refused without calling Stripe
		transit  bool // a transient error
	}{
		{name: "held for capture", token: "pm_card_visa", answer: map[string]any{"status": "requires_capture"}},
		{name: "3-D Secure needs the customer", token: "pm_card_threeDSecure2Required",
			answer: map[string]any{"status": "requires_action", "client_secret": "pi_3ds_secret_abc"},
			want:   payment.AuthorizeResult{ActionRequired: true, ClientSecret: "pi_3ds_secret_abc"}},
		{name: "refused after confirmation", token: "pm_card_chargeDeclinedInsufficientFunds",
			answer: map[string]any{"status": "requires_payment_method", "last_payment_error": map[string]any{
				"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}},
			decline: "insufficient_funds", reason: "Your card has insufficient funds."},
		{name: "card error", token: "pm_card_chargeDeclined",
			fail:    []stripetest.Failure{{Status: 402, Body: `{"error":{"type":"card_error","code":"card_declined","decline_code":"stolen_card","message":"Your card was declined."}}`}},
			decline: "stolen_card", reason: "Your card was declined."},
		{name: "unknown payment method", token: "pm_nope",
			fail:    []stripetest.Failure{{Status: 400, Body: `{"error":{"type":"invalid_request_error","code":"resource_missing","param":"payment_method","message":"No such PaymentMethod: 'pm_nope'"}}`}},
			decline: "resource_missing", reason: "The payment method is not valid."},
		{name: "not a payment method", token: "tok_visa", decline: "invalid_token", rejected: true},
		{name: "rate limited", token: "pm_card_visa", fail: []stripetest.Failure{{Status: 429}}, transit: true},
		{name: "server error", token: "pm_card_visa", fail: []stripetest.Failure{{Status: 503}}, transit: true},
		{name: "connection dropped", token: "pm_card_visa", fail: []stripetest.Failure{{Status: 0}}, transit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, px := newProvider(t, mock)
			px.Answer(tt.answer)
			px.Fail(tt.fail...)
			res, err := p.Authorize(context.Background(), payment.AuthorizeRequest{
				Token: tt.token, Amount: usd(4999), IdempotencyKey: "payment-" + tt.name,
			})
			calls := px.Calls()
			switch {
			case tt.rejected:
				if len(calls) != 0 {
					t.Errorf("Stripe was called: %+v", calls)
				}
			case len(calls) != 1:
				t.Fatalf("calls = %+v, want one", calls)
			default:
				c := calls[0]
				if c.Method != "POST" || c.Path != "/v1/payment_intents" || c.IdempotencyKey != "payment-"+tt.name {
					t.Errorf("call = %s %s key %q", c.Method, c.Path, c.IdempotencyKey)
				}
				for k, v := range map[string]string{"amount": "4999", "currency": "usd", "capture_method": "manual", "confirm": "true", "payment_method": tt.token} {
					if got := c.Form.Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
				if tt.fail == nil && c.Status != 200 {
					t.Errorf("stripe-mock answered %d: the request does not match Stripe's API", c.Status)
				}
			}
			if tt.transit {
				if !errors.Is(err, payment.ErrTransient) {
					t.Fatalf("err = %v, want ErrTransient", err)
				}
				return
			}
			if tt.decline != "" {
				d, ok := payment.AsDecline(err)
				if !ok || d.Code != tt.decline || (tt.reason != "" && d.Reason != tt.reason) {
					t.Fatalf("err = %v, want decline %s %q", err, tt.decline, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Reference) < 4 || res.Reference[:3] != "pi_" {
				t.Errorf("reference = %q, want a PaymentIntent ID", res.Reference)
			}
			if res.ActionRequired != tt.want.ActionRequired || res.ClientSecret != tt.want.ClientSecret {
				t.Errorf("result = %+v, want %+v", res, tt.want)
			}
		})
	}
}

func TestCaptureVoidRefund(t *testing.T) {
	t.Parallel()
	mock := stripetest.Start(t)
	const ref = "pi_123"
	tests := []struct {
		name     string
		call     func(*stripe.Provider) error
		fail     []stripetest.Failure
		path     string
		key      string
		form     map[string]string
		decline  string
		transit  bool
		accepted bool // an "already done" answer counts as success
	}{
		{name: "capture", call: func(p *stripe.Provider) error { return p.Capture(context.Background(), ref, usd(4999)) },
			path: "/v1/payment_intents/pi_123/capture", key: "capture-pi_123", form: map[string]string{"amount_to_capture": "4999"}},
		{name: "capture again", call: func(p *stripe.Provider) error { return p.Capture(context.Background(), ref, usd(4999)) },
			fail: []stripetest.Failure{{Status: 400, Body: `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"already captured","payment_intent":{"id":"pi_123","object":"payment_intent","status":"succeeded"}}}`}},
			path: "/v1/payment_intents/pi_123/capture", key: "capture-pi_123", accepted: true},
		{name: "capture of a cancelled intent", call: func(p *stripe.Provider) error { return p.Capture(context.Background(), ref, usd(4999)) },
			fail: []stripetest.Failure{{Status: 400, Body: `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"This PaymentIntent could not be captured because it has a status of canceled.","payment_intent":{"id":"pi_123","object":"payment_intent","status":"canceled"}}}`}},
			path: "/v1/payment_intents/pi_123/capture", key: "capture-pi_123", decline: "payment_intent_unexpected_state"},
		{name: "void", call: func(p *stripe.Provider) error { return p.Void(context.Background(), ref) },
			path: "/v1/payment_intents/pi_123/cancel", key: "cancel-pi_123"},
		{name: "void again", call: func(p *stripe.Provider) error { return p.Void(context.Background(), ref) },
			fail: []stripetest.Failure{{Status: 400, Body: `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"already canceled","payment_intent":{"id":"pi_123","object":"payment_intent","status":"canceled"}}}`}},
			path: "/v1/payment_intents/pi_123/cancel", key: "cancel-pi_123", accepted: true},
		{name: "refund", call: func(p *stripe.Provider) error { return p.Refund(context.Background(), ref, usd(1000), "refund-r1") },
			path: "/v1/refunds", key: "refund-r1", form: map[string]string{"payment_intent": "pi_123", "amount": "1000"}},
		{name: "refund of more than is left", call: func(p *stripe.Provider) error { return p.Refund(context.Background(), ref, usd(9999), "refund-r2") },
			fail: []stripetest.Failure{{Status: 400, Body: `{"error":{"type":"invalid_request_error","code":"amount_too_large","message":"Refund amount is greater than unrefunded amount on charge."}}`}},
			path: "/v1/refunds", key: "refund-r2", decline: "amount_too_large"},
		{name: "capture during an outage", call: func(p *stripe.Provider) error { return p.Capture(context.Background(), ref, usd(4999)) },
			fail: []stripetest.Failure{{Status: 500}}, path: "/v1/payment_intents/pi_123/capture", key: "capture-pi_123", transit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, px := newProvider(t, mock)
			px.Fail(tt.fail...)
			err := tt.call(p)
			calls := px.Calls()
			if len(calls) != 1 {
				t.Fatalf("calls = %+v, want one", calls)
			}
			c := calls[0]
			if c.Path != tt.path || c.IdempotencyKey != tt.key {
				t.Errorf("call = %s key %q, want %s key %q", c.Path, c.IdempotencyKey, tt.path, tt.key)
			}
			for k, v := range tt.form {
				if got := c.Form.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tt.fail == nil && c.Status != 200 {
				t.Errorf("stripe-mock answered %d: the request does not match Stripe's API", c.Status)
			}
			switch {
			case tt.transit:
				if !errors.Is(err, payment.ErrTransient) {
					t.Errorf("err = %v, want ErrTransient", err)
				}
			case tt.decline != "":
				if d, ok := payment.AsDecline(err); !ok || d.Code != tt.decline {
					t.Errorf("err = %v, want decline %s", err, tt.decline)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestNewNeedsASecretKey(t *testing.T) {
	t.Parallel()
	if _, err := stripe.New(stripe.Config{}); err == nil {
		t.Fatal("New without a secret key succeeded")
	}
}
