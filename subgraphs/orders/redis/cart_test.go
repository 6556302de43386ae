package redis_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/orders/cart"
	ordersredis "github.com/shopgraph/shopgraph/subgraphs/orders/redis"
)

func TestCartStore(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.Redis(t)
	s := ordersredis.NewCartStore(rdb, prefix+"cart:", time.Hour)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

	empty, err := s.Load(ctx, "c1")
	if err != nil || len(empty.Items) != 0 || !empty.UpdatedAt.IsZero() || empty.CustomerID != "c1" {
		t.Fatalf("no cart: %+v, %v", empty, err)
	}

	add := func(sku string, at time.Time) func(*cart.Cart) error {
		return func(c *cart.Cart) error {
			if i := c.Find(sku); i >= 0 {
				c.Items[i].Quantity++
			} else {
				c.Items = append(c.Items, cart.Item{SKU: sku, Quantity: 1, AddedAt: at, ProductName: "P " + sku, Price: money.Money{Amount: 100, Currency: "USD"}})
			}
			c.UpdatedAt = at
			return nil
		}
	}
	if _, err := s.Update(ctx, "c1", add("ZED", t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "c1", add("ALPHA", t0.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	c, err := s.Load(ctx, "c1")
	if err != nil || len(c.Items) != 2 || c.Items[0].SKU != "ZED" || c.Items[1].SKU != "ALPHA" || !c.UpdatedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("cart %+v, %v: want items in the order they were added", c, err)
	}
	if c.Items[1].ProductName != "P ALPHA" || c.Items[1].Price.Amount != 100 {
		t.Errorf("item %+v", c.Items[1])
	}
	if ttl := rdb.TTL(ctx, prefix+"cart:c1").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL %v, want up to an hour", ttl)
	}
	// A change refreshes the TTL.
	rdb.Expire(ctx, prefix+"cart:c1", time.Minute)
	if _, err := s.Update(ctx, "c1", add("ZED", t0.Add(2*time.Second))); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.TTL(ctx, prefix+"cart:c1").Val(); ttl < 59*time.Minute {
		t.Errorf("TTL after a change %v, want about an hour again", ttl)
	}

	// fn's error leaves the cart as it was.
	boom := errors.New("boom")
	if _, err := s.Update(ctx, "c1", func(c *cart.Cart) error { c.Items = nil; return boom }); !errors.Is(err, boom) {
		t.Fatalf("fn's error: %v", err)
	}
	if c, _ := s.Load(ctx, "c1"); len(c.Items) != 2 || c.Items[0].Quantity != 2 {
		t.Errorf("cart after a failed update: %+v", c)
	}

	// Concurrent changes are not lost.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.Update(ctx, "c1", add("ALPHA", t0)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c, _ := s.Load(ctx, "c1"); c.Items[1].Quantity != 21 {
		t.Errorf("ALPHA quantity %d after 20 concurrent adds, want 21", c.Items[1].Quantity)
	}

	// Emptied, the cart is gone.
	if _, err := s.Update(ctx, "c1", func(c *cart.Cart) error { c.Items = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, prefix+"cart:c1").Val(); n != 0 {
		t.Errorf("empty cart still stored")
	}
}

// TestCartStoreUpdateOnce checks that an update with a key changes the cart
// once, however often it is retried, even concurrently and even after the
// cart was emptied in between; other keys and plain updates still apply.
func TestCartStoreUpdateOnce(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.Redis(t)
	s := ordersredis.NewCartStore(rdb, prefix+"cart:", time.Hour)
	ctx := context.Background()
	put := func(sku string, qty int) func(*cart.Cart) error {
		return func(c *cart.Cart) error {
			if i := c.Find(sku); i >= 0 {
				c.Items[i].Quantity += qty
			} else {
				c.Items = append(c.Items, cart.Item{SKU: sku, Quantity: qty})
			}
			return nil
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	applied := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.UpdateOnce(ctx, "c1", "restore:o1", put("LAMP", 2))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				applied++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	c, _ := s.Load(ctx, "c1")
	if applied != 1 || len(c.Items) != 1 || c.Items[0].Quantity != 2 {
		t.Fatalf("8 concurrent UpdateOnce: applied %d times, cart %+v; want once, 2 LAMP", applied, c.Items)
	}
	// Emptied by the customer, then the same update again: nothing.
	if _, err := s.Update(ctx, "c1", func(c *cart.Cart) error { c.Items = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.UpdateOnce(ctx, "c1", "restore:o1", put("LAMP", 2)); ok || err != nil {
		t.Fatalf("repeated UpdateOnce after emptying: %v, %v; want false", ok, err)
	}
	if c, _ := s.Load(ctx, "c1"); len(c.Items) != 0 {
		t.Fatalf("cart %+v, want empty", c.Items)
	}
	// Another key applies; a failing fn saves nothing and is not remembered.
	if ok, err := s.UpdateOnce(ctx, "c1", "restore:o2", put("MUG", 1)); !ok || err != nil {
		t.Fatalf("UpdateOnce with another key: %v, %v", ok, err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateOnce(ctx, "c1", "restore:o3", func(*cart.Cart) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing fn: %v", err)
	}
	if ok, err := s.UpdateOnce(ctx, "c1", "restore:o3", put("MUG", 1)); !ok || err != nil {
		t.Fatalf("UpdateOnce after a failed one: %v, %v; want applied", ok, err)
	}
	if c, _ := s.Load(ctx, "c1"); len(c.Items) != 1 || c.Items[0].Quantity != 2 {
		t.Fatalf("cart %+v, want 2 MUG", c.Items)
	}
}
