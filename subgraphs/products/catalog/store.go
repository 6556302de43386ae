package catalog

import "context"

// Store keeps products and categories. Implementations keep SKUs unique
// across the whole catalog and slugs unique among products and among
// categories.
type Store interface {
	// CreateProduct stores a new, valid product and assigns p.ID.
	// Returns CONFLICT if p's slug or one of its SKUs is taken; nothing is
	// stored then.
	CreateProduct(ctx context.Context, p *Product) error

	// UpdateProduct loads the product with local key id, passes a copy to
	// fn, and stores fn's result atomically: if the product changed in the
	// meantime, it calls fn again on the new state. fn must not remove
	// variants. Returns the stored product.
	// Returns NOT_FOUND if there is no such product, CONFLICT if a new slug
	// or SKU is taken (nothing is changed then), or fn's error.
	UpdateProduct(ctx context.Context, id string, fn func(*Product) error) (*Product, error)

	// ProductsByIDs returns the products with the given local keys, in no
	// particular order; unknown keys are left out.
	ProductsByIDs(ctx context.Context, ids []string) ([]*Product, error)

	// ProductBySlug returns the product with the given slug.
	// Returns NOT_FOUND if there is none.
	ProductBySlug(ctx context.Context, slug string) (*Product, error)

	// ProductsBySKUs returns the products that have a variant with one of
	// the given SKUs, in no particular order.
	ProductsBySKUs(ctx context.Context, skus []string) ([]*Product, error)

	// ListProducts returns up to q.Limit products that match q, in q.Sort
	// order, after q.After if set.
	ListProducts(ctx context.Context, q ProductQuery) ([]*Product, error)

	// CountProducts returns how many products match q, ignoring its After
	// and Limit.
	CountProducts(ctx context.Context, q ProductQuery) (int, error)

	// CreateCategory stores a new category and assigns c.ID.
	// Returns CONFLICT if its slug is taken.
	CreateCategory(ctx context.Context, c *Category) error

	// Categories returns all categories, in no particular order.
	Categories(ctx context.Context) ([]*Category, error)

	// CategoriesByIDs returns the categories with the given local keys, in
	// no particular order; unknown keys are left out.
	CategoriesByIDs(ctx context.Context, ids []string) ([]*Category, error)
}

// Scanner is what a Store may also do: go through the whole catalog in one
// pass, as a read cache warming up does. It is optional.
type Scanner interface {
	// EachProduct calls fn with every product, in no particular order,
	// until fn returns an error or ctx ends; it then returns that error.
	// A product changed during the pass is given in one of its states.
	EachProduct(ctx context.Context, fn func(*Product) error) error
}

// ProductQuery selects and orders products. Conditions that are zero do not
// apply.
type ProductQuery struct {
	// Statuses: only products in one of these states; nil for any.
	Statuses []Status
	// CategoryIDs: only products in at least one of these categories; nil
	// for any, an empty non-nil slice for none at all.
	CategoryIDs []string
	// Currency: only products priced in it.
	Currency string
	// MinPrice and MaxPrice bound the product's MinPrice amount, inclusive.
	MinPrice, MaxPrice *int64
	// Search: only products whose name or description contains it,
	// ignoring case.
	Search string
	Sort   Sort
	// After: only products after this position in Sort order.
	After *Cursor
	// Limit: at most this many products; at least 1.
	Limit int
}
