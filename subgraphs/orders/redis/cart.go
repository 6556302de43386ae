// Package redis keeps carts in Redis: one hash per customer, under a key
// prefix, with a time to live refreshed on every change.
package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/orders/cart"
)

// A cart is the hash <prefix><customer ID> with the fields
//
//	updatedAt   RFC 3339 time of the last change
//	item:<SKU>  the item as JSON (see item)
const (
	fieldUpdatedAt  = "updatedAt"
	fieldItemPrefix = "item:"
)

// maxAttempts bounds how often Update reads the cart again because it
// changed between the read and the write.
const maxAttempts = 20

// CartStore is a cart.Store on Redis. It is safe for concurrent use.
type CartStore struct {
	rdb    *goredis.Client
	prefix string
	ttl    time.Duration
}

var _ cart.Store = (*CartStore)(nil)

// NewCartStore returns a store that keeps each customer's cart under
// prefix+customerID for ttl after its last change (cart.DefaultTTL if ttl
// is not positive).
func NewCartStore(rdb *goredis.Client, prefix string, ttl time.Duration) *CartStore {
	if ttl <= 0 {
		ttl = cart.DefaultTTL
	}
	return &CartStore{rdb: rdb, prefix: prefix, ttl: ttl}
}

type item struct {
	Quantity    int         `json:"quantity"`
	AddedAt     time.Time   `json:"addedAt"`
	ProductName string      `json:"productName,omitempty"`
	VariantName string      `json:"variantName,omitempty"`
	Price       money.Money `json:"price"`
}

func (s *CartStore) key(customerID string) string { return s.prefix + customerID }

// Load implements cart.Store.
func (s *CartStore) Load(ctx context.Context, customerID string) (cart.Cart, error) {
	vals, err := s.rdb.HGetAll(ctx, s.key(customerID)).Result()
	if err != nil {
		return cart.Cart{}, fmt.Errorf("load cart: %w", err)
	}
	return decode(customerID, vals)
}

// Update implements cart.Store with optimistic locking (WATCH/MULTI).
func (s *CartStore) Update(ctx context.Context, customerID string, fn func(*cart.Cart) error) (cart.Cart, error) {
	c, _, err := s.update(ctx, customerID, "", fn)
	return c, err
}

// onceTTL is how long UpdateOnce remembers a key: far longer than any
// redelivery of the message that asked for the update.
const onceTTL = 7 * 24 * time.Hour

// UpdateOnce implements cart.Store: the key is remembered under the
// prefix, in the same MULTI as the cart's change, for onceTTL.
func (s *CartStore) UpdateOnce(ctx context.Context, customerID, key string, fn func(*cart.Cart) error) (bool, error) {
	if key == "" {
		return false, errors.New("update cart once: empty key")
	}
	_, applied, err := s.update(ctx, customerID, key, fn)
	return applied, err
}

// update applies fn to the cart; with a once key, only if no update with
// that key was applied before (then it reports false and changes nothing).
func (s *CartStore) update(ctx context.Context, customerID, once string, fn func(*cart.Cart) error) (cart.Cart, bool, error) {
	key := s.key(customerID)
	watched := []string{key}
	onceKey := ""
	if once != "" {
		onceKey = s.prefix + "once:" + once
		watched = append(watched, onceKey)
	}
	var out cart.Cart
	applied := false
	for range maxAttempts {
		err := s.rdb.Watch(ctx, func(tx *goredis.Tx) error {
			if onceKey != "" {
				n, err := tx.Exists(ctx, onceKey).Result()
				if err != nil {
					return err
				}
				if n > 0 {
					applied = false
					return nil // done before
				}
			}
			vals, err := tx.HGetAll(ctx, key).Result()
			if err != nil {
				return err
			}
			c, err := decode(customerID, vals)
			if err != nil {
				return err
			}
			if err := fn(&c); err != nil {
				return err
			}
			fields, err := encode(c)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				p.Del(ctx, key)
				if len(c.Items) > 0 {
					p.HSet(ctx, key, fields)
					p.Expire(ctx, key, s.ttl)
				}
				if onceKey != "" {
					p.Set(ctx, onceKey, "1", onceTTL)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if len(c.Items) == 0 {
				c.UpdatedAt = time.Time{}
			}
			out, applied = c, true
			return nil
		}, watched...)
		if errors.Is(err, goredis.TxFailedErr) {
			continue // changed meanwhile: read it again
		}
		if err != nil {
			return cart.Cart{}, false, err
		}
		return out, applied, nil
	}
	return cart.Cart{}, false, fmt.Errorf("update cart of %s: it kept changing", customerID)
}

func decode(customerID string, vals map[string]string) (cart.Cart, error) {
	c := cart.Cart{CustomerID: customerID}
	for f, v := range vals {
		switch {
		case f == fieldUpdatedAt:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return cart.Cart{}, fmt.Errorf("cart of %s: updatedAt: %w", customerID, err)
			}
			c.UpdatedAt = t.UTC()
		case strings.HasPrefix(f, fieldItemPrefix):
			var it item
			if err := json.Unmarshal([]byte(v), &it); err != nil {
				return cart.Cart{}, fmt.Errorf("cart of %s: %s: %w", customerID, f, err)
			}
			c.Items = append(c.Items, cart.Item{
				SKU: strings.TrimPrefix(f, fieldItemPrefix), Quantity: it.Quantity, AddedAt: it.AddedAt.UTC(),
				ProductName: it.ProductName, VariantName: it.VariantName, Price: it.Price,
			})
		}
	}
	slices.SortFunc(c.Items, func(a, b cart.Item) int {
		return cmp.Or(a.AddedAt.Compare(b.AddedAt), strings.Compare(a.SKU, b.SKU))
	})
	return c, nil
}

func encode(c cart.Cart) (map[string]any, error) {
	fields := make(map[string]any, len(c.Items)+1)
	fields[fieldUpdatedAt] = c.UpdatedAt.UTC().Format(time.RFC3339Nano)
	for _, it := range c.Items {
		b, err := json.Marshal(item{
			Quantity: it.Quantity, AddedAt: it.AddedAt.UTC(), ProductName: it.ProductName,
			VariantName: it.VariantName, Price: it.Price,
		})
		if err != nil {
			return nil, err
		}
		fields[fieldItemPrefix+it.SKU] = string(b)
	}
	return fields, nil
}
