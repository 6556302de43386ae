package catalog

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/money"
)

// Page sizes of ListProducts.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// MaxLookup is the most SKUs VariantsBySKU takes at once.
	MaxLookup = 100
	// MaxSearchLen is the longest search text.
	MaxSearchLen = 200
)

// Service is the catalog: browsing for everyone, changes for admins.
//
// Who sees what: admins (and services) see every product. Everyone else
// browses (Product, ProductBySlug, ListProducts, VariantsBySKU) only ACTIVE
// products, and resolves references (ResolveProducts, ResolveVariants: the
// federation lookups of IDs that other services hold) to ACTIVE and
// ARCHIVED products, so that orders placed earlier still show their lines;
// DRAFT products stay hidden.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns the catalog on store. now defaults to time.Now. The
// service logs nothing itself: its errors are logged once, at the edge.
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

func isAdmin(ctx context.Context) bool {
	id, ok := auth.FromContext(ctx)
	return ok && id.IsAdmin()
}

// listed reports whether the caller may browse p.
func listed(ctx context.Context, p *Product) bool {
	return p.Status == StatusActive || isAdmin(ctx)
}

// referable reports whether the caller may resolve a reference to p.
func referable(ctx context.Context, p *Product) bool {
	return p.Status != StatusDraft || isAdmin(ctx)
}

// Product returns the product with local key id, or nil if there is none
// or the caller may not browse it.
func (s *Service) Product(ctx context.Context, id string) (*Product, error) {
	ps, err := s.store.ProductsByIDs(ctx, []string{id})
	if err != nil {
		return nil, fmt.Errorf("load product: %w", err)
	}
	if len(ps) == 0 || !listed(ctx, ps[0]) {
		return nil, nil
	}
	return ps[0], nil
}

// ProductBySlug returns the product with the given slug, or nil if there is
// none or the caller may not browse it.
func (s *Service) ProductBySlug(ctx context.Context, slug string) (*Product, error) {
	p, err := s.store.ProductBySlug(ctx, strings.ToLower(strings.TrimSpace(slug)))
	if apperr.Code(err) == apperr.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load product by slug: %w", err)
	}
	if !listed(ctx, p) {
		return nil, nil
	}
	return p, nil
}

