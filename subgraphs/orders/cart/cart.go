// Package cart is the customer's shopping cart: what they mean to buy, kept
// until they place an order. A cart holds SKUs and quantities; prices and
// availability come from the catalog whenever the cart is read, never from
// the client.
package cart

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/money"
)

// Limits of a cart.
const (
	// MaxQuantity is the most units of one item a cart may hold.
	MaxQuantity = 99
	// MaxItems is the most different items a cart may hold.
	MaxItems = 50
	// DefaultTTL is how long a cart is kept after its last change.
	DefaultTTL = 30 * 24 * time.Hour
)

// Item is a quantity of one SKU in a cart, as stored. Name and Price are
// what the catalog said when the item was last added or changed; they are
// shown only when the catalog no longer knows the SKU.
type Item struct {
	SKU      string
	Quantity int
	// AddedAt is when the SKU was first put in the cart; items are listed
	// in this order.
	AddedAt     time.Time
	ProductName string
	VariantName string
	Price       money.Money
}

// Cart is a customer's cart as stored.
type Cart struct {
	// CustomerID is the users service's local ID of the customer.
	CustomerID string
	Items      []Item
	// UpdatedAt is when the cart last changed; zero for a cart never filled
	// (or expired).
	UpdatedAt time.Time
}

// Find returns the index of the item with sku, or -1.
func (c *Cart) Find(sku string) int {
	for i, it := range c.Items {
		if it.SKU == sku {
			return i
		}
	}
	return -1
}

// Store keeps carts.
type Store interface {
	// Load returns the customer's cart: an empty one (no items, zero
	// UpdatedAt) if they have none.
	Load(ctx context.Context, customerID string) (Cart, error)
	// Update applies fn to the customer's cart atomically and saves the
	// result, refreshing its time to live (an empty cart is deleted), and
	// returns it. fn may be called more than once if the cart changes
	// meanwhile; if it returns an error, nothing is saved and Update returns
	// that error.
	Update(ctx context.Context, customerID string, fn func(*Cart) error) (Cart, error)
	// UpdateOnce is Update done at most once per key (for at least a week):
	// it reports false and changes nothing if an update with key was
	// applied before, so that a redelivered message changes the cart once.
	UpdateOnce(ctx context.Context, customerID, key string, fn func(*Cart) error) (applied bool, err error)
}

// Variant is what the catalog says about one SKU.
type Variant struct {
	SKU         string
	Name        string
	Price       money.Money
	ProductID   string
	ProductName string
	// ProductStatus is the product's life-cycle state: ACTIVE, DRAFT or
	// ARCHIVED.
	ProductStatus string
}

// Orderable reports whether the variant can be bought: its product is
// ACTIVE.
func (v Variant) Orderable() bool { return v.ProductStatus == "ACTIVE" }

// Catalog is the product catalog: the authority on what exists and what it
// costs.
type Catalog interface {
	// Variants returns what the catalog says about each of skus (normalized
	// SKUs), by SKU. A SKU the catalog does not know, or does not show to
	// the public, is left out; the variants of products that are no longer
	// ACTIVE are included when the catalog still shows them.
	// Returns UNAVAILABLE if the catalog cannot be asked.
	Variants(ctx context.Context, skus []string) (map[string]Variant, error)
}

var skuRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_-]{1,63}$`)

// NormalizeSKU returns sku trimmed and in upper case, the form the catalog
// keeps SKUs in.
func NormalizeSKU(sku string) string { return strings.ToUpper(strings.TrimSpace(sku)) }

// ValidateSKU returns INVALID_INPUT unless sku (normalized) is a well-formed
// SKU: 2 to 64 letters, digits, '-' or '_', starting with a letter or digit.
func ValidateSKU(field, sku string) error {
	if !skuRE.MatchString(sku) {
		return apperr.Invalid(field, "invalid SKU %q: want 2 to 64 letters, digits, '-' or '_', starting with a letter or digit", sku)
	}
	return nil
}
