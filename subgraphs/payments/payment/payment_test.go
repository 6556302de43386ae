package payment

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/money"
)

var t0 = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

func usd(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }

// build folds a payment of USD 50.00 through the given steps.
func build(t *testing.T, steps ...string) *Payment {
	t.Helper()
	evs, err := Request("p1", RequestInput{OrderID: "o1", CustomerID: "c1", Amount: usd(5000), IdempotencyKey: "k1", Provider: "sandbox"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	p := Fold(evs)
	for i, step := range steps {
		at := t0.Add(time.Duration(i+1) * time.Minute)
		var evs []Event
		var err error
		switch step {
		case "authorize":
			evs, err = p.Authorize("ch_1", at)
		case "decline":
			evs, err = p.Decline("card_declined", "Your card was declined.", at)
		case "fail":
			evs, err = p.Fail("provider down", at)
		case "capture":
			evs, err = p.Capture(at)
		case "void":
			evs, err = p.Void("cancelled", at)
		case "refund-part":
			amt := usd(2000)
			evs, err = p.Refund("r1", &amt, "damaged", at)
		case "refund-all":
			evs, err = p.Refund("r2", nil, "returned", at)
		default:
			t.Fatalf("unknown step %q", step)
		}
		if err != nil {
			t.Fatalf("step %s: %v", step, err)
		}
		p = p.With(evs...)
	}
	return p
}

func TestFold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		steps    []string
		status   Status
		captured int64
		refunded int64
		version  int
	}{
		{"requested", nil, StatusPending, 0, 0, 1},
		{"authorized", []string{"authorize"}, StatusAuthorized, 0, 0, 2},
		{"declined", []string{"decline"}, StatusDeclined, 0, 0, 2},
		{"failed", []string{"fail"}, StatusFailed, 0, 0, 2},
		{"captured", []string{"authorize", "capture"}, StatusCaptured, 5000, 0, 3},
		{"voided", []string{"authorize", "void"}, StatusVoided, 0, 0, 3},
		{"partially refunded", []string{"authorize", "capture", "refund-part"}, StatusPartiallyRefunded, 5000, 2000, 4},
		{"refunded in two steps", []string{"authorize", "capture", "refund-part", "refund-all"}, StatusRefunded, 5000, 5000, 5},
		{"refunded at once", []string{"authorize", "capture", "refund-all"}, StatusRefunded, 5000, 5000, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := build(t, tt.steps...)
			if p.Status != tt.status || p.Captured != usd(tt.captured) || p.Refunded != usd(tt.refunded) || p.Version != tt.version {
				t.Errorf("got %s captured %s refunded %s version %d, want %s %d %d %d",
					p.Status, p.Captured, p.Refunded, p.Version, tt.status, tt.captured, tt.refunded, tt.version)
			}
			if p.Remaining() != usd(tt.captured-tt.refunded) {
				t.Errorf("remaining = %s", p.Remaining())
			}
			if !p.CreatedAt.Equal(t0) || !p.UpdatedAt.Equal(t0.Add(time.Duration(len(tt.steps))*time.Minute)) {
				t.Errorf("created %v updated %v", p.CreatedAt, p.UpdatedAt)
			}
		})
	}
}