// ResolveProducts returns the products with the given local keys, aligned
// with ids: nil where there is none or the caller may not see it.
func (s *Service) ResolveProducts(ctx context.Context, ids []string) ([]*Product, error) {
	ps, err := s.store.ProductsByIDs(ctx, uniq(ids))
	if err != nil {
		return nil, fmt.Errorf("load products: %w", err)
	}
	byID := make(map[string]*Product, len(ps))
	for _, p := range ps {
		if referable(ctx, p) {
			byID[p.ID] = p
		}
	}
	out := make([]*Product, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}

// ResolveVariants returns the variants with the given SKUs, aligned with
// skus: nil where there is none or the caller may not see its product.
func (s *Service) ResolveVariants(ctx context.Context, skus []string) ([]*Variant, error) {
	return s.variants(ctx, skus, referable)
}

// VariantsBySKU returns the variants with the given SKUs (in any case),
// aligned with skus: nil where there is none or the caller may not browse
// its product. Other services price carts with it.
// Returns INVALID_INPUT for more than MaxLookup SKUs.
func (s *Service) VariantsBySKU(ctx context.Context, skus []string) ([]*Variant, error) {
	if len(skus) > MaxLookup {
		return nil, apperr.Invalid("skus", "at most %d SKUs at once, got %d", MaxLookup, len(skus))
	}
	norm := make([]string, len(skus))
	for i, sku := range skus {
		norm[i] = NormalizeSKU(sku)
	}
	return s.variants(ctx, norm, listed)
}

func (s *Service) variants(ctx context.Context, skus []string, visible func(context.Context, *Product) bool) ([]*Variant, error) {
	if len(skus) == 0 {
		return []*Variant{}, nil
	}
	ps, err := s.store.ProductsBySKUs(ctx, uniq(skus))
	if err != nil {
		return nil, fmt.Errorf("load variants: %w", err)
	}
	bySKU := map[string]*Variant{}
	for _, p := range ps {
		if !visible(ctx, p) {
			continue
		}
		for i := range p.Variants {
			// A copy: p may be shared (by a cache), so it is not changed.
			v := p.Variants[i]
			v.product = p
			bySKU[v.SKU] = &v
		}
	}
	out := make([]*Variant, len(skus))
	for i, sku := range skus {
		out[i] = bySKU[sku]
	}
	return out, nil
}

// Filter selects the products of ListProducts. Zero fields do not apply.
type Filter struct {
	// CategoryID is a category's local key: products in it or below it.
	CategoryID string
	// CategorySlug names the category by slug instead.
	CategorySlug string
	// MinPrice and MaxPrice bound the lowest variant price, in minor units
	// of Currency.
	MinPrice, MaxPrice *int64
	Currency           string
	// Search is text the name or description must contain, ignoring case.
	Search string
	// Status is for admins only.
	Status *Status
}

// ListParams asks for one page of products.
type ListParams struct {
	// First is the page size, 0 to MaxPageSize.
	First  int
	After  string
	Filter Filter
	Sort   Sort
}

// ProductPage is one page of a product list.
type ProductPage struct {
	Products []*Product
	// Cursors[i] is the position of Products[i].
	Cursors     []string
	HasNext     bool
	HasPrevious bool
	// Query selects the list without its position, for Count.
	Query ProductQuery
	// empty: the filter names a category that does not exist.
	empty bool
}

// ListProducts returns a page of products that match p.Filter in p.Sort
// order, after the cursor p.After.
// Returns INVALID_INPUT for a page size above MaxPageSize, a malformed
// cursor or one from another order, or a bad filter; UNAUTHENTICATED or
// FORBIDDEN if a non-admin filters by status.
func (s *Service) ListProducts(ctx context.Context, p ListParams) (*ProductPage, error) {
	if p.First < 0 || p.First > MaxPageSize {
		return nil, apperr.Invalid("first", "first must be between 0 and %d, got %d", MaxPageSize, p.First)
	}
	if p.Sort == "" {
		p.Sort = SortNewest
	}
	if !p.Sort.Valid() {
		return nil, apperr.Invalid("sort", "unknown sort %q", p.Sort)
	}
	q := ProductQuery{Sort: p.Sort, Limit: p.First + 1}
	if p.After != "" {
		c, err := DecodeCursor(p.After)
		if err != nil {
			return nil, err
		}
		if c.Sort != p.Sort {
			return nil, apperr.Invalid("after", "the cursor belongs to sort %s, not %s", c.Sort, p.Sort)
		}
		q.After = &c
	}
	page := &ProductPage{HasPrevious: p.After != ""}
	if err := s.applyFilter(ctx, p.Filter, &q, page); err != nil {
		return nil, err
	}
	page.Query = q
	if page.empty {
		return page, nil
	}
	ps, err := s.store.ListProducts(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	if len(ps) > p.First {
		ps, page.HasNext = ps[:p.First], true
	}
	page.Products = ps
	page.Cursors = make([]string, len(ps))
	for i, pr := range ps {
		page.Cursors[i] = CursorOf(pr, p.Sort).Encode()
	}
	return page, nil
}

// Count returns how many products the page's list has on all pages.
func (s *Service) Count(ctx context.Context, page *ProductPage) (int, error) {
	if page.empty {
		return 0, nil
	}
	n, err := s.store.CountProducts(ctx, page.Query)
	if err != nil {
		return 0, fmt.Errorf("count products: %w", err)
	}
	return n, nil
}

func (s *Service) applyFilter(ctx context.Context, f Filter, q *ProductQuery, page *ProductPage) error {
	if f.Status != nil {
		if _, err := auth.RequireAdmin(ctx); err != nil {
			return err
		}
		if !f.Status.Valid() {
			return apperr.Invalid("filter.status", "unknown status %q", *f.Status)
		}
		q.Statuses = []Status{*f.Status}
	} else if !isAdmin(ctx) {
		q.Statuses = []Status{StatusActive}
	}
	if f.CategoryID != "" && f.CategorySlug != "" {
		return apperr.Invalid("filter.categorySlug", "give categoryId or categorySlug, not both")
	}
	if f.CategoryID != "" || f.CategorySlug != "" {
		all, err := s.store.Categories(ctx)
		if err != nil {
			return fmt.Errorf("load categories: %w", err)
		}
		slug := strings.ToLower(strings.TrimSpace(f.CategorySlug))
		i := slices.IndexFunc(all, func(c *Category) bool {
			return (f.CategoryID != "" && c.ID == f.CategoryID) || (slug != "" && c.Slug == slug)
		})
		if i < 0 {
			page.empty = true
		} else {
			q.CategoryIDs = descendants(all, all[i].ID)
		}
	}
	if f.Currency != "" {
		if err := money.ValidateCurrency(f.Currency); err != nil {
			return apperr.Invalid("filter.currency", "%s", apperr.Message(err))
		}
		q.Currency = f.Currency
	}
	for _, b := range []struct {
		field string
		v     *int64
	}{{"filter.minPrice", f.MinPrice}, {"filter.maxPrice", f.MaxPrice}} {
		if b.v == nil {
			continue
		}
		if *b.v < 0 {
			return apperr.Invalid(b.field, "a price must not be negative, got %d", *b.v)
		}
		if f.Currency == "" {
			return apperr.Invalid("filter.currency", "a price filter needs a currency: amounts in different currencies do not compare")
		}
	}
	if f.MinPrice != nil && f.MaxPrice != nil && *f.MinPrice > *f.MaxPrice {
		return apperr.Invalid("filter.maxPrice", "maxPrice %d is below minPrice %d", *f.MaxPrice, *f.MinPrice)
	}
	q.MinPrice, q.MaxPrice = f.MinPrice, f.MaxPrice
	q.Search = strings.TrimSpace(f.Search)
	if utf8.RuneCountInString(q.Search) > MaxSearchLen {
		return apperr.Invalid("filter.search", "search text is longer than %d characters", MaxSearchLen)
	}
	return nil
}

// Categories returns all categories ordered by name, ignoring case.
func (s *Service) Categories(ctx context.Context) ([]*Category, error) {
	cs, err := s.store.Categories(ctx)
	if err != nil {
		return nil, fmt.Errorf("load categories: %w", err)
	}
	slices.SortFunc(cs, func(a, b *Category) int {
		if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return cs, nil
}

// ResolveCategories returns the categories with the given local keys,
// aligned with ids: nil where there is none.
func (s *Service) ResolveCategories(ctx context.Context, ids []string) ([]*Category, error) {
	cs, err := s.store.CategoriesByIDs(ctx, uniq(ids))
	if err != nil {
		return nil, fmt.Errorf("load categories: %w", err)
	}
	byID := make(map[string]*Category, len(cs))
	for _, c := range cs {
		byID[c.ID] = c
	}
	out := make([]*Category, len(ids))
	for i, id := range ids {
		out[i] = byID[id]
	}
	return out, nil
}

// ProductInput is a new product.
type ProductInput struct {
	Name string
	// Slug is derived from Name when nil.
	Slug        *string
	Description string
	// Status is DRAFT when empty.
	Status Status
	// CategoryIDs are local keys of existing categories.
	CategoryIDs []string
	Attributes  []Attribute
	Images      []Image
	Variants    []VariantInput
}

// VariantInput is a new variant.
type VariantInput struct {
	SKU     string
	Name    string
	Options []Option
	Price   money.Money
}

// ProductChanges is a partial update of a product: nil fields stay as they
// are; given slices replace the old ones.
type ProductChanges struct {
	Name        *string
	Slug        *string
	Description *string
	Status      *Status
	CategoryIDs *[]string
	Attributes  *[]Attribute
	Images      *[]Image
	// AddVariants are new variants.
	AddVariants []VariantInput
	// UpdateVariants change existing variants, by SKU.
	UpdateVariants []VariantChange
}

// VariantChange changes one variant; nil fields stay as they are.
type VariantChange struct {
	SKU     string
	Name    *string
	Options *[]Option
	Price   *money.Money
}

// CreateProduct creates a product. Admins only.
// Returns UNAUTHENTICATED or FORBIDDEN for non-admins, INVALID_INPUT for
// input that breaks a rule (unknown categories included), CONFLICT if the
// slug or a SKU is taken (or a SKU appears twice); nothing is stored then.
func (s *Service) CreateProduct(ctx context.Context, in ProductInput) (*Product, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	p := &Product{
		Name:        in.Name,
		Description: in.Description,
		Status:      in.Status,
		Attributes:  nonNil(in.Attributes),
		Images:      nonNil(in.Images),
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if p.Status == "" {
		p.Status = StatusDraft
	}
	for _, v := range in.Variants {
		p.Variants = append(p.Variants, v.variant())
	}
	p.normalize()
	slug, err := normalizeSlug(in.Slug, p.Name)
	if err != nil && in.Slug == nil && p.Name == "" {
		err = nil // the name's own error is the clearer one
	}
	if err != nil {
		return nil, err
	}
	p.Slug = slug
	if p.CategoryIDs, err = s.checkCategories(ctx, in.CategoryIDs); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := s.store.CreateProduct(ctx, p); err != nil {
		return nil, fmt.Errorf("create product: %w", err)
	}
	p.setProductID()
	return p, nil
}

// UpdateProduct changes the product with local key id. Admins only.
// Returns UNAUTHENTICATED or FORBIDDEN for non-admins, NOT_FOUND if there is
// no such product, INVALID_INPUT for changes that break a rule, CONFLICT if
// the new slug or a new SKU is taken; nothing is changed then.
func (s *Service) UpdateProduct(ctx context.Context, id string, ch ProductChanges) (*Product, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	var cats []string
	if ch.CategoryIDs != nil {
		var err error
		if cats, err = s.checkCategories(ctx, *ch.CategoryIDs); err != nil {
			return nil, err
		}
	}
	var slug string
	if ch.Slug != nil {
		var err error
		if slug, err = normalizeSlug(ch.Slug, ""); err != nil {
			return nil, err
		}
	}
	p, err := s.store.UpdateProduct(ctx, id, func(p *Product) error {
		if ch.Name != nil {
			p.Name = *ch.Name
		}
		if ch.Slug != nil {
			p.Slug = slug
		}
		if ch.Description != nil {
			p.Description = *ch.Description
		}
		if ch.Status != nil {
			p.Status = *ch.Status
		}
		if ch.CategoryIDs != nil {
			p.CategoryIDs = cats
		}
		if ch.Attributes != nil {
			p.Attributes = nonNil(*ch.Attributes)
		}
		if ch.Images != nil {
			p.Images = nonNil(*ch.Images)
		}
		// fields maps the index of a variant to its name in the input, for
		// errors.
		fields := map[int]string{}
		for i, c := range ch.UpdateVariants {
			f := fmt.Sprintf("updateVariants[%d]", i)
			sku := NormalizeSKU(c.SKU)
			j := slices.IndexFunc(p.Variants, func(v Variant) bool { return v.SKU == sku })
			if j < 0 {
				return apperr.Invalid(f+".sku", "the product has no variant with SKU %q", sku)
			}
			fields[j] = f
			v := &p.Variants[j]
			if c.Name != nil {
				v.Name = *c.Name
			}
			if c.Options != nil {
				v.Options = nonNil(*c.Options)
			}
			if c.Price != nil {
				v.Price = *c.Price
			}
		}
		for i, v := range ch.AddVariants {
			fields[len(p.Variants)] = fmt.Sprintf("addVariants[%d]", i)
			p.Variants = append(p.Variants, v.variant())
		}
		p.normalize()
		if err := p.Validate(); err != nil {
			return renameVariantField(err, fields)
		}
		p.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update product: %w", err)
	}
	return p, nil
}

// ArchiveProduct archives the product with local key id: it is no longer
// listed, but stays reachable by ID. Archiving an archived product changes
// nothing. Admins only.
// Returns UNAUTHENTICATED or FORBIDDEN for non-admins, NOT_FOUND if there is
// no such product.
func (s *Service) ArchiveProduct(ctx context.Context, id string) (*Product, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	ps, err := s.store.ProductsByIDs(ctx, []string{id})
	if err != nil {
		return nil, fmt.Errorf("load product: %w", err)
	}
	if len(ps) == 1 && ps[0].Status == StatusArchived {
		return ps[0], nil
	}
	st := StatusArchived
	return s.UpdateProduct(ctx, id, ProductChanges{Status: &st})
}

// CreateCategory creates a category. Admins only.
// Returns UNAUTHENTICATED or FORBIDDEN for non-admins, INVALID_INPUT for
// input that breaks a rule or an unknown parent, CONFLICT if the slug is
// taken.
func (s *Service) CreateCategory(ctx context.Context, in CategoryInput) (*Category, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	in.normalize()
	if err := validateText("name", in.Name, 1, MaxNameLen); err != nil {
		return nil, err
	}
	if err := validateText("description", in.Description, 0, MaxDescriptionLen); err != nil {
		return nil, err
	}
	slug, err := normalizeSlug(in.Slug, in.Name)
	if err != nil {
		return nil, err
	}
	if in.ParentID != "" {
		ps, err := s.store.CategoriesByIDs(ctx, []string{in.ParentID})
		if err != nil {
			return nil, fmt.Errorf("load parent category: %w", err)
		}
		if len(ps) == 0 {
			return nil, apperr.Invalid("parentId", "there is no category with this ID")
		}
	}
	c := &Category{
		Slug: slug, Name: in.Name, Description: in.Description, ParentID: in.ParentID,
		CreatedAt: s.now().UTC().Truncate(time.Millisecond),
	}
	if err := s.store.CreateCategory(ctx, c); err != nil {
		return nil, fmt.Errorf("create category: %w", err)
	}
	return c, nil
}

// checkCategories returns ids without duplicates.
// Returns INVALID_INPUT if one of them names no category.
func (s *Service) checkCategories(ctx context.Context, ids []string) ([]string, error) {
	ids = uniq(ids)
	if len(ids) == 0 {
		return []string{}, nil
	}
	if len(ids) > MaxCategories {
		return nil, apperr.Invalid("categoryIds", "at most %d categories", MaxCategories)
	}
	cs, err := s.store.CategoriesByIDs(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("load categories: %w", err)
	}
	found := map[string]bool{}
	for _, c := range cs {
		found[c.ID] = true
	}
	for i, id := range ids {
		if !found[id] {
			return nil, apperr.Invalid(fmt.Sprintf("categoryIds[%d]", i), "there is no category with ID key %q", id)
		}
	}
	return ids, nil
}

func (v VariantInput) variant() Variant {
	return Variant{SKU: v.SKU, Name: v.Name, Options: nonNil(v.Options), Price: v.Price}
}

// renameVariantField turns the field "variants[i]…" of a validation error
// into the name of the input the variant came from, if it came from one.
func renameVariantField(err error, fields map[int]string) error {
	ae, ok := apperr.As(err)
	if !ok || !strings.HasPrefix(ae.Field, "variants[") {
		return err
	}
	end := strings.Index(ae.Field, "]")
	i, convErr := strconv.Atoi(ae.Field[len("variants["):end])
	if convErr != nil || fields[i] == "" {
		return err
	}
	out := *ae
	out.Field = fields[i] + ae.Field[end+1:]
	return &out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// uniq returns s without duplicates, in first-seen order.
func uniq(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := make([]string, 0, len(s))
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
