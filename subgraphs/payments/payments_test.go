package payments_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/subgraphs/payments/sandbox"
)

const paymentFields = `
	id
	order { id }
	customer { id }
	amount { amount currency formatted }
	capturedAmount { amount currency }
	refundedAmount { amount currency }
	status provider declineReason declineCode failureReason
	refunds { id amount { amount currency } reason createdAt }
	timeline { type at detail }
	createdAt updatedAt`

type moneyJSON struct {
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Formatted string `json:"formatted"`
}

type paymentJSON struct {
	ID             string `json:"id"`
	Order          struct{ ID string }
	Customer       struct{ ID string }
	Amount         moneyJSON `json:"amount"`
	CapturedAmount moneyJSON `json:"capturedAmount"`
	RefundedAmount moneyJSON `json:"refundedAmount"`
	Status         string    `json:"status"`
	Provider       string    `json:"provider"`
	DeclineReason  *string   `json:"declineReason"`
	DeclineCode    *string   `json:"declineCode"`
	FailureReason  *string   `json:"failureReason"`
	Refunds        []struct {
		ID     string    `json:"id"`
		Amount moneyJSON `json:"amount"`
		Reason string    `json:"reason"`
	} `json:"refunds"`
	Timeline []struct {
		Type   string `json:"type"`
		At     string `json:"at"`
		Detail string `json:"detail"`
	} `json:"timeline"`
}

func (p paymentJSON) timelineTypes() []string {
	var out []string
	for _, e := range p.Timeline {
		out = append(out, e.Type)
	}
	return out
}

func TestReadPayment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	custID, custToken := e.customer(t)
	_, otherToken := e.customer(t)
	authorized := e.pay(t, custID, sandbox.TokenVisa)
	declined := e.pay(t, custID, sandbox.TokenInsufficientFunds)
	const q = `query($id: ID!) { payment(id: $id) {` + paymentFields + `} }`

	t.Run("own authorized payment", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, custToken, q, map[string]any{"id": paymentID(authorized)})
		if len(r.Errors) > 0 {
			t.Fatalf("errors: %+v", r.Errors)
		}
		var p paymentJSON
		r.into(t, "payment", &p)
		if p.ID != paymentID(authorized) || p.Order.ID != orderID(authorized) || p.Customer.ID != gid.Encode("User", custID) ||
			p.Status != "AUTHORIZED" || p.Provider != "sandbox" {
			t.Errorf("payment = %+v", p)
		}
		if p.Amount != (moneyJSON{4999, "USD", "USD 49.99"}) || p.CapturedAmount.Amount != 0 || p.RefundedAmount.Amount != 0 {
			t.Errorf("amounts = %+v %+v %+v", p.Amount, p.CapturedAmount, p.RefundedAmount)
		}
		if p.DeclineCode != nil || p.DeclineReason != nil || p.FailureReason != nil || len(p.Refunds) != 0 {
			t.Errorf("unexpected details: %+v", p)
		}
		if got := p.timelineTypes(); !reflect.DeepEqual(got, []string{"REQUESTED", "AUTHORIZED"}) {
			t.Errorf("timeline = %v", got)
		}
	})
	t.Run("own declined payment", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, custToken, q, map[string]any{"id": paymentID(declined)})
		var p paymentJSON
		r.into(t, "payment", &p)
		if p.Status != "DECLINED" || p.DeclineCode == nil || *p.DeclineCode != "insufficient_funds" ||
			p.DeclineReason == nil || *p.DeclineReason != "Your card has insufficient funds." {
			t.Errorf("payment = %+v", p)
		}
		last := p.Timeline[len(p.Timeline)-1]
		if last.Type != "DECLINED" || !strings.Contains(last.Detail, "insufficient funds") {
			t.Errorf("last event = %+v", last)
		}
	})
	t.Run("another customer's payment is null", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, otherToken, q, map[string]any{"id": paymentID(authorized)})
		if len(r.Errors) > 0 || string(r.Data["payment"]) != "null" {
			t.Errorf("got %s, %+v; want null and no error", r.Data["payment"], r.Errors)
		}
	})
	t.Run("admin sees it", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, e.admin(t), q, map[string]any{"id": paymentID(authorized)})
		var p paymentJSON
		r.into(t, "payment", &p)
		if p.ID != paymentID(authorized) {
			t.Errorf("payment = %+v, %+v", p, r.Errors)
		}
	})
	t.Run("unknown payment is null", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, custToken, q, map[string]any{"id": gid.Encode("Payment", uuid.NewString())})
		if len(r.Errors) > 0 || string(r.Data["payment"]) != "null" {
			t.Errorf("got %s, %+v", r.Data["payment"], r.Errors)
		}
	})
	for name, tc := range map[string]struct{ token, id, code string }{
		"anonymous":        {"", paymentID(authorized), "UNAUTHENTICATED"},
		"malformed ID":     {custToken, "%%%", "INVALID_INPUT"},
		"ID of an order":   {custToken, orderID(authorized), "INVALID_INPUT"},
		"key not a UUID":   {custToken, gid.Encode("Payment", "nope"), ""},
		"bad bearer token": {"garbage", paymentID(authorized), "UNAUTHENTICATED"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := e.do(t, tc.token, q, map[string]any{"id": tc.id})
			if r.code() != tc.code {
				t.Errorf("code = %q (%+v), want %q", r.code(), r.Errors, tc.code)
			}
			if tc.code == "" && string(r.Data["payment"]) != "null" {
				t.Errorf("payment = %s, want null", r.Data["payment"])
			}
		})
	}
}

