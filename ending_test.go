package main

import (
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/testenv"
)

// cartLines is the customer's cart as SKU → quantity.
func cartLines(t *testing.T, c *client) map[string]int {
	t.Helper()
	d := c.must(`query MyCart { cart { items { sku quantity } } }`, nil)
	out := map[string]int{}
	for _, it := range list(d, "cart", "items") {
		out[str(it, "sku")] = num(it, "quantity")
	}
	return out
}

// waitCart polls the cart until it holds exactly want (or fails after a
// deadline: the cart comes back asynchronously, from a consumer).
func waitCart(t *testing.T, c *client, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := cartLines(t, c)
		if equalLines(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cart %v, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func equalLines(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// awaitComplete fails unless the subscription is ended by the server with
// "complete" soon after its last update.
func (f *statusFeed) awaitComplete(t *testing.T, name string) {
	t.Helper()
	select {
	case <-f.completed:
	case u, ok := <-f.updates:
		if ok {
			t.Errorf("%s: update %v after the final status, want complete", name, u)
		} else {
			select {
			case <-f.completed:
			default:
				t.Errorf("%s: ended without complete", name)
			}
		}
	case e := <-f.errs:
		t.Errorf("%s: error %s, want complete", name, e)
	case <-time.After(15 * time.Second):
		t.Errorf("%s: no complete within 15s of the final status", name)
	}
}

// TestOrderEndings: an order that ends through no choice of the customer's
// (card declined, stock short) gives its lines back to the cart, merged
// with what was added since; and every subscription to the order, over
// each transport of the gateway, completes once it reaches a final status.
func TestOrderEndings(t *testing.T) {
	t.Parallel()
	s := newShop(t)

	t.Run("declined card", func(t *testing.T) {
		t.Parallel()
		skus := s.stock(t, "Vase", 10, 4500, 1500)
		access, _, _ := register(t, s.system, "declined-"+testenv.ID()+"@example.com", "Dora")
		c := s.client(access)
		id := checkout(t, c, "tok_chargeDeclined", map[string]int{skus[0]: 2, skus[1]: 1})
		feeds := map[string]*statusFeed{
			"graphql-transport-ws": subscribeWS(t, s.system, "graphql-transport-ws", access, watchOrder, map[string]any{"id": id}),
			"graphql-ws":           subscribeWS(t, s.system, "graphql-ws", access, watchOrder, map[string]any{"id": id}),
			"SSE":                  subscribeSSE(t, s.system, access, watchOrder, map[string]any{"id": id}),
		}
		// Added after the order was placed: kept, and merged with the
		// lines that come back.
		if r := addToCart(t, c, skus[1], 3); len(r.Errors) > 0 {
			t.Fatalf("addToCart: %s", r.Raw)
		}
		waitStatus(t, c, id, "CANCELLED")
		for name, f := range feeds {
			if got := f.collect(t, "CANCELLED"); got[len(got)-1] != "CANCELLED" {
				t.Errorf("%s saw %v", name, got)
			}
			f.awaitComplete(t, name)
		}
		waitCart(t, c, map[string]int{skus[0]: 2, skus[1]: 4})
		// Given back once: later events about the order change nothing.
		time.Sleep(500 * time.Millisecond)
		if got := cartLines(t, c); !equalLines(got, map[string]int{skus[0]: 2, skus[1]: 4}) {
			t.Errorf("cart changed again: %v", got)
		}
		// A new subscription to the ended order gives its status, then
		// completes at once.
		again := subscribeWS(t, s.system, "graphql-transport-ws", access, watchOrder, map[string]any{"id": id})
		if got := again.collect(t, "CANCELLED"); len(got) != 1 {
			t.Errorf("a subscription to a CANCELLED order saw %v, want only CANCELLED", got)
		}
		again.awaitComplete(t, "subscription to an ended order")
	})

	t.Run("stock short", func(t *testing.T) {
		t.Parallel()
		skus := s.stock(t, "Lamp", 1, 2500, 900)
		c := s.customer(t)
		id := checkout(t, c, "tok_visa", map[string]int{skus[0]: 3, skus[1]: 1})
		waitStatus(t, c, id, "REJECTED")
		waitCart(t, c, map[string]int{skus[0]: 3, skus[1]: 1})
	})

	t.Run("confirmed order keeps the cart empty", func(t *testing.T) {
		t.Parallel()
		skus := s.stock(t, "Mug", 5, 1200)
		c := s.customer(t)
		id := checkout(t, c, "tok_visa", map[string]int{skus[0]: 1})
		waitStatus(t, c, id, "CONFIRMED")
		time.Sleep(500 * time.Millisecond)
		if got := cartLines(t, c); len(got) != 0 {
			t.Errorf("cart after a confirmed order: %v, want empty", got)
		}
	})
}
