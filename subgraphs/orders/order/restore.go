package order

import (
	"context"
	"fmt"
	"time"

	"github.com/shopgraph/shopgraph/subgraphs/orders/cart"
)

// GivesCartBack reports whether o ended in a way that is no choice of the
// customer's, so that what they ordered goes back into their cart:
// REJECTED for want of stock, or CANCELLED because the payment was declined
// or failed. An order the customer cancelled, or that timed out, does not.
func (o *Order) GivesCartBack() bool {
	switch o.Status {
	case StatusRejected:
		return o.Progress.Stock == Rejected
	case StatusCancelled:
		return o.Progress.Payment == Declined || o.Progress.Payment == Failed
	}
	return false
}

// RestoreCart puts the lines of the order with id back into its customer's
// cart if the order gives the cart back (see GivesCartBack), once per order
// however often it is called: each line's quantity is added to what the
// cart holds of that SKU now (up to cart.MaxQuantity); a SKU the cart
// does not hold is added at the end while the cart has room for it
// (cart.MaxItems). It reports whether the cart changed. It is the orders
// service's own consumer that calls it, for every status change.
// Returns NOT_FOUND if there is no such order.
func (s *Service) RestoreCart(ctx context.Context, id string) (bool, error) {
	o, err := s.store.Load(ctx, id)
	if err != nil {
		return false, fmt.Errorf("restore cart: %w", err)
	}
	if !o.GivesCartBack() {
		return false, nil
	}
	now := s.at()
	applied, err := s.carts.UpdateOnce(ctx, o.CustomerID, "restore:"+o.ID, func(c *cart.Cart) error {
		restoreLines(c, o.Lines, now)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("restore cart: %w", err)
	}
	if applied {
		s.log.InfoContext(ctx, "order lines back in the cart", "order", o.ID, "status", o.Status, "customer", o.CustomerID)
	}
	return applied, nil
}

// restoreLines merges lines into c.
func restoreLines(c *cart.Cart, lines []Line, now time.Time) {
	for _, l := range lines {
		if i := c.Find(l.SKU); i >= 0 {
			c.Items[i].Quantity = min(c.Items[i].Quantity+l.Quantity, cart.MaxQuantity)
			continue
		}
		if len(c.Items) >= cart.MaxItems {
			continue
		}
		c.Items = append(c.Items, cart.Item{
			SKU: l.SKU, Quantity: min(l.Quantity, cart.MaxQuantity), AddedAt: now,
			ProductName: l.ProductName, VariantName: l.VariantName, Price: l.UnitPrice,
		})
	}
	if len(lines) > 0 {
		c.UpdatedAt = now
	}
}
