package cart

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/money"
)

// Line is a cart item priced from the catalog.
type Line struct {
	SKU         string
	Quantity    int
	ProductName string
	VariantName string
	UnitPrice   money.Money
	LineTotal   money.Money
	// Available reports whether the item can be ordered: the catalog still
	// has it and its product is ACTIVE.
	Available bool
}

// View is a cart as the customer sees it: priced from the catalog now.
type View struct {
	CustomerID string
	Lines      []Line
	// ItemCount is the number of units, available or not.
	ItemCount int
	// Subtotal is the sum of the available lines' totals; nil when there
	// are none or they are in more than one currency.
	Subtotal  *money.Money
	UpdatedAt time.Time
}

// Service is the cart's use cases. Every method acts on the signed-in
// customer's own cart and returns UNAUTHENTICATED for anonymous callers.
type Service struct {
	store   Store
	catalog Catalog
	now     func() time.Time
	log     *slog.Logger
}

// Options are a Service's optional settings.
type Options struct {
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Log; slog.Default() if nil.
	Log *slog.Logger
}

// NewService returns the cart service over store, pricing from catalog.
func NewService(store Store, catalog Catalog, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Service{store: store, catalog: catalog, now: o.Now, log: o.Log}
}

// Get returns the caller's cart.
// Returns UNAUTHENTICATED without sign-in and UNAVAILABLE if the catalog
// cannot be asked.
func (s *Service) Get(ctx context.Context) (View, error) {
	id, err := auth.Require(ctx)
	if err != nil {
		return View{}, err
	}
	c, err := s.store.Load(ctx, id.UserID)
	if err != nil {
		return View{}, fmt.Errorf("load cart: %w", err)
	}
	return s.view(ctx, c, nil)
}

// Add adds qty units of sku to the caller's cart.
// Returns UNAUTHENTICATED without sign-in; INVALID_INPUT for a malformed SKU,
// a quantity that is not 1 to MaxQuantity or would take the item above
// MaxQuantity, a cart that already holds MaxItems other items, a variant
// whose product is not ACTIVE, or one priced in another currency than the
// cart's other items; NOT_FOUND if the catalog has no such SKU; UNAVAILABLE
// if the catalog cannot be asked. Nothing changes when it fails.
func (s *Service) Add(ctx context.Context, sku string, qty int) (View, error) {
	id, err := auth.Require(ctx)
	if err != nil {
		return View{}, err
	}
	sku = NormalizeSKU(sku)
	if err := ValidateSKU("sku", sku); err != nil {
		return View{}, err
	}
	if qty < 1 || qty > MaxQuantity {
		return View{}, apperr.Invalid("quantity", "quantity must be 1 to %d, got %d", MaxQuantity, qty)
	}
	cur, err := s.store.Load(ctx, id.UserID)
	if err != nil {
		return View{}, fmt.Errorf("load cart: %w", err)
	}
	known, err := s.variants(ctx, skusOf(cur, sku))
	if err != nil {
		return View{}, err
	}
	v, err := orderable(known, sku)
	if err != nil {
		return View{}, err
	}
	c, err := s.store.Update(ctx, id.UserID, func(c *Cart) error {
		for _, it := range c.Items {
			if cur := currencyOf(it, known); it.SKU != sku && cur != "" && cur != v.Price.Currency {
				return apperr.Invalid("sku", "%s is priced in %s, but your cart is in %s: place the order for your cart first", sku, v.Price.Currency, cur)
			}
		}
		now := s.now().UTC()
		i := c.Find(sku)
		if i < 0 {
			if len(c.Items) >= MaxItems {
				return apperr.Invalid("sku", "a cart holds at most %d different items; remove one first", MaxItems)
			}
			c.Items = append(c.Items, Item{SKU: sku, AddedAt: now})
			i = len(c.Items) - 1
		}
		if n := c.Items[i].Quantity + qty; n > MaxQuantity {
			return apperr.Invalid("quantity", "a cart holds at most %d of one item; it already has %d of %s", MaxQuantity, c.Items[i].Quantity, sku)
		}
		c.Items[i].Quantity += qty
		snapshot(&c.Items[i], v)
		c.UpdatedAt = now
		return nil
	})
	if err != nil {
		return View{}, fmt.Errorf("add to cart: %w", err)
	}
	s.log.DebugContext(ctx, "added to cart", "customer", id.UserID, "sku", sku, "quantity", qty)
	return s.view(ctx, c, known)
}

