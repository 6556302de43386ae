package orders_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/gid"
)

// fill puts items in the cart of the holder of tok.
func (e *env) fill(t *testing.T, tok string, items map[string]int) {
	t.Helper()
	for sku, n := range items {
		if r := e.do(t, tok, addToCart, map[string]any{"in": map[string]any{"sku": sku, "quantity": n}}); len(r.Errors) > 0 {
			t.Fatalf("add %s: %+v", sku, r.Errors)
		}
	}
}

func (e *env) cart(t *testing.T, tok string) cartJSON {
	t.Helper()
	var c cartJSON
	e.do(t, tok, `{ cart { `+cartFields+` } }`, nil).into(t, "cart", &c)
	return c
}

func TestPlaceOrderValidation(t *testing.T) {
	t.Parallel()
	archived := variant("OLD-MUG", usd(500))
	archived.ProductStatus = "ARCHIVED"
	catalog := newCatalog(variant("MUG", usd(1250)), variant("CAP", usd(2000)))
	e := newEnv(t, catalog, nil)

	with := func(edit func(in map[string]any)) map[string]any {
		in := checkout("key-"+strings.Repeat("v", 10), "tok_visa")
		edit(in)
		return in
	}
	addr := func(field string, v any) func(map[string]any) {
		return func(in map[string]any) { in["shippingAddress"].(map[string]any)[field] = v }
	}
	cases := []struct {
		name   string
		empty  bool // with an empty cart
		in     map[string]any
		code   string
		field  string
		reason string
	}{
		{name: "empty cart", empty: true, in: with(func(map[string]any) {}), code: "INVALID_INPUT", reason: "cart is empty"},
		{name: "missing idempotency key", in: with(func(in map[string]any) { in["idempotencyKey"] = "" }), code: "INVALID_INPUT", field: "idempotencyKey"},
		{name: "short idempotency key", in: with(func(in map[string]any) { in["idempotencyKey"] = "abc" }), code: "INVALID_INPUT", field: "idempotencyKey"},
		{name: "unknown shipping method", in: with(func(in map[string]any) { in["shippingMethod"] = "TELEPORT" }), code: "INVALID_INPUT", field: "shippingMethod", reason: "STANDARD"},
		{name: "missing recipient", in: with(addr("recipient", "")), code: "INVALID_INPUT", field: "shippingAddress.recipient"},
		{name: "country not ISO 3166-1 alpha-2", in: with(addr("country", "USA")), code: "INVALID_INPUT", field: "shippingAddress.country"},
		{name: "unknown country", in: with(addr("country", "QQ")), code: "INVALID_INPUT", field: "shippingAddress.country"},
		{name: "missing payment token", in: with(func(in map[string]any) { in["paymentToken"] = " " }), code: "INVALID_INPUT", field: "paymentToken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := e.token(t, "v-"+strings.ReplaceAll(tc.name, " ", "-"), "CUSTOMER")
			if !tc.empty {
				e.fill(t, tok, map[string]int{"MUG": 2})
			}
			r := e.do(t, tok, placeOrder, map[string]any{"in": tc.in})
			if r.code() != tc.code || r.Errors[0].Extensions.Field != tc.field || !strings.Contains(r.Errors[0].Message, tc.reason) {
				t.Fatalf("errors %+v; want %s on %q mentioning %q", r.Errors, tc.code, tc.field, tc.reason)
			}
			if c := e.cart(t, tok); !tc.empty && (len(c.Items) != 1 || c.Items[0].Quantity != 2) {
				t.Errorf("the cart changed: %+v", c.Items)
			}
		})
	}

	t.Run("omitted idempotency key", func(t *testing.T) {
		t.Parallel()
		tok := e.token(t, "v-omitted", "CUSTOMER")
		e.fill(t, tok, map[string]int{"MUG": 1})
		in := checkout("x", "tok_visa")
		delete(in, "idempotencyKey")
		// The schema requires the field, so GraphQL validation refuses the
		// request before it reaches the service, naming the field's path.
		r := e.do(t, tok, placeOrder, map[string]any{"in": in})
		if r.code() != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(fmt.Sprint(r.Errors[0].Path), "idempotencyKey") {
			t.Fatalf("errors %+v; want a validation error about idempotencyKey", r.Errors)
		}
	})

	t.Run("an item no longer available", func(t *testing.T) {
		t.Parallel()
		catalog := newCatalog(variant("MUG", usd(1250)), variant("GONE", usd(100)))
		e := newEnv(t, catalog, nil)
		tok := e.token(t, "v-gone", "CUSTOMER")
		e.fill(t, tok, map[string]int{"MUG": 1, "GONE": 1})
		gone := variant("GONE", usd(100))
		gone.ProductStatus = "ARCHIVED"
		catalog.set(gone)
		r := e.do(t, tok, placeOrder, map[string]any{"in": checkout("key-gone-0001", "tok_visa")})
		if r.code() != "INVALID_INPUT" || !strings.Contains(r.Errors[0].Message, "GONE") {
			t.Fatalf("errors %+v", r.Errors)
		}
		if n := e.count(t, "orders"); n != 0 {
			t.Errorf("%d orders stored", n)
		}
	})

	t.Run("anonymous", func(t *testing.T) {
		t.Parallel()
		if r := e.do(t, "", placeOrder, map[string]any{"in": checkout("key-anon-0001", "tok_visa")}); r.code() != "UNAUTHENTICATED" {
			t.Errorf("%+v, want UNAUTHENTICATED", r.Errors)
		}
	})

	// Nothing was stored by any refused placeOrder.
	t.Cleanup(func() {
		for _, table := range []string{"orders", "order_events", "order_lines", "events_outbox"} {
			if n := e.count(t, table); n != 0 {
				t.Errorf("%s has %d rows after refused placeOrders", table, n)
			}
		}
	})
}

