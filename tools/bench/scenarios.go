package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// scenario is one kind of load. A request scenario builds the i-th request
// and checks its response; checkout runs a whole flow per operation.
type scenario struct {
	Name        string
	Direct      string // the subgraph the "direct" target sends to; "" if the scenario spans several
	NeedsOrders bool
	Describe    string
	next        func(d *seedData, i int) request
	flow        func(d *seedData, hc *http.Client, url string, o flowOptions) operation
}

// flowOptions are the choices a flow scenario offers.
type flowOptions struct {
	// Poll: wait for an order's status by polling order(id), not by
	// subscription.
	Poll bool
}

// request is one GraphQL request and the check of its data.
type request struct {
	Query string
	Vars  map[string]any
	Token string
	Check func(data json.RawMessage) error
}

// scenarios are all there are, in the order they run: the read-only ones
// before checkout, which changes stock.
var scenarios = []scenario{
	{Name: "typename", Direct: "products", Describe: "{ __typename }", next: typenameRequest},
	{Name: "product", Direct: "products", Describe: "product(id) with its variants' names and prices", next: productRequest},
	{Name: "hot", Direct: "products", Describe: "the same product(id) from every worker at once: what in-flight deduplication shares (-gateway-dedupe)", next: hotRequest},
	{Name: "list", Describe: "products(first: 50) with each variant's stock (products → inventory)", next: listRequest},
	{Name: "orders3hop", NeedsOrders: true, Describe: "myOrders → lines → variant → product, stock; → customer (orders → products → inventory, users)", next: ordersRequest},
	{Name: "checkout", NeedsOrders: true, Describe: "addToCart + placeOrder, then an orderStatusChanged subscription (SSE) until CONFIRMED (-checkout-wait=poll: order(id) every 20 ms)", flow: checkoutFlow},
}

func scenarioByName(name string) (scenario, bool) {
	for _, s := range scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return scenario{}, false
}

// operation turns a request scenario into load against url.
func (s scenario) operation(d *seedData, hc *http.Client, url string, o flowOptions) operation {
	if s.flow != nil {
		return s.flow(d, hc, url, o)
	}
	return func(ctx context.Context, _, i int) outcome {
		r := s.next(d, i)
		data, err := post(ctx, hc, url, r.Token, r.Query, r.Vars)
		if err != nil {
			return outcome{Err: err}
		}
		return outcome{CheckErr: r.Check(data)}
	}
}

func typenameRequest(*seedData, int) request {
	return request{Query: `{ __typename }`, Check: func(data json.RawMessage) error {
		var got struct {
			Typename *string `json:"__typename"`
		}
		if err := strictJSON(data, &got); err != nil {
			return err
		}
		if got.Typename == nil || *got.Typename != "Query" {
			return fmt.Errorf("__typename = %s, want \"Query\"", data)
		}
		return nil
	}}
}

type moneyJSON struct {
	Amount   *int
	Currency string
}

func (m moneyJSON) String() string {
	if m.Amount == nil {
		return "<no amount> " + m.Currency
	}
	return fmt.Sprintf("%d %s", *m.Amount, m.Currency)
}

func productRequest(d *seedData, i int) request {
	want := d.Products[i%len(d.Products)]
	return request{
		Query: `query($id: ID!) { product(id: $id) { id name variants { name price { amount currency } } } }`,
		Vars:  map[string]any{"id": want.ID},
		Check: func(data json.RawMessage) error { return checkProduct(data, want) },
	}
}

// hotRequest asks every time for the first product, as many clients
// loading one popular page would.
func hotRequest(d *seedData, _ int) request { return productRequest(d, 0) }

func checkProduct(data json.RawMessage, want product) error {
	var got struct {
		Product *struct {
			ID, Name string
			Variants []struct {
				Name  string
				Price moneyJSON
			}
		}
	}
	if err := strictJSON(data, &got); err != nil {
		return err
	}
	p := got.Product
	if p == nil {
		return fmt.Errorf("product %s is null", want.ID)
	}
	if p.ID != want.ID || p.Name != want.Name {
		return fmt.Errorf("product = {id: %q, name: %q}, want {id: %q, name: %q}", p.ID, p.Name, want.ID, want.Name)
	}
	if len(p.Variants) != len(want.Variants) {
		return fmt.Errorf("product %s has %d variants, want %d", want.Name, len(p.Variants), len(want.Variants))
	}
	for k, v := range p.Variants {
		w := want.Variants[k]
		if v.Name != w.Name || v.Price.Amount == nil || *v.Price.Amount != w.Price || v.Price.Currency != w.Currency {
			return fmt.Errorf("variant %d of %s = %s %s, want %s %d %s", k, want.Name, v.Name, v.Price, w.Name, w.Price, w.Currency)
		}
	}
	return nil
}

