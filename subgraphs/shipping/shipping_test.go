package shipping_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/testenv"
	shippingpg "github.com/shopgraph/shopgraph/subgraphs/shipping/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/sandbox"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

type methodJSON struct {
	Code          string
	Name          string
	Description   string
	EstimatedDays int
	Price         struct {
		Amount    int64
		Currency  string
		Formatted string
	}
}

func TestShippingMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	const q = `query($c: String!) { shippingMethods(currency: $c) { code name description estimatedDays price { amount currency formatted } } }`
	for _, tc := range []struct {
		name, currency string
		want           []string // code price days
		code           string
	}{
		{"USD", "USD", []string{"STANDARD USD 5.99 5", "EXPRESS USD 14.99 2", "OVERNIGHT USD 29.99 1"}, ""},
		{"EUR", "EUR", []string{"STANDARD EUR 5.49 5", "EXPRESS EUR 12.99 2", "OVERNIGHT EUR 26.99 1"}, ""},
		{"GBP", "GBP", []string{"STANDARD GBP 4.99 5", "EXPRESS GBP 11.99 2", "OVERNIGHT GBP 24.99 1"}, ""},
		{"a currency shipping is not priced in", "JPY", nil, "INVALID_INPUT"},
		{"lower case", "usd", nil, "INVALID_INPUT"},
		{"not a currency", "ZZZ", nil, "INVALID_INPUT"},
		{"empty", "", nil, "INVALID_INPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Public: no token.
			r := e.do(t, "", q, map[string]any{"c": tc.currency})
			if r.code() != tc.code {
				t.Fatalf("code = %q (%+v), want %q", r.code(), r.Errors, tc.code)
			}
			if tc.code != "" {
				if string(r.Data["shippingMethods"]) != "" && string(r.Data["shippingMethods"]) != "null" {
					t.Errorf("data = %s alongside the error", r.Data["shippingMethods"])
				}
				return
			}
			var ms []methodJSON
			r.into(t, "shippingMethods", &ms)
			var got []string
			for _, m := range ms {
				got = append(got, fmt.Sprintf("%s %s %d", m.Code, m.Price.Formatted, m.EstimatedDays))
				if m.Name == "" || m.Description == "" || m.Price.Currency != tc.currency {
					t.Errorf("method %+v", m)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("methods = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("JPY names the currencies there are", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, "", q, map[string]any{"c": "JPY"})
		if len(r.Errors) != 1 || r.Errors[0].Message != "shipping is not priced in JPY; use one of EUR, GBP, USD" || r.Errors[0].Extensions.Field != "currency" {
			t.Errorf("errors = %+v", r.Errors)
		}
	})
	t.Run("USD is the default", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, "", `{ shippingMethods { code price { amount currency } } }`, nil)
		var ms []methodJSON
		r.into(t, "shippingMethods", &ms)
		if len(ms) != 3 || ms[0].Code != "STANDARD" || ms[0].Price.Amount != 599 || ms[0].Price.Currency != "USD" {
			t.Errorf("methods = %+v", ms)
		}
	})
}

const shipmentFields = `
	id order { id } customer { id } method carrier trackingNumber status
	address { recipient line1 line2 city region postalCode country phone }
	lines { sku quantity } cancellationReason
	events { status description location at }
	createdAt updatedAt`

type shipmentJSON struct {
	ID             string
	Order          struct{ ID string }
	Customer       struct{ ID string }
	Method         string
	Carrier        *string
	TrackingNumber *string
	Status         string
	Address        map[string]*string
	Lines          []struct {
		SKU      string
		Quantity int
	}
	CancellationReason *string
	Events             []struct {
		Status      string
		Description string
		Location    *string
		At          string
	}
}

func (s shipmentJSON) eventStatuses() []string {
	var out []string
	for _, e := range s.Events {
		out = append(out, e.Status)
	}
	return out
}

