package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// shop is a running system with an admin and a stocked catalog.
type shop struct {
	*system
	admin *client
}

func newShop(t *testing.T, extra ...string) *shop {
	t.Helper()
	s := startSystem(t, extra...)
	return &shop{system: s, admin: s.client(adminToken(t, s))}
}

// stock creates an ACTIVE product with one variant per SKU (price in cents)
// and puts onHand units of each in stock. It returns the SKUs in order.
func (s *shop) stock(t *testing.T, name string, onHand int, prices ...int) []string {
	t.Helper()
	base := strings.ToUpper(name[:3]) + strings.ToUpper(testenv.ID()[:5])
	var skus []string
	var variants []any
	for i, p := range prices {
		sku := fmt.Sprintf("%s-%d", base, i)
		skus = append(skus, sku)
		variants = append(variants, map[string]any{"sku": sku, "name": fmt.Sprintf("V%d", i), "options": []any{}, "price": map[string]any{"amount": p, "currency": "USD"}})
	}
	s.admin.must(createProduct, map[string]any{"i": map[string]any{"name": name + " " + testenv.ID(), "status": "ACTIVE", "variants": variants}})
	for _, sku := range skus {
		if onHand > 0 {
			s.admin.must(`mutation($s: String!, $d: Int!) { adjustStock(sku: $s, delta: $d, reason: "received") { onHand } }`, map[string]any{"s": sku, "d": onHand})
		}
	}
	return skus
}

// level is the stock of sku as an admin sees it: on hand, reserved, available.
func (s *shop) level(t *testing.T, sku string) (onHand, reserved, available int) {
	t.Helper()
	d := s.admin.must(`query($s: String!) { stockItem(sku: $s) { onHand reserved available } }`, map[string]any{"s": sku})
	return num(d, "stockItem", "onHand"), num(d, "stockItem", "reserved"), num(d, "stockItem", "available")
}

// customer registers a new customer and returns a client with their token.
func (s *shop) customer(t *testing.T) *client {
	t.Helper()
	access, _, _ := register(t, s.system, "buyer-"+testenv.ID()+"@example.com", "Buyer")
	return s.client(access)
}

func addToCart(t *testing.T, c *client, sku string, qty int) gqlResponse {
	t.Helper()
	return c.do(`mutation($s: String!, $q: Int!) { addToCart(input: {sku: $s, quantity: $q}) { itemCount subtotal { amount } } }`, map[string]any{"s": sku, "q": qty})
}

const placeOrderMutation = `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id status total { amount currency } } }`

func placeInput(token, key string) map[string]any {
	return map[string]any{"i": map[string]any{
		"shippingAddress": map[string]any{"recipient": "Ada Lovelace", "line1": "12 St James's Square", "city": "London", "postalCode": "SW1Y 4JH", "country": "GB"},
		"shippingMethod":  "STANDARD", "paymentToken": token, "idempotencyKey": key,
	}}
}

// checkout fills the cart and places an order; it returns the order's ID.
func checkout(t *testing.T, c *client, token string, lines map[string]int) string {
	t.Helper()
	for sku, q := range lines {
		if r := addToCart(t, c, sku, q); len(r.Errors) > 0 {
			t.Fatalf("addToCart %s: %s", sku, r.Raw)
		}
	}
	d := c.must(placeOrderMutation, placeInput(token, "key-"+testenv.ID()))
	if str(d, "placeOrder", "status") != "PENDING" {
		t.Fatalf("placeOrder returned %v, want the PENDING order at once", d)
	}
	return str(d, "placeOrder", "id")
}

var terminal = map[string]bool{"CONFIRMED": true, "CANCELLED": true, "REJECTED": true, "SHIPPED": true, "DELIVERED": true}