const listSize = 50

func listRequest(d *seedData, _ int) request {
	want := d.Products[:min(listSize, len(d.Products))]
	return request{
		Query: `query($c: ID!) { products(first: 50, filter: {categoryId: $c}, sort: NAME_ASC) { edges { node { id name variants { sku stock { available } } } } } }`,
		Vars:  map[string]any{"c": d.CategoryID},
		Check: func(data json.RawMessage) error { return checkList(data, want, d.Stock) },
	}
}

func checkList(data json.RawMessage, want []product, stock map[string]int) error {
	var got struct {
		Products *struct {
			Edges []struct {
				Node struct {
					ID, Name string
					Variants []struct {
						SKU   string
						Stock *struct{ Available *int }
					}
				}
			}
		}
	}
	if err := strictJSON(data, &got); err != nil {
		return err
	}
	if got.Products == nil || len(got.Products.Edges) != len(want) {
		n := 0
		if got.Products != nil {
			n = len(got.Products.Edges)
		}
		return fmt.Errorf("%d products, want %d", n, len(want))
	}
	for k, e := range got.Products.Edges {
		w := want[k]
		if e.Node.ID != w.ID || e.Node.Name != w.Name {
			return fmt.Errorf("product %d = {id: %q, name: %q}, want {id: %q, name: %q}", k, e.Node.ID, e.Node.Name, w.ID, w.Name)
		}
		if len(e.Node.Variants) != len(w.Variants) {
			return fmt.Errorf("product %s has %d variants, want %d", w.Name, len(e.Node.Variants), len(w.Variants))
		}
		for j, v := range e.Node.Variants {
			if v.SKU != w.Variants[j].SKU {
				return fmt.Errorf("product %s variant %d is %s, want %s", w.Name, j, v.SKU, w.Variants[j].SKU)
			}
			if v.Stock == nil || v.Stock.Available == nil {
				return fmt.Errorf("variant %s has no stock", v.SKU)
			}
			if *v.Stock.Available != stock[v.SKU] {
				return fmt.Errorf("variant %s: available %d, want %d", v.SKU, *v.Stock.Available, stock[v.SKU])
			}
		}
	}
	return nil
}

func ordersRequest(d *seedData, i int) request {
	c := d.Customers[i%len(d.Customers)]
	return request{
		Query: `{ myOrders(first: 20) { edges { node { id status customer { email }
			lines { sku quantity variant { sku name product { name } stock { available } } } } } } }`,
		Token: c.Token,
		Check: func(data json.RawMessage) error { return checkOrders(data, c, d.ProductNames, d.Stock) },
	}
}

func checkOrders(data json.RawMessage, c customer, productNames map[string]string, stock map[string]int) error {
	var got struct {
		MyOrders *struct {
			Edges []struct {
				Node struct {
					ID, Status string
					Customer   *struct{ Email string }
					Lines      []struct {
						SKU      string
						Quantity int
						Variant  *struct {
							SKU, Name string
							Product   *struct{ Name string }
							Stock     *struct{ Available *int }
						}
					}
				}
			}
		}
	}
	if err := strictJSON(data, &got); err != nil {
		return err
	}
	if got.MyOrders == nil || len(got.MyOrders.Edges) != len(c.Orders) {
		n := 0
		if got.MyOrders != nil {
			n = len(got.MyOrders.Edges)
		}
		return fmt.Errorf("%s has %d orders, want %d", c.Email, n, len(c.Orders))
	}
	for k, e := range got.MyOrders.Edges {
		o, w := e.Node, c.Orders[k]
		if o.ID != w.ID {
			return fmt.Errorf("order %d is %q, want %q", k, o.ID, w.ID)
		}
		if o.Status != "CONFIRMED" && o.Status != "SHIPPED" && o.Status != "DELIVERED" {
			return fmt.Errorf("order %s is %q, want CONFIRMED", o.ID, o.Status)
		}
		if o.Customer == nil || o.Customer.Email != c.Email {
			return fmt.Errorf("order %s: customer %+v, want %s", o.ID, o.Customer, c.Email)
		}
		if len(o.Lines) != len(w.Lines) {
			return fmt.Errorf("order %s has %d lines, want %d", o.ID, len(o.Lines), len(w.Lines))
		}
		for j, l := range o.Lines {
			wl := w.Lines[j]
			if l.SKU != wl.SKU || l.Quantity != wl.Quantity {
				return fmt.Errorf("order %s line %d = %s × %d, want %s × %d", o.ID, j, l.SKU, l.Quantity, wl.SKU, wl.Quantity)
			}
			v := l.Variant
			if v == nil || v.SKU != wl.SKU || v.Name == "" {
				return fmt.Errorf("order %s line %d: variant %+v, want SKU %s", o.ID, j, v, wl.SKU)
			}
			if v.Product == nil || v.Product.Name != productNames[wl.SKU] {
				return fmt.Errorf("order %s line %d: product %+v, want %q", o.ID, j, v.Product, productNames[wl.SKU])
			}
			if v.Stock == nil || v.Stock.Available == nil || *v.Stock.Available != stock[wl.SKU] {
				return fmt.Errorf("order %s line %d: stock %+v, want available %d", o.ID, j, v.Stock, stock[wl.SKU])
			}
		}
	}
	return nil
}

