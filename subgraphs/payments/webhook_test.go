package payments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	stripeapi "github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/payments"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
	paymentspg "github.com/shopgraph/shopgraph/subgraphs/payments/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/payments/stripe"
	"github.com/shopgraph/shopgraph/subgraphs/payments/stripe/stripetest"
)

const whsec = "whsec_test_secret"

// stripeEnv is a payments service on Stripe (a stripe-mock behind a proxy)
// with its webhook.
type stripeEnv struct {
	*env
	proxy *stripetest.Proxy
}

func newStripeEnv(t *testing.T) *stripeEnv {
	t.Helper()
	px := stripetest.NewProxy(t, stripetest.Start(t))
	sp, err := stripe.New(stripe.Config{SecretKey: "sk_test_123", APIBase: px.URL})
	if err != nil {
		t.Fatal(err)
	}
	pool := testenv.Postgres(t, "payments", paymentspg.Migrations)
	key, ver := testenv.SigningKey(t)
	svc, err := payments.New(context.Background(), payments.Config{
		DB: pool, Provider: sp, StripeWebhookSecret: whsec, Verifier: ver,
		RetryBase: time.Millisecond, Log: testenv.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler)
	t.Cleanup(srv.Close)
	return &stripeEnv{env: &env{svc: svc, pool: pool, key: key, url: srv.URL}, proxy: px}
}

// authorize makes a payment whose PaymentIntent stripe-mock answers with
// status.
func (e *stripeEnv) authorize(t *testing.T, customerID, status string) *payment.Payment {
	t.Helper()
	e.proxy.Answer(map[string]any{"status": status, "client_secret": "pi_x_secret_" + status})
	return e.pay(t, customerID, "pm_card_visa")
}

// post sends a Stripe event of type typ about object, signed at ts with
// secret, and returns the status and the decoded answer.
func (e *stripeEnv) post(t *testing.T, id, typ string, object map[string]any, secret string, ts time.Time) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(object)
	body, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": stripeapi.APIVersion, "created": ts.Unix(),
		"data": map[string]any{"object": json.RawMessage(raw)},
	})
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: ts})
	req, _ := http.NewRequest(http.MethodPost, e.url+stripe.WebhookPath, bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", signed.Header)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func (e *stripeEnv) load(t *testing.T, id string) *payment.Payment {
	t.Helper()
	ps, err := paymentspg.NewStore(e.pool, nil).Payments(context.Background(), []string{id})
	if err != nil || ps[id] == nil {
		t.Fatalf("load payment %s: %v", id, err)
	}
	evs, err := paymentspg.NewStore(e.pool, nil).Events(context.Background(), []string{id})
	if err != nil {
		t.Fatal(err)
	}
	p := ps[id]
	p.Version = len(evs[id])
	return p
}

