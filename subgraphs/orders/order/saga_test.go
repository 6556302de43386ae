package order

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/money"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

var testSaga = saga{stepTimeout: time.Minute, reservationTTL: 15 * time.Minute}

// placedOrder returns a new PENDING order waiting for its reservation.
func placedOrder() *Order {
	usd := func(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }
	o := Fold([]Event{{OrderID: "o1", Version: 1, At: t0, Data: Placed{
		Number: 7, CustomerID: "c1", Email: "c1@example.com", IdempotencyKey: "key-12345",
		Lines:    []Line{{SKU: "MUG", ProductName: "Mug", VariantName: "Blue", Quantity: 2, UnitPrice: usd(1000)}},
		Subtotal: usd(2000), ShippingCost: usd(500), Total: usd(2500),
		Address:      Address{Recipient: "Ann", Line1: "1 Main St", City: "Springfield", PostalCode: "12345", Country: "US"},
		ShippingCode: "STANDARD", ShippingName: "Standard",
	}}})
	_, o.Saga = testSaga.placed(o, "tok_visa", t0)
	return o
}

// step applies the decision ch to o as the store would.
func step(o *Order, ch Change) *Order {
	next := o.With(stamp(o, ch.At, ch.Events)...)
	if ch.Saga != nil {
		next.Saga = *ch.Saga
	}
	return next
}

type reply struct {
	stream, typ string
	stock       contract.StockResult
	payment     contract.PaymentResult
	shipment    contract.ShipmentResult
}

func stockReply(typ string) reply { return reply{stream: contract.InventoryEvents, typ: typ} }
func payReply(typ string) reply   { return reply{stream: contract.PaymentEvents, typ: typ} }
func shipReply(typ string) reply  { return reply{stream: contract.ShippingEvents, typ: typ} }

func (r reply) decide(o *Order, now time.Time) Change {
	r.stock.OrderID, r.payment.OrderID, r.shipment.OrderID = o.ID, o.ID, o.ID
	switch r.stream {
	case contract.InventoryEvents:
		return testSaga.onStock(o, r.typ, r.stock, now)
	case contract.PaymentEvents:
		return testSaga.onPayment(o, r.typ, r.payment, now)
	}
	return testSaga.onShipment(o, r.typ, r.shipment, now)
}

// types returns the message types of ch.
func types(ch Change) []string {
	var out []string
	for _, m := range ch.Messages {
		out = append(out, m.Type)
	}
	return out
}

// run plays replies on a new order and returns it with the message types
// each reply sent.
func run(t *testing.T, replies ...reply) (*Order, [][]string) {
	t.Helper()
	o := placedOrder()
	now := t0
	var sent [][]string
	for _, r := range replies {
		now = now.Add(time.Second)
		ch := r.decide(o, now)
		sent = append(sent, types(ch))
		o = step(o, ch)
	}
	return o, sent
}