// SetQuantity sets the quantity of sku in the caller's cart; 0 removes it.
// Returns UNAUTHENTICATED without sign-in; INVALID_INPUT for a malformed SKU,
// a quantity that is not 0 to MaxQuantity, or a variant whose product is not
// ACTIVE; NOT_FOUND if the item is not in the cart or the catalog no longer
// has it; UNAVAILABLE if the catalog cannot be asked. Nothing changes when
// it fails.
func (s *Service) SetQuantity(ctx context.Context, sku string, qty int) (View, error) {
	id, err := auth.Require(ctx)
	if err != nil {
		return View{}, err
	}
	sku = NormalizeSKU(sku)
	if err := ValidateSKU("sku", sku); err != nil {
		return View{}, err
	}
	if qty < 0 || qty > MaxQuantity {
		return View{}, apperr.Invalid("quantity", "quantity must be 0 (to remove the item) to %d, got %d", MaxQuantity, qty)
	}
	cur, err := s.store.Load(ctx, id.UserID)
	if err != nil {
		return View{}, fmt.Errorf("load cart: %w", err)
	}
	if cur.Find(sku) < 0 {
		return View{}, notInCart(sku)
	}
	known, err := s.variants(ctx, skusOf(cur, ""))
	if err != nil {
		return View{}, err
	}
	var v Variant
	if qty > 0 {
		if v, err = orderable(known, sku); err != nil {
			return View{}, err
		}
	}
	c, err := s.store.Update(ctx, id.UserID, func(c *Cart) error {
		i := c.Find(sku)
		if i < 0 {
			return notInCart(sku)
		}
		if qty == 0 {
			c.Items = slices.Delete(c.Items, i, i+1)
		} else {
			c.Items[i].Quantity = qty
			snapshot(&c.Items[i], v)
		}
		c.UpdatedAt = s.now().UTC()
		return nil
	})
	if err != nil {
		return View{}, fmt.Errorf("update cart item: %w", err)
	}
	return s.view(ctx, c, known)
}

// Remove removes sku from the caller's cart; removing an item that is not
// there changes nothing.
// Returns UNAUTHENTICATED without sign-in, INVALID_INPUT for a malformed SKU
// and UNAVAILABLE if the catalog cannot be asked (for the cart's prices).
func (s *Service) Remove(ctx context.Context, sku string) (View, error) {
	id, err := auth.Require(ctx)
	if err != nil {
		return View{}, err
	}
	sku = NormalizeSKU(sku)
	if err := ValidateSKU("sku", sku); err != nil {
		return View{}, err
	}
	c, err := s.store.Update(ctx, id.UserID, func(c *Cart) error {
		if i := c.Find(sku); i >= 0 {
			c.Items = slices.Delete(c.Items, i, i+1)
			c.UpdatedAt = s.now().UTC()
		}
		return nil
	})
	if err != nil {
		return View{}, fmt.Errorf("remove from cart: %w", err)
	}
	return s.view(ctx, c, nil)
}

// Clear empties the caller's cart.
// Returns UNAUTHENTICATED without sign-in.
func (s *Service) Clear(ctx context.Context) (View, error) {
	id, err := auth.Require(ctx)
	if err != nil {
		return View{}, err
	}
	c, err := s.store.Update(ctx, id.UserID, func(c *Cart) error {
		c.Items = nil
		return nil
	})
	if err != nil {
		return View{}, fmt.Errorf("clear cart: %w", err)
	}
	return View{CustomerID: c.CustomerID, Lines: []Line{}}, nil
}