// checkoutFlow: the worker's own customer puts one unit of a variant in the
// cart and places the order; the latency is from sending placeOrder until
// the order is seen CONFIRMED (on its orderStatusChanged subscription, or by
// a poll of order(id)). With the subscription, the outcome also carries the
// saga's duration as the orders service recorded it.
func checkoutFlow(d *seedData, hc *http.Client, url string, o flowOptions) operation {
	// Every order gets its own idempotency key, across targets and phases.
	run, seq := randomID(), atomic.Int64{}
	dirty := make([]bool, len(d.Checkout))
	return func(ctx context.Context, worker, i int) outcome {
		c := d.Checkout[worker]
		sent := 0
		if dirty[worker] { // an earlier flow failed half-way: start from an empty cart
			sent++
			if _, err := post(ctx, hc, url, c.Token, `mutation { clearCart { itemCount } }`, nil); err != nil {
				return outcome{Err: fmt.Errorf("clearCart: %w", err), Requests: sent}
			}
			dirty[worker] = false
		}
		v := d.OrderVariants[i%len(d.OrderVariants)]
		sent++
		var cart struct {
			AddToCart struct {
				ItemCount int
				Items     []struct{ SKU string }
			}
		}
		if err := call(ctx, hc, url, c.Token, `mutation($i: AddToCartInput!) { addToCart(input: $i) { itemCount items { sku } } }`,
			map[string]any{"i": map[string]any{"sku": v.SKU, "quantity": 1}}, &cart); err != nil {
			dirty[worker] = true
			return outcome{Err: fmt.Errorf("addToCart: %w", err), Requests: sent}
		}
		if cart.AddToCart.ItemCount != 1 || len(cart.AddToCart.Items) != 1 || cart.AddToCart.Items[0].SKU != v.SKU {
			dirty[worker] = true
			return outcome{CheckErr: fmt.Errorf("cart after addToCart(%s) = %+v", v.SKU, cart.AddToCart), Requests: sent}
		}
		start := time.Now()
		sent++
		var placed struct {
			PlaceOrder struct {
				ID     string
				Status string
				Lines  []struct {
					SKU      string
					Quantity int
				}
				Subtotal moneyJSON
			}
		}
		key := fmt.Sprintf("bench-%s-checkout-%s-%d", d.RunID, run, seq.Add(1))
		if err := call(ctx, hc, url, c.Token, `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id status lines { sku quantity } subtotal { amount currency } } }`,
			placeOrderVars(d.ShippingMethod, key), &placed); err != nil {
			dirty[worker] = true
			return outcome{Err: fmt.Errorf("placeOrder: %w", err), Requests: sent}
		}
		p := placed.PlaceOrder
		if p.ID == "" || len(p.Lines) != 1 || p.Lines[0].SKU != v.SKU || p.Lines[0].Quantity != 1 ||
			p.Subtotal.Amount == nil || *p.Subtotal.Amount != v.Price || p.Subtotal.Currency != v.Currency {
			dirty[worker] = true
			return outcome{CheckErr: fmt.Errorf("placeOrder(%s × 1 at %d %s) = order %q, lines %+v, subtotal %s",
				v.SKU, v.Price, v.Currency, p.ID, p.Lines, p.Subtotal), Requests: sent}
		}
		var saga time.Duration
		var err error
		if o.Poll {
			var polls int
			polls, err = awaitConfirmed(ctx, hc, url, c.Token, p.ID, 60*time.Second)
			sent += polls
		} else {
			saga, err = awaitLive(ctx, hc, url, c.Token, p.ID, 60*time.Second)
			sent++
		}
		if errors.Is(err, errNotConfirmed) {
			return outcome{CheckErr: err, Requests: sent}
		}
		if err != nil {
			return outcome{Err: err, Requests: sent}
		}
		return outcome{Latency: time.Since(start), Saga: saga, Requests: sent}
	}
}

// strictJSON decodes data into v, refusing fields v does not declare (a
// gateway that adds or renames fields fails the check).
func strictJSON(data json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("unexpected response shape: %v: %.200s", err, data)
	}
	return nil
}
