package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// gqlResponse is a GraphQL response body.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// post sends one GraphQL request and decodes the response. A transport
// error, a status other than 200, a body that is not a GraphQL response, or
// any GraphQL error is an error.
func post(ctx context.Context, hc *http.Client, url, token, query string, vars map[string]any) (json.RawMessage, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return decodeResponse(res.StatusCode, raw)
}

func decodeResponse(status int, raw []byte) (json.RawMessage, error) {
	var r gqlResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("HTTP %d, not a GraphQL response: %.200s", status, raw)
	}
	if len(r.Errors) > 0 {
		code, _ := r.Errors[0].Extensions["code"].(string)
		return nil, fmt.Errorf("HTTP %d, %d GraphQL error(s), first: %s (%s)", status, len(r.Errors), r.Errors[0].Message, code)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %.200s", status, raw)
	}
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return nil, fmt.Errorf("HTTP %d, no data: %.200s", status, raw)
	}
	return r.Data, nil
}

// call runs a query that must succeed and decodes its data into out.
func call(ctx context.Context, hc *http.Client, url, token, query string, vars map[string]any, out any) error {
	data, err := post(ctx, hc, url, token, query, vars)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// The seeded data, and what every scenario's check expects.
type (
	seedData struct {
		RunID          string
		CategoryID     string
		Products       []product // listed products, in name order
		OrderVariants  []variant // what customers order (other products, much stock)
		Customers      []customer
		Checkout       []customer // one per checkout worker
		ShippingMethod string
		Stock          map[string]int    // SKU → available units expected
		ProductNames   map[string]string // SKU → its product's name
		Orders         bool              // the gateway serves orders
	}
	product struct {
		ID, Name string
		Variants []variant
	}
	variant struct {
		ID, SKU, Name string
		Price         int
		Currency      string
		ProductName   string
	}
	customer struct {
		Email, Token string
		Orders       []placedOrder // newest first
	}
	placedOrder struct {
		ID    string
		Lines []orderLine
	}
	orderLine struct {
		SKU      string
		Quantity int
	}
)

// seedOptions say how much to seed.
type seedOptions struct {
	Products          int
	Customers         int
	OrdersPerCustomer int
	CheckoutCustomers int
	// Concurrency of the catalog's seeding.
	Concurrency   int
	AdminEmail    string
	AdminPassword string
}

const (
	customerPassword = "Bench-Pass-2026"
	orderStock       = 1_000_000
)

// seed fills the catalog and registers customers through the gateway at
// url, as an admin would; if the gateway serves orders, each customer
// places orders and waits for them to be CONFIRMED.
func seed(ctx context.Context, hc *http.Client, url string, o seedOptions, log io.Writer) (*seedData, error) {
	d := &seedData{RunID: strings.ToUpper(randomID()), Stock: map[string]int{}, ProductNames: map[string]string{}}
	var login struct {
		Login struct{ AccessToken string }
	}
	if err := call(ctx, hc, url, "", `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`,
		map[string]any{"i": map[string]any{"email": o.AdminEmail, "password": o.AdminPassword}}, &login); err != nil {
		return nil, fmt.Errorf("admin login: %w", err)
	}
	admin := login.Login.AccessToken
	var q struct {
		Schema struct {
			QueryType struct{ Fields []struct{ Name string } }
		} `json:"__schema"`
	}
	if err := call(ctx, hc, url, "", `{ __schema { queryType { fields { name } } } }`, nil, &q); err != nil {
		return nil, fmt.Errorf("read the gateway's schema: %w", err)
	}
	d.Orders = slices.ContainsFunc(q.Schema.QueryType.Fields, func(f struct{ Name string }) bool { return f.Name == "myOrders" })

	start := time.Now()
	cat, err := createCategory(ctx, hc, url, admin, "Bench "+d.RunID)
	if err != nil {
		return nil, err
	}
	d.CategoryID = cat
	d.Products = make([]product, o.Products)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(o.Concurrency, 1))
	for i := range o.Products {
		g.Go(func() error {
			p, err := createProduct(gctx, hc, url, admin, fmt.Sprintf("Bench %s %03d", d.RunID, i), cat,
				fmt.Sprintf("B%s-%03d", d.RunID, i), 1000+10*i, []int{100 + i, 200 + i})
			d.Products[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, p := range d.Products {
		for j, v := range p.Variants {
			d.Stock[v.SKU] = []int{100 + i, 200 + i}[j]
			d.ProductNames[v.SKU] = p.Name
		}
	}
	fmt.Fprintf(log, "bench: seeded %d products (%d variants) in %s\n", len(d.Products), 2*len(d.Products), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	var mu sync.Mutex
	register := func(n int, kind string) ([]customer, error) {
		out := make([]customer, n)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(4)
		for i := range n {
			g.Go(func() error {
				email := fmt.Sprintf("bench-%s-%s-%d@example.com", strings.ToLower(d.RunID), kind, i)
				var r struct{ Register struct{ AccessToken string } }
				if err := call(gctx, hc, url, "", `mutation($i: RegisterInput!) { register(input: $i) { accessToken } }`,
					map[string]any{"i": map[string]any{"email": email, "password": customerPassword, "name": "Bench " + kind}}, &r); err != nil {
					return fmt.Errorf("register %s: %w", email, err)
				}
				mu.Lock()
				out[i] = customer{Email: email, Token: r.Register.AccessToken}
				mu.Unlock()
				return nil
			})
		}
		return out, g.Wait()
	}
	if d.Customers, err = register(o.Customers, "customer"); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "bench: registered %d customers in %s\n", len(d.Customers), time.Since(start).Round(time.Millisecond))
	if !d.Orders {
		return d, nil
	}

	// Orders buy other products than the listed ones, so the list's stock
	// stays as seeded.
	orderCat, err := createCategory(ctx, hc, url, admin, "Bench orders "+d.RunID)
	if err != nil {
		return nil, err
	}
	for i := range 2 {
		p, err := createProduct(ctx, hc, url, admin, fmt.Sprintf("Bench %s order %d", d.RunID, i), orderCat,
			fmt.Sprintf("B%s-ORD%d", d.RunID, i), 700+100*i, []int{orderStock, orderStock})
		if err != nil {
			return nil, err
		}
		for _, v := range p.Variants {
			d.OrderVariants = append(d.OrderVariants, v)
			d.Stock[v.SKU] = orderStock
			d.ProductNames[v.SKU] = p.Name
		}
	}
	var methods struct{ ShippingMethods []struct{ Code string } }
	if err := call(ctx, hc, url, "", `{ shippingMethods(currency: "USD") { code } }`, nil, &methods); err != nil || len(methods.ShippingMethods) == 0 {
		return nil, fmt.Errorf("shipping methods: %v (%d)", err, len(methods.ShippingMethods))
	}
	d.ShippingMethod = methods.ShippingMethods[0].Code
	if d.Checkout, err = register(o.CheckoutCustomers, "checkout"); err != nil {
		return nil, err
	}

	start = time.Now()
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := range d.Customers {
		c := &d.Customers[i]
		g.Go(func() error {
			for j := range o.OrdersPerCustomer {
				lines := []orderLine{
					{d.OrderVariants[(i+j)%len(d.OrderVariants)].SKU, 1 + j%2},
					{d.OrderVariants[(i+j+1)%len(d.OrderVariants)].SKU, 1},
				}
				id, err := placeOrder(gctx, hc, url, c.Token, lines, d.ShippingMethod, fmt.Sprintf("bench-%s-seed-%d-%d", d.RunID, i, j))
				if err != nil {
					return err
				}
				if _, err := awaitConfirmed(gctx, hc, url, c.Token, id, 60*time.Second); err != nil {
					return err
				}
				c.Orders = append([]placedOrder{{ID: id, Lines: lines}}, c.Orders...)
				mu.Lock()
				for _, l := range lines {
					d.Stock[l.SKU] -= l.Quantity
				}
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("seed orders: %w", err)
	}
	fmt.Fprintf(log, "bench: %d customers placed %d orders each, all CONFIRMED, in %s\n", len(d.Customers), o.OrdersPerCustomer, time.Since(start).Round(time.Millisecond))
	return d, nil
}

func createCategory(ctx context.Context, hc *http.Client, url, admin, name string) (string, error) {
	var r struct{ CreateCategory struct{ ID string } }
	err := call(ctx, hc, url, admin, `mutation($i: CreateCategoryInput!) { createCategory(input: $i) { id } }`,
		map[string]any{"i": map[string]any{"name": name}}, &r)
	if err != nil {
		return "", fmt.Errorf("create category: %w", err)
	}
	return r.CreateCategory.ID, nil
}

// createProduct creates an ACTIVE product with two variants, skuBase-S and
// skuBase-M (the second 500 dearer), and stocks them.
func createProduct(ctx context.Context, hc *http.Client, url, admin, name, category, skuBase string, price int, stock []int) (product, error) {
	var vin []any
	for k, size := range []string{"S", "M"} {
		vin = append(vin, map[string]any{
			"sku": skuBase + "-" + size, "name": "Size " + size,
			"options": []any{map[string]any{"name": "size", "value": size}},
			"price":   map[string]any{"amount": price + 500*k, "currency": "USD"},
		})
	}
	var r struct {
		CreateProduct struct {
			ID       string
			Variants []struct{ ID, SKU, Name string }
		}
	}
	slug := strings.ToLower(strings.ReplaceAll(name, " ", "-"))
	for attempt := 0; ; attempt++ {
		err := call(ctx, hc, url, admin, `mutation($i: CreateProductInput!) { createProduct(input: $i) { id variants { id sku name } } }`,
			map[string]any{"i": map[string]any{"name": name, "slug": slug, "status": "ACTIVE", "categoryIds": []any{category}, "variants": vin}}, &r)
		if err == nil {
			break
		}
		if attempt >= 5 || !strings.Contains(err.Error(), "UNAVAILABLE") {
			return product{}, fmt.Errorf("create product %s: %w", name, err)
		}
		// A busy machine made the gateway give up: the product may have been
		// created all the same.
		time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
		var got struct {
			Product *struct {
				ID       string
				Variants []struct{ ID, SKU, Name string }
			}
		}
		if call(ctx, hc, url, admin, `query($s: String!) { product(slug: $s) { id variants { id sku name } } }`,
			map[string]any{"s": slug}, &got) == nil && got.Product != nil {
			r.CreateProduct = *got.Product
			break
		}
	}
	p := product{ID: r.CreateProduct.ID, Name: name}
	if len(r.CreateProduct.Variants) != 2 {
		return product{}, fmt.Errorf("create product %s: %d variants", name, len(r.CreateProduct.Variants))
	}
	for k, v := range r.CreateProduct.Variants {
		p.Variants = append(p.Variants, variant{ID: v.ID, SKU: v.SKU, Name: v.Name, Price: price + 500*k, Currency: "USD", ProductName: name})
		for attempt := 0; ; attempt++ {
			err := call(ctx, hc, url, admin, `mutation($s: String!, $d: Int!) { adjustStock(sku: $s, delta: $d, reason: "benchmark seed") { onHand } }`,
				map[string]any{"s": v.SKU, "d": stock[k]}, nil)
			if err == nil {
				break
			}
			// The inventory service checks the SKU with the catalog before
			// it changes anything: when that check times out on a busy
			// machine, trying again adds the stock once.
			if attempt >= 5 || !strings.Contains(err.Error(), "catalog cannot be reached") {
				return product{}, fmt.Errorf("stock %s: %w", v.SKU, err)
			}
			time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
		}
	}
	return p, nil
}

const placeOrderMutation = `mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { id status } }`

// placeOrder fills the customer's cart with lines and places the order.
func placeOrder(ctx context.Context, hc *http.Client, url, token string, lines []orderLine, method, key string) (string, error) {
	for _, l := range lines {
		if err := call(ctx, hc, url, token, `mutation($i: AddToCartInput!) { addToCart(input: $i) { itemCount } }`,
			map[string]any{"i": map[string]any{"sku": l.SKU, "quantity": l.Quantity}}, nil); err != nil {
			return "", fmt.Errorf("addToCart: %w", err)
		}
	}
	var r struct{ PlaceOrder struct{ ID, Status string } }
	if err := call(ctx, hc, url, token, placeOrderMutation, placeOrderVars(method, key), &r); err != nil {
		return "", fmt.Errorf("placeOrder: %w", err)
	}
	return r.PlaceOrder.ID, nil
}

func placeOrderVars(method, key string) map[string]any {
	return map[string]any{"i": map[string]any{
		"shippingAddress": map[string]any{"recipient": "Bench Customer", "line1": "1 Loop Road", "city": "Localhost", "postalCode": "12345", "country": "US"},
		"shippingMethod":  method, "paymentToken": "tok_visa", "idempotencyKey": key,
	}}
}

// errNotConfirmed is an order the saga took elsewhere than CONFIRMED.
var errNotConfirmed = errors.New("order not confirmed")

// awaitConfirmed polls the order's status every 20 ms until it is CONFIRMED
// (or later: SHIPPED, DELIVERED) and returns how many polls it took.
func awaitConfirmed(ctx context.Context, hc *http.Client, url, token, id string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for polls := 1; ; polls++ {
		var r struct {
			Order *struct{ Status, StatusReason string }
		}
		if err := call(ctx, hc, url, token, `query($id: ID!) { order(id: $id) { status statusReason } }`, map[string]any{"id": id}, &r); err != nil {
			return polls, fmt.Errorf("order %s: %w", id, err)
		}
		if r.Order == nil {
			return polls, fmt.Errorf("order %s: null", id)
		}
		switch r.Order.Status {
		case "CONFIRMED", "SHIPPED", "DELIVERED":
			return polls, nil
		case "REJECTED", "CANCELLED", "REFUNDED":
			return polls, fmt.Errorf("%w: order %s is %s: %s", errNotConfirmed, id, r.Order.Status, r.Order.StatusReason)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return polls, fmt.Errorf("order %s still %s after %s", id, r.Order.Status, timeout)
		}
	}
}