func TestSagaReplies(t *testing.T) {
	t.Parallel()
	happy := []reply{
		stockReply(contract.TypeStockReserved), payReply(contract.TypePaymentAuthorized), stockReply(contract.TypeStockCommitted),
	}
	declined := payReply(contract.TypePaymentDeclined)
	declined.payment.Reason = "Your card has insufficient funds."
	rejected := stockReply(contract.TypeStockRejected)
	rejected.stock.Shortages = []contract.Shortage{{SKU: "MUG", Requested: 2, Available: 1}}

	cases := []struct {
		name      string
		replies   []reply
		status    Status
		step      Step
		lastSent  []string
		reason    string // a substring of the status reason
		noChanges bool   // the last reply changes nothing
	}{
		{name: "reserved asks for the payment", replies: happy[:1], status: StatusAwaitingPayment, step: StepAuthorizePayment, lastSent: []string{contract.TypeAuthorizePayment}},
		{name: "authorized commits the stock", replies: happy[:2], status: StatusAwaitingPayment, step: StepCommitStock, lastSent: []string{contract.TypeCommitStock}},
		{name: "committed confirms and ships", replies: happy, status: StatusConfirmed, step: StepCreateShipment, lastSent: []string{contract.TypeCreateShipment}},
		{name: "rejected lists the short SKUs", replies: []reply{rejected}, status: StatusRejected, step: StepNone, reason: "MUG (2 requested, 1 available)"},
		{name: "declined releases the stock", replies: []reply{happy[0], declined}, status: StatusCancelled, step: StepCompensate,
			lastSent: []string{contract.TypeReleaseStock}, reason: "Payment declined: Your card has insufficient funds."},
		{name: "payment failure releases the stock", replies: []reply{happy[0], payReply(contract.TypePaymentFailed)}, status: StatusCancelled, step: StepCompensate, lastSent: []string{contract.TypeReleaseStock}},
		{name: "a failed commit voids the payment", replies: []reply{happy[0], happy[1], stockReply(contract.TypeStockRejected)}, status: StatusCancelled, step: StepCompensate, lastSent: []string{contract.TypeVoidPayment}},
		{name: "an expired reservation voids the payment", replies: []reply{happy[0], happy[1], stockReply(contract.TypeReservationExpired)}, status: StatusCancelled, step: StepCompensate, lastSent: []string{contract.TypeVoidPayment}, reason: "expired"},
		{name: "expiry while paying voids the payment being authorized", replies: []reply{happy[0], stockReply(contract.TypeReservationExpired)}, status: StatusCancelled, step: StepCompensate, lastSent: []string{contract.TypeVoidPayment}},
		{name: "duplicate reservation changes nothing", replies: []reply{happy[0], happy[0]}, status: StatusAwaitingPayment, step: StepAuthorizePayment, noChanges: true},
		{name: "duplicate authorization changes nothing", replies: []reply{happy[0], happy[1], happy[1]}, status: StatusAwaitingPayment, step: StepCommitStock, noChanges: true},
		{name: "duplicate commit changes nothing", replies: append(slices.Clone(happy), happy[2]), status: StatusConfirmed, step: StepCreateShipment, noChanges: true},
		{name: "a decline after the authorization changes nothing", replies: []reply{happy[0], happy[1], declined}, status: StatusAwaitingPayment, step: StepCommitStock, noChanges: true},
		{name: "shipment created ends the wait", replies: append(slices.Clone(happy), shipReply(contract.TypeShipmentCreated)), status: StatusConfirmed, step: StepNone},
		{name: "shipped captures the payment", replies: append(slices.Clone(happy), shipReply(contract.TypeShipmentShipped)), status: StatusShipped, step: StepCapturePayment, lastSent: []string{contract.TypeCapturePayment}},
		{name: "captured ends the wait", replies: append(slices.Clone(happy), shipReply(contract.TypeShipmentShipped), payReply(contract.TypePaymentCaptured)), status: StatusShipped, step: StepNone},
		{name: "delivered", replies: append(slices.Clone(happy), shipReply(contract.TypeShipmentShipped), payReply(contract.TypePaymentCaptured), shipReply(contract.TypeShipmentDelivered)), status: StatusDelivered, step: StepNone},
		{name: "late reservation of a rejected order is released", replies: []reply{rejected, happy[0]}, status: StatusRejected, step: StepNone, lastSent: []string{contract.TypeReleaseStock}},
		{name: "late authorization of a declined order changes nothing but is voided", replies: []reply{happy[0], declined, happy[1]}, status: StatusCancelled, step: StepCompensate, lastSent: []string{contract.TypeVoidPayment}},
		{name: "release confirmed ends the compensation", replies: []reply{happy[0], declined, stockReply(contract.TypeStockReleased)}, status: StatusCancelled, step: StepNone},
		{name: "a second release confirmation changes nothing", replies: []reply{happy[0], declined, stockReply(contract.TypeStockReleased), stockReply(contract.TypeStockReleased)}, status: StatusCancelled, step: StepNone, noChanges: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, sent := run(t, tc.replies...)
			if o.Status != tc.status || o.Saga.Step != tc.step {
				t.Errorf("status %s, step %q; want %s, %q", o.Status, o.Saga.Step, tc.status, tc.step)
			}
			last := sent[len(sent)-1]
			if tc.lastSent != nil && !slices.Equal(withoutStatus(last, tc.lastSent), tc.lastSent) {
				t.Errorf("last reply sent %v, want %v", last, tc.lastSent)
			}
			if tc.noChanges && len(last) > 0 {
				t.Errorf("last reply sent %v, want nothing", last)
			}
			if !strings.Contains(o.StatusReason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", o.StatusReason, tc.reason)
			}
		})
	}
}

// withoutStatus drops the OrderStatusChanged that the service (not the
// saga) adds, unless want names it.
func withoutStatus(got, want []string) []string {
	if slices.Contains(want, contract.TypeOrderStatusChanged) {
		return got
	}
	return slices.DeleteFunc(slices.Clone(got), func(s string) bool { return s == contract.TypeOrderStatusChanged })
}