// view prices c from known, asking the catalog for the SKUs known lacks.
func (s *Service) view(ctx context.Context, c Cart, known map[string]Variant) (View, error) {
	var missing []string
	for _, it := range c.Items {
		if _, ok := known[it.SKU]; !ok {
			missing = append(missing, it.SKU)
		}
	}
	if len(missing) > 0 {
		more, err := s.variants(ctx, missing)
		if err != nil {
			return View{}, err
		}
		all := make(map[string]Variant, len(known)+len(more))
		for k, v := range known {
			all[k] = v
		}
		for k, v := range more {
			all[k] = v
		}
		known = all
	}
	return Price(c, known), nil
}

// variants asks the catalog about skus, logging why it could not.
func (s *Service) variants(ctx context.Context, skus []string) (map[string]Variant, error) {
	known, err := s.catalog.Variants(ctx, skus)
	if err != nil {
		s.log.WarnContext(ctx, "cart: catalog lookup failed", "err", err)
		return nil, err
	}
	return known, nil
}

// Price returns c priced from known, the catalog's answer for its SKUs.
// An item the catalog does not know is shown with the name and price it had
// when it was last added or changed, unavailable.
func Price(c Cart, known map[string]Variant) View {
	out := View{CustomerID: c.CustomerID, Lines: make([]Line, 0, len(c.Items)), UpdatedAt: c.UpdatedAt}
	var subtotal *money.Money
	mixed := false
	for _, it := range c.Items {
		l := Line{SKU: it.SKU, Quantity: it.Quantity, ProductName: it.ProductName, VariantName: it.VariantName, UnitPrice: it.Price}
		if v, ok := known[it.SKU]; ok {
			l.ProductName, l.VariantName, l.UnitPrice, l.Available = v.ProductName, v.Name, v.Price, v.Orderable()
		}
		l.LineTotal = l.UnitPrice.Times(int64(l.Quantity))
		out.ItemCount += l.Quantity
		if l.Available {
			switch {
			case subtotal == nil:
				t := l.LineTotal
				subtotal = &t
			case subtotal.Currency != l.LineTotal.Currency:
				mixed = true
			default:
				subtotal.Amount += l.LineTotal.Amount
			}
		}
		out.Lines = append(out.Lines, l)
	}
	if !mixed {
		out.Subtotal = subtotal
	}
	return out
}

// orderable returns the catalog's variant for sku.
// Returns NOT_FOUND if the catalog does not know it and INVALID_INPUT if its
// product is not ACTIVE.
func orderable(known map[string]Variant, sku string) (Variant, error) {
	v, ok := known[sku]
	if !ok {
		return Variant{}, &apperr.Error{Code: apperr.NotFound, Field: "sku", Message: fmt.Sprintf("the catalog has no variant with SKU %s", sku)}
	}
	if !v.Orderable() {
		return Variant{}, apperr.Invalid("sku", "%s (%s) is no longer available", v.ProductName, sku)
	}
	return v, nil
}

func notInCart(sku string) error {
	return &apperr.Error{Code: apperr.NotFound, Field: "sku", Message: fmt.Sprintf("%s is not in your cart", sku)}
}

// currencyOf returns the currency an item counts in for the cart's single
// currency: the catalog's current price if the item is orderable, its
// snapshot if the catalog was not asked about it, "" if it is unavailable.
func currencyOf(it Item, known map[string]Variant) string {
	v, ok := known[it.SKU]
	switch {
	case ok && v.Orderable():
		return v.Price.Currency
	case ok:
		return ""
	}
	return it.Price.Currency
}

func snapshot(it *Item, v Variant) {
	it.ProductName, it.VariantName, it.Price = v.ProductName, v.Name, v.Price
}

// skusOf returns the SKUs of c plus extra (if not empty and not in c).
func skusOf(c Cart, extra string) []string {
	out := make([]string, 0, len(c.Items)+1)
	for _, it := range c.Items {
		out = append(out, it.SKU)
	}
	if extra != "" && c.Find(extra) < 0 {
		out = append(out, extra)
	}
	return out
}
