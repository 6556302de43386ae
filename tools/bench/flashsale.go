package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// flashOptions say how big the flash sale is.
type flashOptions struct {
	Customers int
	Stock     int
}

// flashResult is what a flash sale did.
type flashResult struct {
	Customers, Stock int
	// ByStatus counts the orders by their final status.
	ByStatus map[string]int
	// Available, OnHand and Reserved are the hot SKU's stock at the end.
	Available, OnHand, Reserved int
	// Wall is from the first placeOrder sent to the last order settled.
	Wall time.Duration
	// Settle are the placeOrder sent → final status latencies.
	Settle []time.Duration
	// Problems are the checks that failed.
	Problems []string
}

// flashSale: Customers customers, registered beforehand, each put one unit
// of one hot SKU (Stock units in stock) in their cart and place an order,
// all at once. Exactly Stock orders must be CONFIRMED and the rest
// REJECTED, with nothing oversold.
func flashSale(ctx context.Context, hc *http.Client, url string, d *seedData, cfg config, log io.Writer) (*flashResult, error) {
	o := cfg.Flash
	var login struct{ Login struct{ AccessToken string } }
	if err := call(ctx, hc, url, "", `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`,
		map[string]any{"i": map[string]any{"email": cfg.AdminEmail, "password": cfg.AdminPassword}}, &login); err != nil {
		return nil, fmt.Errorf("admin login: %w", err)
	}
	admin := login.Login.AccessToken
	run := strings.ToUpper(randomID())
	cat, err := createCategory(ctx, hc, url, admin, "Flash "+run)
	if err != nil {
		return nil, err
	}
	p, err := createProduct(ctx, hc, url, admin, "Flash "+run, cat, "F"+run, 4999, []int{o.Stock, 1})
	if err != nil {
		return nil, err
	}
	hot := p.Variants[0].SKU
	if d.ShippingMethod == "" {
		return nil, fmt.Errorf("no orders subgraph")
	}

	start := time.Now()
	tokens := make([]string, o.Customers)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4) // argon2id: more at once only queue on the cores
	for i := range tokens {
		g.Go(func() error {
			email := fmt.Sprintf("flash-%s-%d@example.com", strings.ToLower(run), i)
			var r struct{ Register struct{ AccessToken string } }
			var err error
			for attempt := range 5 { // a busy machine makes the gateway time the users service out
				if attempt > 0 {
					time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
					var l struct{ Login struct{ AccessToken string } }
					if err = call(gctx, hc, url, "", `mutation($i: LoginInput!) { login(input: $i) { accessToken } }`,
						map[string]any{"i": map[string]any{"email": email, "password": customerPassword}}, &l); err == nil {
						tokens[i] = l.Login.AccessToken
						return nil
					}
				}
				if err = call(gctx, hc, url, "", `mutation($i: RegisterInput!) { register(input: $i) { accessToken } }`,
					map[string]any{"i": map[string]any{"email": email, "password": customerPassword, "name": "Flash buyer"}}, &r); err == nil {
					tokens[i] = r.Register.AccessToken
					return nil
				}
			}
			return fmt.Errorf("register %s: %w", email, err)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "bench: flashsale: registered %d customers in %s; %d units of %s\n", o.Customers, time.Since(start).Round(time.Millisecond), o.Stock, hot)

	res := &flashResult{Customers: o.Customers, Stock: o.Stock, ByStatus: map[string]int{}}
	var mu sync.Mutex
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			status, took, err := flashOrder(ctx, hc, url, tok, hot, d.ShippingMethod, fmt.Sprintf("flash-%s-%d", run, i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.ByStatus["error"]++
				if len(res.Problems) < 5 {
					res.Problems = append(res.Problems, err.Error())
				}
				return
			}
			res.ByStatus[status]++
			res.Settle = append(res.Settle, took)
		}()
	}
	began := time.Now()
	close(gate)
	wg.Wait()
	res.Wall = time.Since(began)

	var st struct {
		Product *struct {
			Variants []struct {
				SKU   string
				Stock struct{ Available, OnHand, Reserved int }
			}
		}
	}
	if err := call(ctx, hc, url, admin, `query($id: ID!) { product(id: $id) { variants { sku stock { available onHand reserved } } } }`,
		map[string]any{"id": p.ID}, &st); err != nil || st.Product == nil {
		return nil, fmt.Errorf("hot SKU's stock: %v", err)
	}
	for _, v := range st.Product.Variants {
		if v.SKU == hot {
			res.Available, res.OnHand, res.Reserved = v.Stock.Available, v.Stock.OnHand, v.Stock.Reserved
		}
	}
	if n := res.ByStatus["CONFIRMED"]; n != o.Stock {
		res.Problems = append(res.Problems, fmt.Sprintf("%d orders CONFIRMED, want %d", n, o.Stock))
	}
	if n := res.ByStatus["REJECTED"]; n != o.Customers-o.Stock {
		res.Problems = append(res.Problems, fmt.Sprintf("%d orders REJECTED, want %d", n, o.Customers-o.Stock))
	}
	if res.Available != 0 || res.Reserved != 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("hot SKU left with %d available, %d reserved; want 0 and 0", res.Available, res.Reserved))
	}
	for _, l := range res.lines() {
		fmt.Fprintln(log, "bench:", strings.TrimPrefix(l, "- "))
	}
	return res, nil
}