// waitStatus polls the order until it reaches a final status of the
// checkout saga (or want) and returns the order.
func waitStatus(t *testing.T, c *client, id, want string) map[string]any {
	t.Helper()
	const q = `query($id: ID!) { order(id: $id) { id status statusReason subtotal { amount } shippingCost { amount } total { amount }
		timeline { type status description } payment { id status amount { amount } } } }`
	deadline := time.Now().Add(90 * time.Second)
	for {
		d := c.must(q, map[string]any{"id": id})
		st := str(d, "order", "status")
		if want == "" && terminal[st] {
			return d["order"].(map[string]any)
		}
		if st == want || (terminal[st] && want != "SHIPPED" && want != "DELIVERED") {
			if st != want {
				t.Fatalf("order %s ended %s (%s), want %s", id, st, str(d, "order", "statusReason"), want)
			}
			return d["order"].(map[string]any)
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s still %s after 90s, want %s", id, st, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func timelineTypes(o map[string]any) string {
	var types []string
	for _, e := range list(o, "timeline") {
		types = append(types, str(e, "type"))
	}
	return strings.Join(types, ",")
}

// TestCheckout drives the saga through the gateway, as a storefront would.
func TestCheckout(t *testing.T) {
	t.Parallel()
	s := newShop(t, "-shipping-step-interval=0")

	t.Run("happy path", func(t *testing.T) {
		t.Parallel()
		skus := s.stock(t, "Lamp", 10, 2500, 1200)
		c := s.customer(t)
		id := checkout(t, c, "tok_visa", map[string]int{skus[0]: 2, skus[1]: 3})
		o := waitStatus(t, c, id, "CONFIRMED")
		if sub := num(o, "subtotal", "amount"); sub != 2*2500+3*1200 || num(o, "total", "amount") != sub+num(o, "shippingCost", "amount") {
			t.Errorf("subtotal %d + shipping %d != total %d; want subtotal %d from the catalog", sub, num(o, "shippingCost", "amount"), num(o, "total", "amount"), 2*2500+3*1200)
		}
		for i, q := range []int{2, 3} {
			onHand, reserved, _ := s.level(t, skus[i])
			if onHand != 10-q || reserved != 0 {
				t.Errorf("%s: on hand %d reserved %d, want %d and 0", skus[i], onHand, reserved, 10-q)
			}
		}
		if str(o, "payment", "status") != "AUTHORIZED" || num(o, "payment", "amount", "amount") != num(o, "total", "amount") {
			t.Errorf("payment = %v, want AUTHORIZED for the total", o["payment"])
		}
		if got := timelineTypes(o); got != "PLACED,STOCK_RESERVED,PAYMENT_AUTHORIZED,STOCK_COMMITTED" && !strings.HasPrefix(got, "PLACED,STOCK_RESERVED,PAYMENT_AUTHORIZED,STOCK_COMMITTED,") {
			t.Errorf("timeline = %s", got)
		}
		if d := c.must(`{ cart { itemCount } }`, nil); num(d, "cart", "itemCount") != 0 {
			t.Errorf("cart not emptied after placeOrder: %v", d)
		}
	})

	t.Run("declined card", func(t *testing.T) {
		t.Parallel()
		skus := s.stock(t, "Desk", 5, 9900)
		c := s.customer(t)
		id := checkout(t, c, "tok_chargeDeclinedInsufficientFunds", map[string]int{skus[0]: 2})
		o := waitStatus(t, c, id, "CANCELLED")
		if !strings.Contains(strings.ToLower(str(o, "statusReason")), "insufficient funds") {
			t.Errorf("reason = %q", str(o, "statusReason"))
		}
		waitLevel(t, s, skus[0], 5, 0)
		if st := str(o, "payment", "status"); st != "DECLINED" {
			t.Errorf("payment status %s, want DECLINED", st)
		}
	})

	t.Run("one line short", func(t *testing.T) {
		t.Parallel()
		skus := s.stock(t, "Sofa", 3, 50000, 70000)
		c := s.customer(t)
		id := checkout(t, c, "tok_visa", map[string]int{skus[0]: 1, skus[1]: 4})
		o := waitStatus(t, c, id, "REJECTED")
		if !strings.Contains(str(o, "statusReason"), skus[1]) {
			t.Errorf("reason %q does not name the short SKU %s", str(o, "statusReason"), skus[1])
		}
		for _, sku := range skus {
			if onHand, reserved, _ := s.level(t, sku); onHand != 3 || reserved != 0 {
				t.Errorf("%s: on hand %d reserved %d after a rejected order", sku, onHand, reserved)
			}
		}
		if path(o, "payment") != nil {
			t.Errorf("a rejected order was charged: %v", o["payment"])
		}
	})

	t.Run("transient processing error", func(t *testing.T) {
		t.Parallel()
		skus := s.stock(t, "Rug", 4, 3000)
		c := s.customer(t)
		id := checkout(t, c, "tok_processingError", map[string]int{skus[0]: 1})
		o := waitStatus(t, c, id, "CONFIRMED")
		if str(o, "payment", "status") != "AUTHORIZED" {
			t.Errorf("payment = %v", o["payment"])
		}
	})

	t.Run("customer cancels a confirmed order", func(t *testing.T) {
		t.Parallel()
		skus := s.stock(t, "Vase", 6, 1500)
		c := s.customer(t)
		id := checkout(t, c, "tok_visa", map[string]int{skus[0]: 2})
		waitStatus(t, c, id, "CONFIRMED")
		d := c.must(`mutation($id: ID!) { cancelOrder(id: $id, reason: "changed my mind") { status } }`, map[string]any{"id": id})
		if str(d, "cancelOrder", "status") != "CANCELLED" {
			t.Fatalf("cancelOrder = %v", d)
		}
		waitLevel(t, s, skus[0], 6, 0)
		waitPayment(t, c, id, "VOIDED")
	})

	t.Run("idempotent placeOrder", func(t *testing.T) {
		t.Parallel()
		skus := s.stock(t, "Pen", 20, 300)
		c := s.customer(t)
		if r := addToCart(t, c, skus[0], 2); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		in := placeInput("tok_visa", "same-key-"+testenv.ID())
		var ids sync.Map
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := c.do(placeOrderMutation, in)
				if len(r.Errors) == 0 {
					ids.Store(str(r.Data, "placeOrder", "id"), true)
				}
			}()
		}
		wg.Wait()
		var got []string
		ids.Range(func(k, _ any) bool { got = append(got, k.(string)); return true })
		if len(got) != 1 {
			t.Fatalf("5 retries of one placeOrder made orders %v, want exactly one", got)
		}
		waitStatus(t, c, got[0], "CONFIRMED")
		d := c.must(`{ myOrders(first: 10) { edges { node { id } } } }`, nil)
		if n := len(list(d, "myOrders", "edges")); n != 1 {
			t.Errorf("myOrders has %d orders, want 1", n)
		}
		if onHand, _, _ := s.level(t, skus[0]); onHand != 18 {
			t.Errorf("on hand %d, want 18 (charged and shipped once)", onHand)
		}
	})
}