func TestPlaceOrder(t *testing.T) {
	t.Parallel()
	catalog := newCatalog(variant("MUG", usd(1250)), variant("CAP", usd(2000)))
	e := newEnv(t, catalog, nil)
	tok := e.token(t, "buyer-1", "CUSTOMER")
	e.fill(t, tok, map[string]int{"MUG": 2})
	e.fill(t, tok, map[string]int{"CAP": 1})
	catalog.set(variant("MUG", usd(1300))) // the price when the order is placed counts

	in := checkout("5b8a1a1e-checkout-1", "tok_visa")
	in["shippingMethod"] = "express"
	var o orderJSON
	e.do(t, tok, placeOrder, map[string]any{"in": in}).into(t, "placeOrder", &o)
	if o.Status != "PENDING" || !strings.HasPrefix(o.Number, "SG-") || o.Customer.ID != gid.Encode("User", "buyer-1") {
		t.Errorf("order %s %s for %s", o.Number, o.Status, o.Customer.ID)
	}
	if len(o.Lines) != 2 || o.Lines[0].SKU != "MUG" || o.Lines[0].UnitPrice != usd(1300) || o.Lines[0].LineTotal != usd(2600) || o.Lines[1].SKU != "CAP" {
		t.Errorf("lines %+v", o.Lines)
	}
	if o.Subtotal != usd(4600) || o.ShippingCost != usd(1500) || o.Total != usd(6100) || o.ShippingMethod != "EXPRESS" || o.ShippingMethodName != "Express" {
		t.Errorf("subtotal %v, shipping %v (%s), total %v", o.Subtotal, o.ShippingCost, o.ShippingMethod, o.Total)
	}
	if o.ShippingAddress.Country != "US" || o.ShippingAddress.Line2 != nil || o.StatusReason != nil {
		t.Errorf("address %+v, reason %v", o.ShippingAddress, o.StatusReason)
	}
	if len(o.Timeline) != 1 || o.Timeline[0].Type != "PLACED" || o.Timeline[0].Status != "PENDING" || !strings.Contains(o.Timeline[0].Description, "USD 61.00") {
		t.Errorf("timeline %+v", o.Timeline)
	}
	if c := e.cart(t, tok); len(c.Items) != 0 {
		t.Errorf("cart after the order: %+v", c.Items)
	}

	// The saga starts in the same transaction: ReserveStock, and the status
	// change with the customer's e-mail for notifications.
	rows, err := e.pool.Query(context.Background(), `SELECT stream, type, payload::text FROM events_outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	var reserve contract.ReserveStock
	var changed contract.OrderStatusChanged
	for rows.Next() {
		var stream, typ, payload string
		if err := rows.Scan(&stream, &typ, &payload); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, stream+" "+typ)
		switch typ {
		case contract.TypeReserveStock:
			_ = json.Unmarshal([]byte(payload), &reserve)
		case contract.TypeOrderStatusChanged:
			_ = json.Unmarshal([]byte(payload), &changed)
		}
	}
	if len(sent) != 2 || len(reserve.Lines) != 2 || reserve.Lines[0] != (contract.Line{SKU: "MUG", Quantity: 2}) || reserve.ExpiresAt.IsZero() {
		t.Errorf("outbox %v, reserve %+v", sent, reserve)
	}
	if changed.Status != "PENDING" || changed.Email != "buyer-1@example.com" || changed.CustomerID != "buyer-1" || changed.Total != usd(6100) {
		t.Errorf("status change %+v", changed)
	}

	// The same key again, with a full cart: the same order, nothing more.
	e.fill(t, tok, map[string]int{"CAP": 3})
	var again orderJSON
	e.do(t, tok, placeOrder, map[string]any{"in": in}).into(t, "placeOrder", &again)
	if again.ID != o.ID || again.Total != o.Total {
		t.Errorf("retry returned %s (%v), want %s", again.ID, again.Total, o.ID)
	}
	if c := e.cart(t, tok); len(c.Items) != 1 || c.Items[0].Quantity != 3 {
		t.Errorf("a retry touched the cart: %+v", c.Items)
	}
	if n := e.count(t, "orders"); n != 1 {
		t.Errorf("%d orders after a retry", n)
	}

	// Concurrent retries of a new checkout: one order.
	key := "5b8a1a1e-checkout-2"
	var wg sync.WaitGroup
	ids := make(chan string, 10)
	for range 10 {
		wg.Go(func() {
			r := e.do(t, tok, placeOrder, map[string]any{"in": checkout(key, "tok_visa")})
			var o orderJSON
			r.into(t, "placeOrder", &o)
			ids <- o.ID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	if len(seen) != 1 || e.count(t, "orders") != 2 {
		t.Errorf("concurrent retries made orders %v; %d in all, want 2", seen, e.count(t, "orders"))
	}
	if c := e.cart(t, tok); len(c.Items) != 0 {
		t.Errorf("cart after the second order: %+v", c.Items)
	}
	// Another customer may use the same key.
	other := e.token(t, "buyer-2", "CUSTOMER")
	e.fill(t, other, map[string]int{"CAP": 1})
	var theirs orderJSON
	e.do(t, other, placeOrder, map[string]any{"in": checkout(key, "tok_visa")}).into(t, "placeOrder", &theirs)
	if theirs.ID == "" || seen[theirs.ID] {
		t.Errorf("another customer's order with the same key: %s", theirs.ID)
	}
}

func TestOrderVisibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newCatalog(variant("MUG", usd(1000))), nil)
	ann, bob, admin := e.token(t, "ann", "CUSTOMER"), e.token(t, "bob", "CUSTOMER"), e.token(t, "root", "ADMIN")
	place := func(tok, key string) orderJSON {
		e.fill(t, tok, map[string]int{"MUG": 1})
		var o orderJSON
		e.do(t, tok, placeOrder, map[string]any{"in": checkout(key, "tok_visa")}).into(t, "placeOrder", &o)
		return o
	}
	annsOrder := place(ann, "key-ann-00001")
	bobsOrder := place(bob, "key-bob-00001")

	const get = `query($id: ID!) { order(id: $id) { id number status } }`
	var got orderJSON
	e.do(t, ann, get, map[string]any{"id": annsOrder.ID}).into(t, "order", &got)
	if got.ID != annsOrder.ID {
		t.Errorf("own order: %+v", got)
	}
	if r := e.do(t, ann, get, map[string]any{"id": bobsOrder.ID}); r.code() != "NOT_FOUND" {
		t.Errorf("another customer's order: %+v, want NOT_FOUND", r.Errors)
	}
	if r := e.do(t, ann, get, map[string]any{"id": gid.Encode("Order", "not-a-uuid")}); r.code() != "NOT_FOUND" {
		t.Errorf("no such order: %+v, want NOT_FOUND", r.Errors)
	}
	if r := e.do(t, ann, get, map[string]any{"id": gid.Encode("Product", "x")}); r.code() != "INVALID_INPUT" {
		t.Errorf("not an order ID: %+v, want INVALID_INPUT", r.Errors)
	}
	if r := e.do(t, "", get, map[string]any{"id": annsOrder.ID}); r.code() != "UNAUTHENTICATED" {
		t.Errorf("anonymous: %+v, want UNAUTHENTICATED", r.Errors)
	}
	e.do(t, admin, get, map[string]any{"id": bobsOrder.ID}).into(t, "order", &got)
	if got.ID != bobsOrder.ID {
		t.Errorf("admin: %+v", got)
	}

	// node and _entities: another customer's order is null.
	var node *orderJSON
	e.do(t, ann, `query($id: ID!) { node(id: $id) { ... on Order { id } } }`, map[string]any{"id": bobsOrder.ID}).into(t, "node", &node)
	if node != nil {
		t.Errorf("node of another customer's order: %+v", node)
	}
	var ents []*orderJSON
	e.do(t, ann, `query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id number } } }`, map[string]any{"r": []any{
		map[string]any{"__typename": "Order", "id": annsOrder.ID}, map[string]any{"__typename": "Order", "id": bobsOrder.ID},
	}}).into(t, "_entities", &ents)
	if len(ents) != 2 || ents[0] == nil || ents[0].Number != annsOrder.Number || ents[1] != nil {
		t.Errorf("_entities: %+v", ents)
	}

	// Lists.
	const mine = `{ myOrders { edges { node { id } } } }`
	var conn struct {
		Edges []struct{ Node struct{ ID string } }
	}
	e.do(t, bob, mine, nil).into(t, "myOrders", &conn)
	if len(conn.Edges) != 1 || conn.Edges[0].Node.ID != bobsOrder.ID {
		t.Errorf("bob's orders: %+v", conn)
	}
	if r := e.do(t, bob, `{ orders { edges { node { id } } } }`, nil); r.code() != "FORBIDDEN" {
		t.Errorf("customer listing every order: %+v, want FORBIDDEN", r.Errors)
	}
	e.do(t, admin, `{ orders(filter: {status: PENDING}) { edges { node { id } } } }`, nil).into(t, "orders", &conn)
	if len(conn.Edges) != 2 {
		t.Errorf("admin's pending orders: %+v", conn)
	}
	e.do(t, admin, `{ orders(filter: {status: CONFIRMED}) { edges { node { id } } } }`, nil).into(t, "orders", &conn)
	if len(conn.Edges) != 0 {
		t.Errorf("admin's confirmed orders: %+v", conn)
	}

	// Cancelling another customer's order: NOT_FOUND, and it stays as it is.
	const cancel = `mutation($id: ID!, $reason: String) { cancelOrder(id: $id, reason: $reason) { id status statusReason } }`
	if r := e.do(t, ann, cancel, map[string]any{"id": bobsOrder.ID}); r.code() != "NOT_FOUND" {
		t.Errorf("cancel another customer's order: %+v, want NOT_FOUND", r.Errors)
	}
	e.do(t, bob, get, map[string]any{"id": bobsOrder.ID}).into(t, "order", &got)
	if got.Status != "PENDING" {
		t.Errorf("bob's order after ann's cancel: %s", got.Status)
	}
}

func TestCancelOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newCatalog(variant("MUG", usd(1000))), nil)
	tok := e.token(t, "canceller", "CUSTOMER")
	e.fill(t, tok, map[string]int{"MUG": 1})
	var o orderJSON
	e.do(t, tok, placeOrder, map[string]any{"in": checkout("key-cancel-001", "tok_visa")}).into(t, "placeOrder", &o)

	const cancel = `mutation($id: ID!, $reason: String) { cancelOrder(id: $id, reason: $reason) { ` + orderFields + ` } }`
	if r := e.do(t, tok, cancel, map[string]any{"id": o.ID, "reason": strings.Repeat("x", 501)}); r.code() != "INVALID_INPUT" {
		t.Errorf("long reason: %+v", r.Errors)
	}
	var c orderJSON
	e.do(t, tok, cancel, map[string]any{"id": o.ID, "reason": "changed my mind"}).into(t, "cancelOrder", &c)
	if c.Status != "CANCELLED" || c.StatusReason == nil || *c.StatusReason != "Cancelled by the customer: changed my mind." {
		t.Fatalf("cancelled: %s %v", c.Status, c.StatusReason)
	}
	if n := len(c.Timeline); n != 2 || c.Timeline[1].Type != "CANCELLED" || c.Timeline[1].Status != "CANCELLED" {
		t.Errorf("timeline %+v", c.Timeline)
	}
	// The saga is told: ReleaseStock (nothing was paid yet).
	var releases int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM events_outbox WHERE type = $1`, contract.TypeReleaseStock).Scan(&releases); err != nil || releases != 1 {
		t.Errorf("ReleaseStock in the outbox: %d, %v", releases, err)
	}
	// Again: the same cancelled order, nothing more.
	var again orderJSON
	e.do(t, tok, cancel, map[string]any{"id": o.ID}).into(t, "cancelOrder", &again)
	if again.Status != "CANCELLED" || len(again.Timeline) != 2 {
		t.Errorf("cancelled again: %s, %d events", again.Status, len(again.Timeline))
	}
}

func TestMyOrdersPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newCatalog(variant("MUG", usd(1000))), nil)
	tok := e.token(t, "pager", "CUSTOMER")
	var placed []string
	for i := range 5 {
		e.fill(t, tok, map[string]int{"MUG": 1})
		var o orderJSON
		e.do(t, tok, placeOrder, map[string]any{"in": checkout("key-page-000"+string(rune('0'+i)), "tok_visa")}).into(t, "placeOrder", &o)
		placed = append(placed, o.ID)
	}
	const page = `query($first: Int, $after: String) { myOrders(first: $first, after: $after) {
		edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`
	type conn struct {
		Edges []struct {
			Cursor string
			Node   struct{ ID string }
		}
		PageInfo struct {
			HasNextPage bool
			EndCursor   *string
		}
	}
	var got []string
	var after any
	for range 3 {
		var c conn
		e.do(t, tok, page, map[string]any{"first": 2, "after": after}).into(t, "myOrders", &c)
		for _, ed := range c.Edges {
			got = append(got, ed.Node.ID)
		}
		if !c.PageInfo.HasNextPage {
			break
		}
		after = *c.PageInfo.EndCursor
	}
	if len(got) != 5 {
		t.Fatalf("pages gave %d orders", len(got))
	}
	for i := range got {
		if got[i] != placed[4-i] {
			t.Errorf("order %d is %s, want %s (newest first)", i, got[i], placed[4-i])
		}
	}
	for _, bad := range []map[string]any{{"first": 0}, {"first": 101}, {"first": -1}, {"first": 2, "after": "bogus"}} {
		if r := e.do(t, tok, page, bad); r.code() != "INVALID_INPUT" {
			t.Errorf("%v: %+v, want INVALID_INPUT", bad, r.Errors)
		}
	}
	if r := e.do(t, "", page, map[string]any{"first": 2}); r.code() != "UNAUTHENTICATED" {
		t.Errorf("anonymous: %+v", r.Errors)
	}
}