func TestReadShipment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	custID, custToken := e.customer(t)
	_, otherToken := e.customer(t)
	sh := e.ship(t, custID, 2) // OUT_FOR_DELIVERY
	const q = `query($id: ID!) { shipment(id: $id) {` + shipmentFields + `} }`

	t.Run("own shipment", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, custToken, q, map[string]any{"id": shipmentID(sh)})
		var s shipmentJSON
		r.into(t, "shipment", &s)
		if s.ID != shipmentID(sh) || s.Order.ID != orderID(sh) || s.Customer.ID != gid.Encode("User", custID) ||
			s.Method != "EXPRESS" || s.Status != "OUT_FOR_DELIVERY" || s.CancellationReason != nil {
			t.Errorf("shipment = %+v", s)
		}
		if s.Carrier == nil || *s.Carrier != "sandbox" || s.TrackingNumber == nil || *s.TrackingNumber != sandbox.TrackingNumber(sh.ID) {
			t.Errorf("carrier %v, tracking %v", s.Carrier, s.TrackingNumber)
		}
		if *s.Address["recipient"] != "Ada Lovelace" || *s.Address["city"] != "London" || *s.Address["country"] != "GB" || s.Address["line2"] != nil {
			t.Errorf("address = %v", s.Address)
		}
		if len(s.Lines) != 2 || s.Lines[0].SKU != "MUG-BLUE" || s.Lines[0].Quantity != 2 {
			t.Errorf("lines = %+v", s.Lines)
		}
		if got := s.eventStatuses(); !slices.Equal(got, []string{"PENDING", "LABEL_CREATED", "IN_TRANSIT", "OUT_FOR_DELIVERY"}) {
			t.Errorf("events = %v", got)
		}
		if last := s.Events[3]; last.Location == nil || *last.Location != "London, GB" || last.Description != "Out for delivery" {
			t.Errorf("last event = %+v", last)
		}
	})
	t.Run("node of own shipment", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, custToken, `query($id: ID!) { node(id: $id) { id ... on Shipment { status } } }`, map[string]any{"id": shipmentID(sh)})
		var s shipmentJSON
		r.into(t, "node", &s)
		if s.ID != shipmentID(sh) || s.Status != "OUT_FOR_DELIVERY" {
			t.Errorf("node = %+v", s)
		}
	})
	t.Run("admin sees it", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, e.admin(t), q, map[string]any{"id": shipmentID(sh)})
		var s shipmentJSON
		r.into(t, "shipment", &s)
		if s.ID != shipmentID(sh) {
			t.Errorf("shipment = %+v, %+v", s, r.Errors)
		}
	})
	for _, tc := range []struct {
		name, token, id, code string
	}{
		{"another customer's shipment is null", otherToken, shipmentID(sh), ""},
		{"node of another customer's shipment is null", otherToken, shipmentID(sh), ""},
		{"unknown shipment is null", custToken, gid.Encode("Shipment", uuid.NewString()), ""},
		{"key not a UUID is null", custToken, gid.Encode("Shipment", "nope"), ""},
		{"anonymous", "", shipmentID(sh), "UNAUTHENTICATED"},
		{"malformed ID", custToken, "%%%", "INVALID_INPUT"},
		{"ID of an order", custToken, orderID(sh), "INVALID_INPUT"},
		{"bad bearer token", "garbage", shipmentID(sh), "UNAUTHENTICATED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			query, field := q, "shipment"
			if strings.HasPrefix(tc.name, "node") {
				query, field = `query($id: ID!) { node(id: $id) { id } }`, "node"
			}
			r := e.do(t, tc.token, query, map[string]any{"id": tc.id})
			if r.code() != tc.code {
				t.Errorf("code = %q (%+v), want %q", r.code(), r.Errors, tc.code)
			}
			if tc.code == "" && string(r.Data[field]) != "null" {
				t.Errorf("%s = %s, want null", field, r.Data[field])
			}
		})
	}
}