// flashOrder puts one unit of sku in the customer's cart, places the order
// and polls it until it settles; it returns the final status and the time
// from placeOrder sent to settled.
func flashOrder(ctx context.Context, hc *http.Client, url, token, sku, method, key string) (string, time.Duration, error) {
	if err := call(ctx, hc, url, token, `mutation($i: AddToCartInput!) { addToCart(input: $i) { itemCount } }`,
		map[string]any{"i": map[string]any{"sku": sku, "quantity": 1}}, nil); err != nil {
		return "", 0, fmt.Errorf("addToCart: %w", err)
	}
	start := time.Now()
	var r struct{ PlaceOrder struct{ ID, Status string } }
	if err := call(ctx, hc, url, token, placeOrderMutation, placeOrderVars(method, key), &r); err != nil {
		return "", 0, fmt.Errorf("placeOrder: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		var o struct{ Order *struct{ Status string } }
		if err := call(ctx, hc, url, token, `query($id: ID!) { order(id: $id) { status } }`, map[string]any{"id": r.PlaceOrder.ID}, &o); err != nil {
			return "", 0, fmt.Errorf("order %s: %w", r.PlaceOrder.ID, err)
		}
		if o.Order == nil {
			return "", 0, fmt.Errorf("order %s: null", r.PlaceOrder.ID)
		}
		switch o.Order.Status {
		case "CONFIRMED", "SHIPPED", "DELIVERED", "REJECTED", "CANCELLED", "REFUNDED":
			return o.Order.Status, time.Since(start), nil
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return "", 0, fmt.Errorf("order %s still %s", r.PlaceOrder.ID, o.Order.Status)
		}
	}
}

// lines are the report's lines about the flash sale.
func (r *flashResult) lines() []string {
	var st []string
	for k, v := range r.ByStatus {
		st = append(st, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(st)
	q := func(f float64) string {
		if len(r.Settle) == 0 {
			return "-"
		}
		s := slices.Clone(r.Settle)
		slices.Sort(s)
		return fmt.Sprint(s[min(len(s)-1, int(f*float64(len(s))))].Round(time.Millisecond))
	}
	verdict := "PASS"
	if len(r.Problems) > 0 {
		verdict = "FAIL: " + strings.Join(r.Problems, "; ")
	}
	return []string{
		fmt.Sprintf("- flashsale: %d customers order 1 unit each of one SKU with %d in stock, all at once: %s; settled in %s (%.0f orders/s); placeOrder → final status p50 %s, p99 %s; hot SKU ends with available %d, on hand %d, reserved %d. %s",
			r.Customers, r.Stock, strings.Join(st, ", "), r.Wall.Round(time.Millisecond),
			float64(len(r.Settle))/r.Wall.Seconds(), q(0.5), q(0.99), r.Available, r.OnHand, r.Reserved, verdict),
	}
}