func TestSagaStatusChangedEvents(t *testing.T) {
	t.Parallel()
	// Through the service's finish: each status change sends exactly one
	// OrderStatusChanged, with the previous status and the reason.
	s := &Service{saga: testSaga}
	o := placedOrder()
	ch := s.finish(o, testSaga.onStock(o, contract.TypeStockReserved, contract.StockResult{OrderID: o.ID}, t0), t0)
	var got []contract.OrderStatusChanged
	for _, m := range ch.Messages {
		if m.Type == contract.TypeOrderStatusChanged {
			got = append(got, m.Payload.(StatusChanged).OrderStatusChanged)
		}
	}
	if len(got) != 1 || got[0].Status != "AWAITING_PAYMENT" || got[0].Previous != "PENDING" || got[0].Email != "c1@example.com" || got[0].Total.Amount != 2500 {
		t.Fatalf("status changes %+v", got)
	}
	// A change without events (a late reply) sends none.
	o = step(o, ch)
	ch = s.finish(o, testSaga.onStock(o, contract.TypeStockReserved, contract.StockResult{OrderID: o.ID}, t0), t0)
	if len(ch.Messages) != 0 {
		t.Errorf("duplicate sent %v", types(ch))
	}
}

func TestSagaDeadlines(t *testing.T) {
	t.Parallel()
	happy := []reply{
		stockReply(contract.TypeStockReserved), payReply(contract.TypePaymentAuthorized), stockReply(contract.TypeStockCommitted),
	}
	cases := []struct {
		name    string
		replies []reply
		status  Status
		sent    []string
		step    Step
	}{
		{name: "no reservation: cancelled, released", replies: nil, status: StatusCancelled, sent: []string{contract.TypeReleaseStock}, step: StepCompensate},
		{name: "no payment: cancelled, released and voided", replies: happy[:1], status: StatusCancelled, sent: []string{contract.TypeReleaseStock, contract.TypeVoidPayment}, step: StepCompensate},
		{name: "no commit after the pivot: asked again", replies: happy[:2], status: StatusAwaitingPayment, sent: []string{contract.TypeCommitStock}, step: StepCommitStock},
		{name: "no shipment: asked again", replies: happy, status: StatusConfirmed, sent: []string{contract.TypeCreateShipment}, step: StepCreateShipment},
		{name: "no capture: asked again", replies: append(slices.Clone(happy), shipReply(contract.TypeShipmentShipped)), status: StatusShipped, sent: []string{contract.TypeCapturePayment}, step: StepCapturePayment},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, _ := run(t, tc.replies...)
			deadline := o.Saga.Deadline
			if ch := testSaga.onDeadline(o, deadline.Add(-time.Second)); !ch.Empty() {
				t.Fatalf("before the deadline: %v", types(ch))
			}
			ch := testSaga.onDeadline(o, deadline)
			o = step(o, ch)
			if o.Status != tc.status || !slices.Equal(types(ch), tc.sent) || o.Saga.Step != tc.step {
				t.Fatalf("status %s, sent %v, step %q; want %s, %v, %q", o.Status, types(ch), o.Saga.Step, tc.status, tc.sent, tc.step)
			}
			if o.Status == StatusCancelled && !strings.Contains(o.StatusReason, "timed out") {
				t.Errorf("reason %q, want timed out", o.StatusReason)
			}
			if o.Saga.Step != StepCompensate {
				// Asked again: the next wait is longer, and counted.
				if o.Saga.Attempts != 1 || !o.Saga.Deadline.After(deadline.Add(testSaga.stepTimeout)) {
					t.Errorf("saga after a retry: %+v", o.Saga)
				}
			}
		})
	}
}