func waitLevel(t *testing.T, s *shop, sku string, onHand, reserved int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		h, r, _ := s.level(t, sku)
		if h == onHand && r == reserved {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: on hand %d reserved %d, want %d and %d", sku, h, r, onHand, reserved)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitPayment(t *testing.T, c *client, orderID, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d := c.must(`query($id: ID!) { order(id: $id) { payment { status } } }`, map[string]any{"id": orderID})
		if str(d, "order", "payment", "status") == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment of %s is %v, want %s", orderID, path(d, "order", "payment"), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNoOversell: 100 customers race for 10 units through the gateway.
func TestNoOversell(t *testing.T) {
	t.Parallel()
	s := newShop(t, "-shipping-step-interval=0")
	sku := s.stock(t, "Ticket", 10, 4200)[0]
	const n = 100
	customers := make([]*client, n)
	for i := range customers {
		customers[i] = s.customer(t)
		if r := addToCart(t, customers[i], sku, 1); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
	}
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i, c := range customers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.do(placeOrderMutation, placeInput("tok_visa", fmt.Sprintf("race-%d-%s", i, testenv.ID())))
			if len(r.Errors) > 0 {
				t.Errorf("placeOrder: %s", r.Raw)
				return
			}
			ids[i] = str(r.Data, "placeOrder", "id")
		}()
	}
	wg.Wait()
	count := map[string]int{}
	for i, id := range ids {
		if id == "" {
			continue
		}
		o := waitStatus(t, customers[i], id, "")
		count[str(o, "status")]++
	}
	if count["CONFIRMED"] != 10 || count["REJECTED"] != n-10 {
		t.Fatalf("outcomes %v, want exactly 10 CONFIRMED and %d REJECTED", count, n-10)
	}
	if onHand, reserved, available := s.level(t, sku); onHand != 0 || reserved != 0 || available != 0 {
		t.Fatalf("stock after the race: on hand %d reserved %d available %d, want 0/0/0", onHand, reserved, available)
	}
}