func TestAdvanceShipment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	custID, custToken := e.customer(t)
	adminToken := e.admin(t)
	const advance = `mutation($id: ID!) { advanceShipment(id: $id) { id status trackingNumber events { status description } } }`

	t.Run("to delivered, one status at a time", func(t *testing.T) {
		t.Parallel()
		sh := e.ship(t, custID, 0)
		for _, want := range []string{"IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"} {
			r := e.do(t, adminToken, advance, map[string]any{"id": shipmentID(sh)})
			var s shipmentJSON
			r.into(t, "advanceShipment", &s)
			if s.Status != want || s.eventStatuses()[len(s.Events)-1] != want {
				t.Fatalf("advanced to %s (events %v), want %s", s.Status, s.eventStatuses(), want)
			}
		}
		r := e.do(t, adminToken, advance, map[string]any{"id": shipmentID(sh)})
		if r.code() != "CONFLICT" || string(r.Data["advanceShipment"]) != "" && string(r.Data["advanceShipment"]) != "null" {
			t.Errorf("advancing a delivered shipment: %+v, data %s", r.Errors, r.Data)
		}
		if got := e.status(t, sh.ID); got != shipment.StatusDelivered {
			t.Errorf("status after the refused advance = %s", got)
		}
	})
	t.Run("a pending shipment gets its label", func(t *testing.T) {
		t.Parallel()
		sh := e.pending(t, custID)
		r := e.do(t, adminToken, advance, map[string]any{"id": shipmentID(sh)})
		var s shipmentJSON
		r.into(t, "advanceShipment", &s)
		if s.Status != "LABEL_CREATED" || s.TrackingNumber == nil || *s.TrackingNumber != sandbox.TrackingNumber(sh.ID) {
			t.Errorf("advanced = %+v, %+v", s, r.Errors)
		}
	})
	cancelled := e.ship(t, custID, 0)
	if _, err := e.svc.Shipping.Cancel(adminCtx(), cancelled.ID, "damaged"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token, id, code string
	}{
		{"cancelled", adminToken, shipmentID(cancelled), "CONFLICT"},
		{"customer", custToken, shipmentID(cancelled), "FORBIDDEN"},
		{"customer with a malformed ID", custToken, "%%%", "FORBIDDEN"},
		{"anonymous", "", shipmentID(cancelled), "UNAUTHENTICATED"},
		{"unknown", adminToken, gid.Encode("Shipment", uuid.NewString()), "NOT_FOUND"},
		{"key not a UUID", adminToken, gid.Encode("Shipment", "x"), "NOT_FOUND"},
		{"malformed ID", adminToken, "%%%", "INVALID_INPUT"},
		{"ID of an order", adminToken, orderID(cancelled), "INVALID_INPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.do(t, tc.token, advance, map[string]any{"id": tc.id})
			if r.code() != tc.code {
				t.Errorf("code = %q (%+v), want %q", r.code(), r.Errors, tc.code)
			}
		})
	}
	if got := e.status(t, cancelled.ID); got != shipment.StatusCancelled {
		t.Errorf("cancelled shipment is %s after refused advances", got)
	}
}