func TestRefundPayment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	custID, custToken := e.customer(t)
	adminToken := e.admin(t)
	const m = `mutation($id: ID!, $amount: MoneyInput, $reason: String!) {
		refundPayment(id: $id, amount: $amount, reason: $reason) {` + paymentFields + `} }`
	usd := func(n int64) map[string]any { return map[string]any{"amount": n, "currency": "USD"} }

	tests := []struct {
		name     string
		token    string
		payment  func(t *testing.T) string
		amount   map[string]any
		reason   string
		code     string
		field    string
		status   string // after
		refunded int64  // after
	}{
		{"customer is forbidden", custToken, nil, nil, "changed my mind", "FORBIDDEN", "", "CAPTURED", 0},
		{"anonymous", "", nil, nil, "x", "UNAUTHENTICATED", "", "CAPTURED", 0},
		{"admin refunds all", adminToken, nil, nil, "returned", "", "", "REFUNDED", 4999},
		{"admin refunds part", adminToken, nil, usd(1000), "scratched", "", "", "PARTIALLY_REFUNDED", 1000},
		{"more than captured", adminToken, nil, usd(5000), "x", "INVALID_INPUT", "amount", "CAPTURED", 0},
		{"other currency", adminToken, nil, map[string]any{"amount": 10, "currency": "EUR"}, "x", "INVALID_INPUT", "amount", "CAPTURED", 0},
		{"negative amount", adminToken, nil, usd(-1), "x", "INVALID_INPUT", "amount", "CAPTURED", 0},
		{"empty reason", adminToken, nil, nil, "  ", "INVALID_INPUT", "reason", "CAPTURED", 0},
		{"authorized, not captured", adminToken, func(t *testing.T) string { return paymentID(e.pay(t, custID, sandbox.TokenVisa)) }, nil, "x", "CONFLICT", "", "AUTHORIZED", 0},
		{"declined", adminToken, func(t *testing.T) string { return paymentID(e.pay(t, custID, sandbox.TokenDeclined)) }, nil, "x", "CONFLICT", "", "DECLINED", 0},
		{"unknown payment", adminToken, func(*testing.T) string { return gid.Encode("Payment", uuid.NewString()) }, nil, "x", "NOT_FOUND", "", "", 0},
		{"malformed ID", adminToken, func(*testing.T) string { return "***" }, nil, "x", "INVALID_INPUT", "id", "", 0},
		{"malformed ID as customer", custToken, func(*testing.T) string { return "***" }, nil, "x", "FORBIDDEN", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := ""
			if tt.payment != nil {
				id = tt.payment(t)
			} else {
				id = paymentID(e.captured(t, custID))
			}
			vars := map[string]any{"id": id, "reason": tt.reason}
			if tt.amount != nil {
				vars["amount"] = tt.amount
			}
			r := e.do(t, tt.token, m, vars)
			if r.code() != tt.code || (tt.field != "" && r.Errors[0].Extensions.Field != tt.field) {
				t.Fatalf("errors = %+v, want %q on %q", r.Errors, tt.code, tt.field)
			}
			if tt.status == "" {
				return
			}
			// What a reader sees afterwards.
			after := e.do(t, adminToken, `query($id: ID!) { payment(id: $id) {`+paymentFields+`} }`, map[string]any{"id": id})
			var p paymentJSON
			after.into(t, "payment", &p)
			if p.Status != tt.status || p.RefundedAmount.Amount != tt.refunded {
				t.Errorf("after: %s refunded %d, want %s %d", p.Status, p.RefundedAmount.Amount, tt.status, tt.refunded)
			}
			if tt.code != "" {
				if len(p.Refunds) != 0 {
					t.Errorf("refunds after a refused refund: %+v", p.Refunds)
				}
				return
			}
			var got paymentJSON
			r.into(t, "refundPayment", &got)
			if !reflect.DeepEqual(got, p) {
				t.Errorf("mutation returned %+v, a read gives %+v", got, p)
			}
			if len(p.Refunds) != 1 || p.Refunds[0].Amount.Amount != tt.refunded || p.Refunds[0].Reason != tt.reason {
				t.Errorf("refunds = %+v", p.Refunds)
			}
			if types := p.timelineTypes(); types[len(types)-1] != "REFUNDED" {
				t.Errorf("timeline = %v", types)
			}
		})
	}

	t.Run("refund the rest after a partial refund", func(t *testing.T) {
		t.Parallel()
		id := paymentID(e.captured(t, custID))
		if r := e.do(t, adminToken, m, map[string]any{"id": id, "amount": usd(999), "reason": "part"}); len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		if r := e.do(t, adminToken, m, map[string]any{"id": id, "amount": usd(4001), "reason": "too much"}); r.code() != "INVALID_INPUT" {
			t.Fatalf("refund beyond what is left: %+v", r.Errors)
		}
		r := e.do(t, adminToken, m, map[string]any{"id": id, "reason": "rest"})
		var p paymentJSON
		r.into(t, "refundPayment", &p)
		if p.Status != "REFUNDED" || p.RefundedAmount.Amount != 4999 || len(p.Refunds) != 2 || p.Refunds[1].Amount.Amount != 4000 {
			t.Errorf("payment = %+v, %+v", p, r.Errors)
		}
		if r := e.do(t, adminToken, m, map[string]any{"id": id, "reason": "again"}); r.code() != "CONFLICT" {
			t.Errorf("refund of a refunded payment: %+v", r.Errors)
		}
	})
}