func TestFoldKeepsDeclineDetails(t *testing.T) {
	t.Parallel()
	p := build(t, "decline")
	if p.DeclineCode != "card_declined" || p.DeclineReason != "Your card was declined." {
		t.Errorf("decline = %q %q", p.DeclineCode, p.DeclineReason)
	}
	p = build(t, "authorize", "capture", "refund-part")
	if len(p.Refunds) != 1 || p.Refunds[0].ID != "r1" || p.Refunds[0].Amount != usd(2000) || p.Refunds[0].Reason != "damaged" {
		t.Errorf("refunds = %+v", p.Refunds)
	}
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	states := map[string][]string{
		"PENDING":            nil,
		"AUTHORIZED":         {"authorize"},
		"DECLINED":           {"decline"},
		"FAILED":             {"fail"},
		"CAPTURED":           {"authorize", "capture"},
		"VOIDED":             {"authorize", "void"},
		"PARTIALLY_REFUNDED": {"authorize", "capture", "refund-part"},
		"REFUNDED":           {"authorize", "capture", "refund-all"},
	}
	// want: "event" (one new event), "noop" (nothing new, no error) or an
	// error code.
	tests := []struct {
		state, command, want string
	}{
		{"PENDING", "authorize", "event"},
		{"PENDING", "decline", "event"},
		{"PENDING", "fail", "event"},
		{"PENDING", "capture", apperr.Conflict},
		{"PENDING", "void", apperr.Conflict},
		{"PENDING", "refund", apperr.Conflict},
		{"AUTHORIZED", "authorize", apperr.Conflict},
		{"AUTHORIZED", "decline", apperr.Conflict},
		{"AUTHORIZED", "capture", "event"},
		{"AUTHORIZED", "void", "event"},
		{"AUTHORIZED", "refund", apperr.Conflict},
		{"DECLINED", "authorize", apperr.Conflict},
		{"DECLINED", "capture", apperr.Conflict},
		{"DECLINED", "void", apperr.Conflict},
		{"FAILED", "capture", apperr.Conflict},
		{"CAPTURED", "capture", "noop"},
		{"CAPTURED", "void", apperr.Conflict},
		{"CAPTURED", "refund", "event"},
		{"CAPTURED", "fail", apperr.Conflict},
		{"VOIDED", "capture", apperr.Conflict},
		{"VOIDED", "void", "noop"},
		{"VOIDED", "refund", apperr.Conflict},
		{"PARTIALLY_REFUNDED", "refund", "event"},
		{"PARTIALLY_REFUNDED", "capture", apperr.Conflict},
		{"REFUNDED", "refund", apperr.Conflict},
		{"REFUNDED", "void", apperr.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.state+"/"+tt.command, func(t *testing.T) {
			t.Parallel()
			p := build(t, states[tt.state]...)
			if string(p.Status) != tt.state {
				t.Fatalf("built %s, want %s", p.Status, tt.state)
			}
			at := t0.Add(time.Hour)
			var evs []Event
			var err error
			switch tt.command {
			case "authorize":
				evs, err = p.Authorize("ch_2", at)
			case "decline":
				evs, err = p.Decline("x", "y", at)
			case "fail":
				evs, err = p.Fail("z", at)
			case "capture":
				evs, err = p.Capture(at)
			case "void":
				evs, err = p.Void("", at)
			case "refund":
				evs, err = p.Refund("r9", nil, "goodwill", at)
			}
			switch tt.want {
			case "event":
				if err != nil || len(evs) != 1 {
					t.Fatalf("got %d events, %v; want one event", len(evs), err)
				}
				if evs[0].Version != p.Version+1 || evs[0].PaymentID != p.ID || !evs[0].At.Equal(at) {
					t.Errorf("event = %+v", evs[0])
				}
			case "noop":
				if err != nil || len(evs) != 0 {
					t.Fatalf("got %d events, %v; want none and no error", len(evs), err)
				}
			default:
				if apperr.Code(err) != tt.want || len(evs) != 0 {
					t.Fatalf("got %d events, %v; want %s", len(evs), err, tt.want)
				}
			}
		})
	}
}