func TestCancelShipment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	custID, custToken := e.customer(t)
	adminToken := e.admin(t)
	const cancel = `mutation($id: ID!, $reason: String!) { cancelShipment(id: $id, reason: $reason) {
		id status cancellationReason events { status description } } }`

	t.Run("labelled", func(t *testing.T) {
		t.Parallel()
		sh := e.ship(t, custID, 0)
		r := e.do(t, adminToken, cancel, map[string]any{"id": shipmentID(sh), "reason": "  address is a warehouse  "})
		var s shipmentJSON
		r.into(t, "cancelShipment", &s)
		if s.Status != "CANCELLED" || s.CancellationReason == nil || *s.CancellationReason != "address is a warehouse" {
			t.Errorf("cancelled = %+v", s)
		}
		if last := s.Events[len(s.Events)-1]; last.Status != "CANCELLED" || last.Description != "Cancelled: address is a warehouse" {
			t.Errorf("last event = %+v", last)
		}
		if !e.carrier.Voided(sandbox.TrackingNumber(sh.ID)) {
			t.Error("the label was not voided")
		}
		// The order's checkout learns of it.
		if got := e.outbox(t, sh.OrderID); !slices.Equal(got, []string{contract.TypeShipmentCreated, contract.TypeShipmentCancelled}) {
			t.Errorf("outbox = %v", got)
		}
		// Again: CONFLICT, nothing changes.
		r = e.do(t, adminToken, cancel, map[string]any{"id": shipmentID(sh), "reason": "again"})
		if r.code() != "CONFLICT" {
			t.Errorf("second cancel: %+v", r.Errors)
		}
		if got := e.outbox(t, sh.OrderID); len(got) != 2 {
			t.Errorf("outbox after the second cancel = %v", got)
		}
	})
	t.Run("pending", func(t *testing.T) {
		t.Parallel()
		sh := e.pending(t, custID)
		r := e.do(t, adminToken, cancel, map[string]any{"id": shipmentID(sh), "reason": "out of stock"})
		var s shipmentJSON
		r.into(t, "cancelShipment", &s)
		if s.Status != "CANCELLED" {
			t.Errorf("cancelled = %+v, %+v", s, r.Errors)
		}
	})
	inTransit := e.ship(t, custID, 1)
	delivered := e.ship(t, custID, 3)
	for _, tc := range []struct {
		name, token, id, reason, code string
		status                        shipment.Status
	}{
		{"in transit", adminToken, shipmentID(inTransit), "too late", "CONFLICT", shipment.StatusInTransit},
		{"delivered", adminToken, shipmentID(delivered), "too late", "CONFLICT", shipment.StatusDelivered},
		{"customer", custToken, shipmentID(inTransit), "mine", "FORBIDDEN", shipment.StatusInTransit},
		{"anonymous", "", shipmentID(inTransit), "x", "UNAUTHENTICATED", shipment.StatusInTransit},
		{"empty reason", adminToken, shipmentID(inTransit), "   ", "INVALID_INPUT", shipment.StatusInTransit},
		{"reason too long", adminToken, shipmentID(inTransit), strings.Repeat("x", 501), "INVALID_INPUT", shipment.StatusInTransit},
		{"unknown", adminToken, gid.Encode("Shipment", uuid.NewString()), "x", "NOT_FOUND", ""},
		{"malformed ID", adminToken, "not-an-id", "x", "INVALID_INPUT", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.do(t, tc.token, cancel, map[string]any{"id": tc.id, "reason": tc.reason})
			if r.code() != tc.code {
				t.Errorf("code = %q (%+v), want %q", r.code(), r.Errors, tc.code)
			}
			if tc.status != "" {
				key, _ := gid.DecodeAs(tc.id, "Shipment")
				if got := e.status(t, key); got != tc.status {
					t.Errorf("status = %s, want %s unchanged", got, tc.status)
				}
			}
		})
	}
}

// pending returns a PENDING shipment of customerID: the carrier was down
// when the saga asked for it. (The env's carrier stays up: other subtests
// run meanwhile.)
func (e *env) pending(t *testing.T, customerID string) *shipment.Shipment {
	t.Helper()
	down := sandbox.New()
	down.SetDown(true)
	svc := shipment.NewService(shipment.Config{Store: shippingpg.NewStore(e.pool, nil), Carrier: down, Log: testenv.Logger()})
	cmd := createCmd(customerID)
	if sh, err := svc.Create(context.Background(), cmd); err != nil || sh.Status != shipment.StatusPending {
		t.Fatalf("create with the carrier down: %+v, %v", sh, err)
	}
	shs, err := e.svc.Shipping.OrderShipments(adminCtx(), []string{cmd.OrderID})
	if err != nil || len(shs[cmd.OrderID]) != 1 || shs[cmd.OrderID][0].Status != shipment.StatusPending {
		t.Fatalf("shipments of the order: %+v, %v", shs, err)
	}
	return &shs[cmd.OrderID][0]
}

// status returns the status of shipment id in the database.
func (e *env) status(t *testing.T, id string) shipment.Status {
	t.Helper()
	var s string
	if err := e.pool.QueryRow(context.Background(), `SELECT status FROM shipments WHERE id = $1`, id).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return shipment.Status(s)
}