// TestCheckoutRefusals: bad cart and order input gets clear codes and stores
// nothing; customers cannot read each other's orders or payments.
func TestCheckoutRefusals(t *testing.T) {
	t.Parallel()
	s := newShop(t, "-shipping-step-interval=0")
	skus := s.stock(t, "Book", 5, 1800)
	archived := s.stock(t, "Old", 5, 100)
	d := s.admin.must(`query($id: ID!) { node(id: $id) { ... on Variant { product { id } } } }`, map[string]any{"id": gid.Encode("Variant", archived[0])})
	s.admin.must(`mutation($id: ID!) { archiveProduct(id: $id) { status } }`, map[string]any{"id": str(d, "node", "product", "id")})
	c := s.customer(t)
	other := s.customer(t)

	for _, tt := range []struct {
		name string
		sku  string
		qty  int
		code string
	}{
		{"quantity 0", skus[0], 0, "INVALID_INPUT"},
		{"negative quantity", skus[0], -2, "INVALID_INPUT"},
		{"quantity above the limit", skus[0], 1000, "INVALID_INPUT"},
		{"unknown SKU", "NOPE-" + strings.ToUpper(testenv.ID()), 1, "NOT_FOUND"},
		{"archived product", archived[0], 1, "INVALID_INPUT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := addToCart(t, c, tt.sku, tt.qty); r.Code() != tt.code {
				t.Fatalf("code %q, want %q: %s", r.Code(), tt.code, r.Raw)
			}
		})
	}
	if d := c.must(`{ cart { itemCount } }`, nil); num(d, "cart", "itemCount") != 0 {
		t.Fatalf("refused lines reached the cart: %v", d)
	}
	if r := c.do(placeOrderMutation, placeInput("tok_visa", "empty-cart-"+testenv.ID())); r.Code() != "INVALID_INPUT" {
		t.Fatalf("empty cart: %s", r.Raw)
	}
	if r := addToCart(t, c, skus[0], 1); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	in := placeInput("tok_visa", "")
	delete(in["i"].(map[string]any), "idempotencyKey")
	if r := c.do(placeOrderMutation, in); r.Code() != "GRAPHQL_VALIDATION_FAILED" && r.Code() != "INVALID_INPUT" {
		t.Fatalf("missing idempotency key: %s", r.Raw)
	}
	if r := c.do(placeOrderMutation, placeInput("tok_visa", "")); r.Code() != "INVALID_INPUT" {
		t.Fatalf("empty idempotency key: %s", r.Raw)
	}
	if d := c.must(`{ myOrders { edges { node { id } } } }`, nil); len(list(d, "myOrders", "edges")) != 0 {
		t.Fatalf("a refused placeOrder stored an order: %v", d)
	}
	if _, reserved, _ := s.level(t, skus[0]); reserved != 0 {
		t.Fatalf("a refused placeOrder reserved stock")
	}

	id := checkout(t, c, "tok_visa", nil)
	o := waitStatus(t, c, id, "CONFIRMED")
	if r := other.do(`query($id: ID!) { order(id: $id) { id status } }`, map[string]any{"id": id}); r.Code() != "NOT_FOUND" {
		t.Errorf("another customer's order: %s", r.Raw)
	}
	if r := other.do(`query($id: ID!) { payment(id: $id) { id status } }`, map[string]any{"id": str(o, "payment", "id")}); r.Code() != "NOT_FOUND" && path(r.Data, "payment") != nil {
		t.Errorf("another customer's payment is visible: %s", r.Raw)
	}
	if r := other.do(`mutation($id: ID!) { cancelOrder(id: $id) { status } }`, map[string]any{"id": id}); r.Code() != "NOT_FOUND" {
		t.Errorf("another customer cancelled the order: %s", r.Raw)
	}
}

// TestRestartMidSaga: the services stop while orders are mid-saga; started
// again on the same stores, every order reaches a final status and no stock
// stays reserved.
func TestRestartMidSaga(t *testing.T) {
	t.Parallel()
	st := newStores(t)
	first := startSystemOn(t, st, "-shipping-step-interval=0")
	s := &shop{system: first, admin: first.client(adminToken(t, first))}
	skus := s.stock(t, "Clock", 6, 2000)
	tokens := []string{"tok_visa", "tok_chargeDeclined", "tok_processingError", "tok_visa", "tok_visa", "tok_visa", "tok_visa", "tok_visa"}
	type placed struct {
		id    string
		token string
		c     *client
	}
	var orders []placed
	for range tokens {
		c := s.customer(t)
		if r := addToCart(t, c, skus[0], 1); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		orders = append(orders, placed{token: c.token, c: c})
	}
	var wg sync.WaitGroup
	for i := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := orders[i].c.do(placeOrderMutation, placeInput(tokens[i], fmt.Sprintf("restart-%d-%s", i, testenv.ID())))
			if len(r.Errors) == 0 {
				orders[i].id = str(r.Data, "placeOrder", "id")
			}
		}()
	}
	wg.Wait()
	if err := first.Stop(); err != nil { // mid-saga
		t.Fatalf("stop: %v", err)
	}

	second := startSystemOn(t, st, "-shipping-step-interval=0")
	s = &shop{system: second, admin: second.client(adminToken(t, second))}
	count := map[string]int{}
	began := time.Now()
	for _, o := range orders {
		if o.id == "" {
			t.Fatal("placeOrder failed before the stop")
		}
		c := second.client(o.token)
		final := waitStatus(t, c, o.id, "")
		count[str(final, "status")]++
		t.Logf("%s after %v: %s (%s) %s", o.id[:8], time.Since(began).Round(time.Millisecond), str(final, "status"), str(final, "statusReason"), timelineTypes(final))
	}
	if count["CONFIRMED"]+count["REJECTED"]+count["CANCELLED"] != len(orders) {
		t.Fatalf("outcomes after restart: %v", count)
	}
	// Nothing stays reserved; on hand went down by the confirmed orders only.
	waitLevel(t, s, skus[0], 6-count["CONFIRMED"], 0)
}