func TestRefundAmount(t *testing.T) {
	t.Parallel()
	eur := money.Money{Amount: 100, Currency: "EUR"}
	tests := []struct {
		name   string
		steps  []string
		amount *money.Money
		reason string
		want   money.Money
		code   string
		field  string
	}{
		{"all that is left by default", []string{"authorize", "capture"}, nil, "returned", usd(5000), "", ""},
		{"what is left after a partial refund", []string{"authorize", "capture", "refund-part"}, nil, "returned", usd(3000), "", ""},
		{"part", []string{"authorize", "capture"}, ptr(usd(1)), "goodwill", usd(1), "", ""},
		{"exactly what is left", []string{"authorize", "capture", "refund-part"}, ptr(usd(3000)), "rest", usd(3000), "", ""},
		{"more than what is left", []string{"authorize", "capture", "refund-part"}, ptr(usd(3001)), "rest", money.Money{}, apperr.InvalidInput, "amount"},
		{"more than captured", []string{"authorize", "capture"}, ptr(usd(5001)), "x", money.Money{}, apperr.InvalidInput, "amount"},
		{"another currency", []string{"authorize", "capture"}, &eur, "x", money.Money{}, apperr.InvalidInput, "amount"},
		{"zero", []string{"authorize", "capture"}, ptr(usd(0)), "x", money.Money{}, apperr.InvalidInput, "amount"},
		{"negative", []string{"authorize", "capture"}, ptr(usd(-5)), "x", money.Money{}, apperr.InvalidInput, "amount"},
		{"unknown currency", []string{"authorize", "capture"}, &money.Money{Amount: 5, Currency: "usd"}, "x", money.Money{}, apperr.InvalidInput, "amount"},
		{"blank reason", []string{"authorize", "capture"}, nil, "  ", money.Money{}, apperr.InvalidInput, "reason"},
		{"long reason", []string{"authorize", "capture"}, nil, strings.Repeat("é", MaxReasonLength+1), money.Money{}, apperr.InvalidInput, "reason"},
		{"authorized only", []string{"authorize"}, nil, "x", money.Money{}, apperr.Conflict, ""},
		{"nothing left", []string{"authorize", "capture", "refund-all"}, nil, "x", money.Money{}, apperr.Conflict, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := build(t, tt.steps...)
			got, _, err := p.RefundAmount(tt.amount, tt.reason)
			if tt.code != "" {
				e, ok := apperr.As(err)
				if !ok || e.Code != tt.code || e.Field != tt.field {
					t.Fatalf("err = %v, want %s on field %q", err, tt.code, tt.field)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestRequestValidates(t *testing.T) {
	t.Parallel()
	ok := RequestInput{OrderID: "o", CustomerID: "c", Amount: usd(1), IdempotencyKey: "k"}
	tests := []struct {
		name  string
		edit  func(*RequestInput)
		field string
	}{
		{"valid", func(*RequestInput) {}, ""},
		{"no order", func(in *RequestInput) { in.OrderID = "" }, "orderId"},
		{"no customer", func(in *RequestInput) { in.CustomerID = " " }, "customerId"},
		{"no key", func(in *RequestInput) { in.IdempotencyKey = "" }, "idempotencyKey"},
		{"zero amount", func(in *RequestInput) { in.Amount = usd(0) }, "amount"},
		{"bad currency", func(in *RequestInput) { in.Amount.Currency = "DOLLARS" }, "amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := ok
			tt.edit(&in)
			evs, err := Request("p", in, t0)
			if tt.field == "" {
				if err != nil || len(evs) != 1 || evs[0].Version != 1 {
					t.Fatalf("got %v, %v", evs, err)
				}
				return
			}
			if e, isApp := apperr.As(err); !isApp || e.Code != apperr.InvalidInput || e.Field != tt.field {
				t.Fatalf("err = %v, want INVALID_INPUT on %s", err, tt.field)
			}
		})
	}
}

func TestEventDataRoundTrip(t *testing.T) {
	t.Parallel()
	for _, d := range []EventData{
		Requested{OrderID: "o", CustomerID: "c", Amount: usd(5), IdempotencyKey: "k", Provider: "sandbox"},
		Authorized{Reference: "ch_1"},
		Declined{Code: "card_declined", Reason: "Your card was declined."},
		Failed{Reason: "down"},
		Captured{Amount: usd(5)},
		Voided{Reason: "cancelled"},
		Refunded{RefundID: "r", Amount: usd(2), Reason: "damaged"},
	} {
		t.Run(d.EventType(), func(t *testing.T) {
			t.Parallel()
			raw, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeEventData(d.EventType(), raw)
			if err != nil || got != d {
				t.Fatalf("got %#v, %v; want %#v", got, err, d)
			}
			if d.Describe() == "" {
				t.Error("no description")
			}
		})
	}
	if _, err := DecodeEventData("PaymentTeleported", []byte(`{}`)); err == nil {
		t.Error("unknown type decoded")
	}
}

func TestRetryDelay(t *testing.T) {
	t.Parallel()
	r := retryPolicy{attempts: 10, base: 100 * time.Millisecond, maxDelay: time.Second}
	for n := 1; n <= 8; n++ {
		d := min(r.base<<(n-1), r.maxDelay)
		for range 50 {
			got := r.delay(n)
			if got < d/2 || got > d {
				t.Fatalf("delay(%d) = %v, want within [%v, %v]", n, got, d/2, d)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