// TestSagaDeadlineWhileUnsent: a step whose command is still in the outbox
// (the relay or Redis down) has not started; its time counts from when it
// can run, but a reservation is not waited for past its lifetime.
func TestSagaDeadlineWhileUnsent(t *testing.T) {
	t.Parallel()
	happy := []reply{stockReply(contract.TypeStockReserved), payReply(contract.TypePaymentAuthorized)}
	cases := []struct {
		name    string
		replies []reply
		after   time.Duration // since the order was placed
		status  Status
		sent    []string
		waits   bool // the same step, a new deadline, nothing sent
	}{
		{name: "reservation unsent: waits", after: 2 * time.Minute, status: StatusPending, waits: true},
		{name: "reservation unsent past its lifetime: cancelled", after: 15 * time.Minute, status: StatusCancelled, sent: []string{contract.TypeReleaseStock}},
		{name: "payment unsent: waits", replies: happy[:1], after: 5 * time.Minute, status: StatusAwaitingPayment, waits: true},
		{name: "commit unsent: waits, not sent twice", replies: happy, after: time.Hour, status: StatusAwaitingPayment, waits: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, _ := run(t, tc.replies...)
			before := o.Saga
			o.Saga.Unsent = true
			now := t0.Add(tc.after)
			ch := testSaga.onDeadline(o, now)
			next := step(o, ch)
			if next.Status != tc.status || !slices.Equal(types(ch), tc.sent) {
				t.Fatalf("status %s, sent %v; want %s, %v", next.Status, types(ch), tc.status, tc.sent)
			}
			if tc.waits {
				want := Saga{Step: before.Step, Deadline: now.Add(testSaga.stepTimeout), Attempts: before.Attempts, PaymentToken: before.PaymentToken}
				if next.Saga != want {
					t.Errorf("saga %+v, want %+v", next.Saga, want)
				}
			}
		})
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	happy := []reply{
		stockReply(contract.TypeStockReserved), payReply(contract.TypePaymentAuthorized), stockReply(contract.TypeStockCommitted),
	}
	cases := []struct {
		name    string
		replies []reply
		sent    []string
		restock bool
	}{
		{name: "pending", sent: []string{contract.TypeReleaseStock}},
		{name: "awaiting payment", replies: happy[:1], sent: []string{contract.TypeReleaseStock, contract.TypeVoidPayment}},
		{name: "committing", replies: happy[:2], sent: []string{contract.TypeReleaseStock, contract.TypeVoidPayment}, restock: true},
		{name: "confirmed", replies: happy, sent: []string{contract.TypeReleaseStock, contract.TypeVoidPayment, contract.TypeCancelShipment}, restock: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, _ := run(t, tc.replies...)
			ch := testSaga.cancel(o, "changed my mind", ByCustomer, t0.Add(time.Hour))
			o = step(o, ch)
			if o.Status != StatusCancelled || !slices.Equal(types(ch), tc.sent) || o.Saga.Step != StepCompensate {
				t.Fatalf("status %s, sent %v, step %q", o.Status, types(ch), o.Saga.Step)
			}
			if rs := ch.Messages[0].Payload.(contract.ReleaseStock); rs.Restock != tc.restock {
				t.Errorf("restock %v, want %v", rs.Restock, tc.restock)
			}
			if o.StatusReason != "Cancelled by the customer: changed my mind." {
				t.Errorf("reason %q", o.StatusReason)
			}
			// Late replies to what was in flight are compensated too.
			if len(tc.replies) < 3 {
				late := happy[len(tc.replies)].decide(o, t0.Add(2*time.Hour))
				want := map[int][]string{0: {contract.TypeReleaseStock}, 1: {contract.TypeVoidPayment}, 2: {contract.TypeReleaseStock}}[len(tc.replies)]
				if !slices.Equal(types(late), want) || len(late.Events) != 0 {
					t.Errorf("late %s: sent %v, events %v; want %v and no events", happy[len(tc.replies)].typ, types(late), late.Events, want)
				}
			}
			// The compensation ends once each is confirmed.
			for _, r := range []reply{stockReply(contract.TypeStockReleased), payReply(contract.TypePaymentVoided), shipReply(contract.TypeShipmentCancelled)}[:len(tc.sent)] {
				o = step(o, r.decide(o, t0.Add(3*time.Hour)))
			}
			if o.Saga.Step != StepNone {
				t.Errorf("after the confirmations: step %q", o.Saga.Step)
			}
		})
	}
}

func TestRefunds(t *testing.T) {
	t.Parallel()
	refund := func(amount int64) reply {
		r := payReply(contract.TypePaymentRefunded)
		r.payment.Amount = money.Money{Amount: amount, Currency: "USD"}
		r.payment.Reason = "damaged in transit"
		return r
	}
	shipped := []reply{
		stockReply(contract.TypeStockReserved), payReply(contract.TypePaymentAuthorized), stockReply(contract.TypeStockCommitted),
		shipReply(contract.TypeShipmentShipped), payReply(contract.TypePaymentCaptured),
	}
	o, _ := run(t, append(slices.Clone(shipped), refund(1000))...)
	if o.Status != StatusShipped || o.Progress.Refunded.Amount != 1000 {
		t.Errorf("after a partial refund: %s, refunded %v", o.Status, o.Progress.Refunded)
	}
	o, _ = run(t, append(slices.Clone(shipped), refund(1000), refund(1500))...)
	if o.Status != StatusRefunded || o.StatusReason != "Refunded in full (USD 25.00): damaged in transit." {
		t.Errorf("after refunding all of USD 25.00: %s (%s)", o.Status, o.StatusReason)
	}
}