// outbox returns the types of the messages about orderID waiting in the
// outbox (Run is not started), oldest first.
func (e *env) outbox(t *testing.T, orderID string) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT type FROM events_outbox WHERE key = $1 ORDER BY seq`, orderID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestOrderShipments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	custID, custToken := e.customer(t)
	_, otherToken := e.customer(t)
	a := e.ship(t, custID, 1)
	b := e.ship(t, custID, 0)
	const entities = `query($reps: [_Any!]!) { _entities(representations: $reps) {
		... on Order { id shipments { id status order { id } events { status } } } } }`
	reps := []any{
		map[string]any{"__typename": "Order", "id": orderID(a)},
		map[string]any{"__typename": "Order", "id": orderID(b)},
		map[string]any{"__typename": "Order", "id": gid.Encode("Order", uuid.NewString())},
	}
	type orderJSON struct {
		ID        string
		Shipments []shipmentJSON
	}

	t.Run("own orders", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, custToken, entities, map[string]any{"reps": reps})
		var got []orderJSON
		r.into(t, "_entities", &got)
		if len(r.Errors) > 0 || len(got) != 3 {
			t.Fatalf("entities = %+v, %+v", got, r.Errors)
		}
		if got[0].ID != orderID(a) || len(got[0].Shipments) != 1 || got[0].Shipments[0].ID != shipmentID(a) ||
			got[0].Shipments[0].Status != "IN_TRANSIT" || got[0].Shipments[0].Order.ID != orderID(a) ||
			len(got[0].Shipments[0].Events) != 3 {
			t.Errorf("first = %+v", got[0])
		}
		if len(got[1].Shipments) != 1 || got[1].Shipments[0].ID != shipmentID(b) || got[1].Shipments[0].Status != "LABEL_CREATED" {
			t.Errorf("second = %+v", got[1])
		}
		if got[2].Shipments == nil || len(got[2].Shipments) != 0 {
			t.Errorf("an order without shipments has %+v", got[2].Shipments)
		}
	})
	t.Run("another customer's orders", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, otherToken, entities, map[string]any{"reps": reps})
		var got []orderJSON
		r.into(t, "_entities", &got)
		if len(r.Errors) > 0 || len(got) != 3 || len(got[0].Shipments) != 0 || len(got[1].Shipments) != 0 {
			t.Errorf("entities = %+v, %+v; want orders without shipments", got, r.Errors)
		}
	})
	t.Run("node of an order", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, custToken, `query($id: ID!) { node(id: $id) { id ... on Order { shipments { id } } } }`, map[string]any{"id": orderID(a)})
		var got orderJSON
		r.into(t, "node", &got)
		if got.ID != orderID(a) || len(got.Shipments) != 1 || got.Shipments[0].ID != shipmentID(a) {
			t.Errorf("node = %+v, %+v", got, r.Errors)
		}
	})
	t.Run("shipment entities", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, custToken, `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Shipment { id status } } }`,
			map[string]any{"reps": []any{
				map[string]any{"__typename": "Shipment", "id": shipmentID(b)},
				map[string]any{"__typename": "Shipment", "id": gid.Encode("Shipment", uuid.NewString())},
			}})
		var got []*shipmentJSON
		r.into(t, "_entities", &got)
		if len(r.Errors) > 0 || len(got) != 2 || got[0] == nil || got[0].ID != shipmentID(b) || got[1] != nil {
			t.Errorf("entities = %+v, %+v", got, r.Errors)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, "", entities, map[string]any{"reps": reps[:1]})
		if r.code() != "UNAUTHENTICATED" {
			t.Errorf("errors = %+v", r.Errors)
		}
	})
	t.Run("representation of another type", func(t *testing.T) {
		t.Parallel()
		r := e.do(t, custToken, entities, map[string]any{"reps": []any{map[string]any{"__typename": "Order", "id": gid.Encode("Product", "p1")}}})
		if r.code() != "INVALID_INPUT" {
			t.Errorf("errors = %+v", r.Errors)
		}
	})
	t.Run("user stub", func(t *testing.T) {
		t.Parallel()
		id := gid.Encode("User", custID)
		r := e.do(t, custToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
		var got struct{ ID string }
		r.into(t, "node", &got)
		if got.ID != id {
			t.Errorf("node = %+v, %+v", got, r.Errors)
		}
	})
}

func TestServiceSDL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	r := e.do(t, "", `{ _service { sdl } }`, nil)
	var svc struct{ SDL string }
	r.into(t, "_service", &svc)
	for _, want := range []string{"type Shipment implements Node", "type Order implements Node", "shipments: [Shipment!]!",
		`type User implements Node @key(fields: "id", resolvable: false)`, "advanceShipment(", "cancelShipment(", "OUT_FOR_DELIVERY"} {
		if !strings.Contains(svc.SDL, want) {
			t.Errorf("SDL lacks %q", want)
		}
	}
}