// answers returns the types of the answers to the saga about order, in the
// outbox (this service's relay is not running).
func (e *stripeEnv) answers(t *testing.T, orderID string) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT type FROM events_outbox WHERE key = $1 ORDER BY seq`, orderID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func intent(p *payment.Payment, extra map[string]any) map[string]any {
	m := map[string]any{"id": p.Reference, "object": "payment_intent", "amount": p.Amount.Amount, "currency": "usd"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestRequiresActionAndWebhook(t *testing.T) {
	t.Parallel()
	e := newStripeEnv(t)
	customer, token := e.customer(t)

	// 3-D Secure: the payment waits, and its customer sees the client
	// secret to complete it with.
	waiting := e.authorize(t, customer, "requires_action")
	if waiting.Status != payment.StatusRequiresAction || waiting.ClientSecret != "pi_x_secret_requires_action" {
		t.Fatalf("payment = %s %q, want REQUIRES_ACTION with the client secret", waiting.Status, waiting.ClientSecret)
	}
	r := e.do(t, token, `query($id: ID!) { payment(id: $id) { status clientSecret timeline { type } } }`, map[string]any{"id": paymentID(waiting)})
	var got struct {
		Status       string
		ClientSecret *string
		Timeline     []struct{ Type string }
	}
	r.into(t, "payment", &got)
	if got.Status != "REQUIRES_ACTION" || got.ClientSecret == nil || *got.ClientSecret != "pi_x_secret_requires_action" ||
		len(got.Timeline) != 2 || got.Timeline[1].Type != "ACTION_REQUIRED" {
		t.Fatalf("payment through GraphQL = %+v (errors %v)", got, r.Errors)
	}

	if a := e.answers(t, waiting.OrderID); len(a) != 0 {
		t.Fatalf("the saga was answered %v while the customer has to act; it must keep waiting", a)
	}

	now := time.Now()
	tests := []struct {
		name   string
		status string // of the payment the event is about
		event  func(p *payment.Payment) (id, typ string, obj map[string]any)
		secret string
		at     time.Time
		code   int
		want   payment.Status
		check  func(t *testing.T, p *payment.Payment, answer map[string]any)
		// answers are the answers to the saga after the event (none
		// before it for a payment that waits for the customer).
		answers []string
	}{
		{name: "customer completed 3-D Secure", status: "requires_action",
			event: func(p *payment.Payment) (string, string, map[string]any) {
				return "evt_ok_" + p.ID, "payment_intent.amount_capturable_updated", intent(p, map[string]any{"status": "requires_capture"})
			},
			code: 200, want: payment.StatusAuthorized, answers: []string{contract.TypePaymentAuthorized},
			check: func(t *testing.T, p *payment.Payment, _ map[string]any) {
				if p.ClientSecret != "" {
					t.Errorf("client secret %q kept after authorization", p.ClientSecret)
				}
			}},
		{name: "3-D Secure failed", status: "requires_action",
			event: func(p *payment.Payment) (string, string, map[string]any) {
				return "evt_fail_" + p.ID, "payment_intent.payment_failed", intent(p, map[string]any{"status": "requires_payment_method",
					"last_payment_error": map[string]any{"type": "card_error", "code": "card_declined", "decline_code": "authentication_required", "message": "The customer did not authenticate."}})
			},
			code: 200, want: payment.StatusDeclined, answers: []string{contract.TypePaymentDeclined},
			check: func(t *testing.T, p *payment.Payment, _ map[string]any) {
				if p.DeclineCode != "authentication_required" || p.DeclineReason != "The customer did not authenticate." {
					t.Errorf("decline = %s %q", p.DeclineCode, p.DeclineReason)
				}
			}},
		{name: "bad signature", status: "requires_action", secret: "whsec_wrong",
			event: func(p *payment.Payment) (string, string, map[string]any) {
				return "evt_bad_" + p.ID, "payment_intent.amount_capturable_updated", intent(p, nil)
			},
			code: 400, want: payment.StatusRequiresAction},
		{name: "old timestamp", status: "requires_action", at: now.Add(-10 * time.Minute),
			event: func(p *payment.Payment) (string, string, map[string]any) {
				return "evt_old_" + p.ID, "payment_intent.amount_capturable_updated", intent(p, nil)
			},
			code: 400, want: payment.StatusRequiresAction},
		{name: "unknown event type", status: "requires_action",
			event: func(p *payment.Payment) (string, string, map[string]any) {
				return "evt_unknown_" + p.ID, "customer.created", map[string]any{"id": "cus_1", "object": "customer"}
			},
			code: 200, want: payment.StatusRequiresAction,
			check: func(t *testing.T, _ *payment.Payment, answer map[string]any) {
				if answer["ignored"] == nil {
					t.Errorf("answer = %v, want it ignored", answer)
				}
			}},
		{name: "refunded in Stripe's dashboard", status: "requires_capture",
			event: func(p *payment.Payment) (string, string, map[string]any) {
				return "evt_refund_" + p.ID, "charge.refunded", map[string]any{"id": "ch_1", "object": "charge", "payment_intent": p.Reference,
					"amount": p.Amount.Amount, "amount_refunded": 1000, "currency": "usd"}
			},
			code: 200, want: payment.StatusPartiallyRefunded,
			check: func(t *testing.T, p *payment.Payment, _ map[string]any) {
				if p.Refunded != (money.Money{Amount: 1000, Currency: "USD"}) {
					t.Errorf("refunded = %v, want USD 10.00", p.Refunded)
				}
			}},
		{name: "disputed", status: "requires_capture",
			event: func(p *payment.Payment) (string, string, map[string]any) {
				return "evt_dispute_" + p.ID, "charge.dispute.created", map[string]any{"id": "dp_1", "object": "dispute", "payment_intent": p.Reference,
					"amount": p.Amount.Amount, "currency": "usd", "reason": "fraudulent"}
			},
			code: 200, want: payment.StatusCaptured,
			check: func(t *testing.T, p *payment.Payment, _ map[string]any) {
				evs, _ := paymentspg.NewStore(e.pool, nil).Events(context.Background(), []string{p.ID})
				last := evs[p.ID][len(evs[p.ID])-1]
				if d, ok := last.Data.(payment.Disputed); !ok || d.Reason != "fraudulent" {
					t.Errorf("last event = %+v, want the dispute", last)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the proxy's answer is shared by this test's
			// authorizations.
			p := e.authorize(t, customer, tt.status)
			if tt.status == "requires_capture" {
				var err error
				if p, err = e.svc.Payments.Capture(context.Background(), p.OrderID); err != nil {
					t.Fatal(err)
				}
			}
			secret, at := tt.secret, tt.at
			if secret == "" {
				secret = whsec
			}
			if at.IsZero() {
				at = time.Now()
			}
			id, typ, obj := tt.event(p)
			code, answer := e.post(t, id, typ, obj, secret, at)
			if code != tt.code {
				t.Fatalf("status %d (%v), want %d", code, answer, tt.code)
			}
			after := e.load(t, p.ID)
			if after.Status != tt.want {
				t.Fatalf("payment %s, want %s", after.Status, tt.want)
			}
			if tt.check != nil {
				tt.check(t, after, answer)
			}
			if tt.status == "requires_action" {
				if a := e.answers(t, p.OrderID); !slices.Equal(a, tt.answers) {
					t.Errorf("answers to the saga = %v, want %v", a, tt.answers)
				}
			}
			// The same event again (Stripe delivers at least once; or a
			// replay): acknowledged, nothing changes.
			if tt.code == 200 {
				code, answer := e.post(t, id, typ, obj, secret, time.Now())
				again := e.load(t, p.ID)
				if code != 200 || again.Version != after.Version || again.Status != after.Status {
					t.Errorf("replayed: %d %v, payment %s v%d, want unchanged %s v%d", code, answer, again.Status, again.Version, after.Status, after.Version)
				}
				if typ != "customer.created" && answer["duplicate"] != true {
					t.Errorf("replayed event answer = %v, want duplicate", answer)
				}
				if a := e.answers(t, p.OrderID); tt.status == "requires_action" && !slices.Equal(a, tt.answers) {
					t.Errorf("answers to the saga after the replay = %v, want %v", a, tt.answers)
				}
			}
		})
	}

	t.Run("the same refund total reported by another event", func(t *testing.T) {
		p := e.authorize(t, customer, "requires_capture")
		p, err := e.svc.Payments.Capture(context.Background(), p.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		obj := map[string]any{"id": "ch_2", "object": "charge", "payment_intent": p.Reference, "amount": p.Amount.Amount, "amount_refunded": 500, "currency": "usd"}
		for i := range 2 {
			if code, answer := e.post(t, fmt.Sprintf("evt_total_%d_%s", i, uuid.NewString()), "charge.refunded", obj, whsec, time.Now()); code != 200 {
				t.Fatalf("status %d %v", code, answer)
			}
		}
		if after := e.load(t, p.ID); after.Refunded.Amount != 500 || len(after.Refunds) > 1 {
			t.Errorf("refunded %v, want 5.00 once", after.Refunded)
		}
	})

	t.Run("a cancelled checkout voids the waiting payment", func(t *testing.T) {
		p := e.authorize(t, customer, "requires_action")
		e.proxy.Answer(nil)
		v, err := e.svc.Payments.Void(context.Background(), p.OrderID, "timed out waiting for the payment authorization")
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != payment.StatusVoided {
			t.Errorf("status %s, want VOIDED", v.Status)
		}
		calls := e.proxy.Calls()
		if last := calls[len(calls)-1]; last.Path != "/v1/payment_intents/"+p.Reference+"/cancel" {
			t.Errorf("last Stripe call %s, want the cancel of %s", last.Path, p.Reference)
		}
	})
}