func TestOrderPayment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	custID, custToken := e.customer(t)
	_, otherToken := e.customer(t)
	mine := e.pay(t, custID, sandbox.TokenVisa)
	mine2 := e.captured(t, custID)
	const entities = `query($reps: [_Any!]!) { _entities(representations: $reps) {
		... on Order { id payment { id status order { id } } } } }`
	reps := []any{
		map[string]any{"__typename": "Order", "id": orderID(mine)},
		map[string]any{"__typename": "Order", "id": orderID(mine2)},
		map[string]any{"__typename": "Order", "id": gid.Encode("Order", uuid.NewString())},
	}
	type orderJSON struct {
		ID      string `json:"id"`
		Payment *struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Order  struct {
				ID string `json:"id"`
			} `json:"order"`
		} `json:"payment"`
	}

	t.Run("own orders", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, custToken, entities, map[string]any{"reps": reps})
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		var got []orderJSON
		r.into(t, "_entities", &got)
		if len(got) != 3 || got[0].Payment == nil || got[1].Payment == nil {
			t.Fatalf("entities = %+v", got)
		}
		if got[0].ID != orderID(mine) || got[0].Payment.ID != paymentID(mine) || got[0].Payment.Status != "AUTHORIZED" || got[0].Payment.Order.ID != orderID(mine) {
			t.Errorf("first = %+v", got[0])
		}
		if got[1].Payment.ID != paymentID(mine2) || got[1].Payment.Status != "CAPTURED" {
			t.Errorf("second = %+v", got[1])
		}
		if got[2].Payment != nil {
			t.Errorf("an order without payment has %+v", got[2].Payment)
		}
	})
	t.Run("another customer's orders", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, otherToken, entities, map[string]any{"reps": reps})
		var got []orderJSON
		r.into(t, "_entities", &got)
		if len(r.Errors) > 0 || len(got) != 3 || got[0].Payment != nil || got[1].Payment != nil {
			t.Errorf("entities = %+v, %+v; want orders without payments", got, r.Errors)
		}
	})
	t.Run("node of an order", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, custToken, `query($id: ID!) { node(id: $id) { id ... on Order { payment { id } } } }`, map[string]any{"id": orderID(mine)})
		var got orderJSON
		r.into(t, "node", &got)
		if got.ID != orderID(mine) || got.Payment == nil || got.Payment.ID != paymentID(mine) {
			t.Errorf("node = %+v, %+v", got, r.Errors)
		}
	})
	t.Run("node of a payment and a refund", func(t *testing.T) {
		t.Parallel()
		p := e.captured(t, custID)
		adminToken := e.admin(t)
		r := e.do(t, adminToken, `mutation($id: ID!) { refundPayment(id: $id, reason: "returned") { refunds { id } } }`, map[string]any{"id": paymentID(p)})
		var refunded struct{ Refunds []struct{ ID string } }
		r.into(t, "refundPayment", &refunded)
		if len(refunded.Refunds) != 1 {
			t.Fatalf("refund: %+v", r.Errors)
		}
		refundID := refunded.Refunds[0].ID
		const q = `query($id: ID!) { node(id: $id) { id ... on Payment { status } ... on Refund { amount { amount } payment { id } } } }`
		for _, tc := range []struct {
			token, id string
			null      bool
		}{
			{custToken, paymentID(p), false},
			{custToken, refundID, false},
			{otherToken, paymentID(p), true},
			{otherToken, refundID, true},
			{custToken, gid.Encode("Product", "p1"), true},
			{custToken, gid.Encode("User", custID), false},
		} {
			r := e.do(t, tc.token, q, map[string]any{"id": tc.id})
			if len(r.Errors) > 0 || (string(r.Data["node"]) == "null") != tc.null {
				t.Errorf("node(%s) = %s, %+v; want null: %v", tc.id, r.Data["node"], r.Errors, tc.null)
			}
		}
		r = e.do(t, custToken, q, map[string]any{"id": refundID})
		var node struct {
			ID      string
			Amount  struct{ Amount int64 }
			Payment struct{ ID string }
		}
		r.into(t, "node", &node)
		if node.ID != refundID || node.Amount.Amount != 4999 || node.Payment.ID != paymentID(p) {
			t.Errorf("refund node = %+v", node)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, "", entities, map[string]any{"reps": reps[:1]})
		if r.code() != "UNAUTHENTICATED" {
			t.Errorf("errors = %+v", r.Errors)
		}
	})
}

func TestServiceSDL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(t, "", `{ _service { sdl } }`, nil)
	var svc struct{ SDL string }
	r.into(t, "_service", &svc)
	for _, want := range []string{"type Payment implements Node", "type Order implements Node", "refundPayment(", "PARTIALLY_REFUNDED"} {
		if !strings.Contains(svc.SDL, want) {
			t.Errorf("SDL lacks %q", want)
		}
	}
}
