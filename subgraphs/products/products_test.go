package products_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/gid"
)

// shop is a small catalog: categories Clothing > Shirts and Mugs, and
// products in every state.
type shop struct {
	clothing, shirts, mugs string
	// by name
	products map[string]product
	// active names in creation order
	active []string
}

func seed(t *testing.T, e *env) *shop {
	t.Helper()
	s := &shop{products: map[string]product{}}
	s.clothing = e.category(t, "Clothing", "clothing", "")
	s.shirts = e.category(t, "Shirts", "shirts", s.clothing)
	s.mugs = e.category(t, "Mugs", "mugs", "")
	add := func(in map[string]any) {
		pr := e.create(t, in)
		s.products[pr.Name] = pr
		if pr.Status == "ACTIVE" {
			s.active = append(s.active, pr.Name)
		}
	}
	red := p("Red Shirt", "ACTIVE", []string{s.shirts},
		v("RS-S", 1500, "USD", "size", "S"), v("rs-m", 1700, "USD", "size", "M"))
	red["description"] = "Soft cotton, cut slim."
	add(red)
	add(p("Blue Shirt", "ACTIVE", []string{s.shirts}, v("BS-1", 2500, "USD")))
	wool := p("Wool Jumper", "ACTIVE", []string{s.clothing}, v("WJ-1", 4900, "USD"))
	wool["description"] = "Warm (wool) jumper.*"
	add(wool)
	add(p("coffee mug", "ACTIVE", []string{s.mugs}, v("MUG-C", 900, "USD")))
	add(p("Tea Mug", "ACTIVE", []string{s.mugs}, v("MUG-T", 900, "USD")))
	add(p("Draft Hat", "DRAFT", []string{s.clothing}, v("HAT-1", 1000, "USD")))
	add(p("Old Scarf", "ARCHIVED", []string{s.clothing}, v("SCARF-1", 1200, "USD")))
	add(p("Euro Shirt", "ACTIVE", []string{s.shirts}, v("ES-1", 2000, "EUR")))
	return s
}

func TestCreateProduct(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cat := e.category(t, "Shirts", "", "")
	in := p("  Café Crème T-Shirt ", "", []string{cat, cat},
		v("tee-s", 1999, "USD", "size", "S", "colour", "red"),
		v("TEE-M", 2499, "USD", "size", "M", "colour", "red"))
	delete(in, "status")
	in["attributes"] = []map[string]any{{"name": "material", "value": "cotton"}}
	in["images"] = []map[string]any{{"url": "https://cdn.example.com/tee.jpg", "alt": "A red tee"}}
	got := e.create(t, in)

	if got.Name != "Café Crème T-Shirt" || got.Slug != "cafe-creme-t-shirt" || got.Status != "DRAFT" {
		t.Errorf("name %q slug %q status %q, want trimmed name, derived slug, DRAFT", got.Name, got.Slug, got.Status)
	}
	if typ, _, _ := gid.Decode(got.ID); typ != "Product" {
		t.Errorf("id %s is a %s", got.ID, typ)
	}
	if len(got.Categories) != 1 || got.Categories[0].ID != cat || got.Categories[0].Slug != "shirts" {
		t.Errorf("categories %+v, want just Shirts", got.Categories)
	}
	if len(got.Attributes) != 1 || got.Attributes[0].Value != "cotton" || len(got.Images) != 1 || got.Images[0].Alt != "A red tee" {
		t.Errorf("attributes %+v images %+v", got.Attributes, got.Images)
	}
	if len(got.Variants) != 2 {
		t.Fatalf("variants %+v", got.Variants)
	}
	v0 := got.Variants[0]
	if v0.SKU != "TEE-S" || v0.ID != gid.Encode("Variant", "TEE-S") || v0.Product.ID != got.ID {
		t.Errorf("variant %+v: want SKU upper-cased, ID from SKU, product set", v0)
	}
	if v0.Price != (money{1999, "USD", "USD 19.99"}) || len(v0.Options) != 2 || v0.Options[1].Value != "red" {
		t.Errorf("variant price/options %+v", v0)
	}
	if got.PriceRange == nil || got.PriceRange.Min.Amount != 1999 || got.PriceRange.Max.Amount != 2499 {
		t.Errorf("priceRange %+v", got.PriceRange)
	}
	if got.CreatedAt.IsZero() || !got.CreatedAt.Equal(got.UpdatedAt) {
		t.Errorf("createdAt %v updatedAt %v", got.CreatedAt, got.UpdatedAt)
	}

	// What the admin gets back is what is stored.
	var again struct{ Product product }
	e.ok(t, e.admin, `query($id: ID!) { product(id: $id) { `+productFields+` } }`, map[string]any{"id": got.ID}, &again)
	a, _ := json.Marshal(again.Product)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Errorf("stored product differs:\n got %s\nwant %s", a, b)
	}
}

func TestCreateProductRejectsBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cat := e.category(t, "Shirts", "shirts", "")
	first := e.create(t, p("First", "ACTIVE", nil, v("TAKEN-1", 100, "USD")))
	before := e.productCount(t)

	with := func(f func(in map[string]any)) map[string]any {
		in := p("Good Name", "ACTIVE", []string{cat}, v("NEW-1", 100, "USD"), v("NEW-2", 200, "USD"))
		f(in)
		return in
	}
	tests := []struct {
		name  string
		token string
		in    map[string]any
		code  string
		field string
	}{
		{"negative price", e.admin, with(func(in map[string]any) {
			in["variants"] = []map[string]any{v("NEW-1", -1, "USD")}
		}), "INVALID_INPUT", "variants[0].price"},
		{"unknown currency", e.admin, with(func(in map[string]any) {
			in["variants"] = []map[string]any{v("NEW-1", 100, "XYZ")}
		}), "INVALID_INPUT", "variants[0].price"},
		{"lower-case currency", e.admin, with(func(in map[string]any) {
			in["variants"] = []map[string]any{v("NEW-1", 100, "usd")}
		}), "INVALID_INPUT", "variants[0].price"},
		{"mixed currencies", e.admin, with(func(in map[string]any) {
			in["variants"] = []map[string]any{v("NEW-1", 100, "USD"), v("NEW-2", 100, "EUR")}
		}), "INVALID_INPUT", "variants[1].price"},
		{"duplicate SKU within the product", e.admin, with(func(in map[string]any) {
			in["variants"] = []map[string]any{v("NEW-1", 100, "USD", "size", "S"), v("new-1", 100, "USD", "size", "M")}
		}), "CONFLICT", "variants[1].sku"},
		{"SKU of another product", e.admin, with(func(in map[string]any) {
			in["variants"] = []map[string]any{v("NEW-1", 100, "USD", "size", "S"), v("taken-1", 100, "USD", "size", "M")}
		}), "CONFLICT", "sku"},
		{"slug of another product", e.admin, with(func(in map[string]any) { in["slug"] = first.Slug }), "CONFLICT", "slug"},
		{"derived slug of another product", e.admin, with(func(in map[string]any) { in["name"] = "FIRST" }), "CONFLICT", "slug"},
		{"malformed slug", e.admin, with(func(in map[string]any) { in["slug"] = "no spaces" }), "INVALID_INPUT", "slug"},
		{"malformed SKU", e.admin, with(func(in map[string]any) {
			in["variants"] = []map[string]any{v("X", 100, "USD")}
		}), "INVALID_INPUT", "variants[0].sku"},
		{"SKU with a space", e.admin, with(func(in map[string]any) {
			in["variants"] = []map[string]any{v("AB CD", 100, "USD")}
		}), "INVALID_INPUT", "variants[0].sku"},
		{"no variants", e.admin, with(func(in map[string]any) { in["variants"] = []map[string]any{} }), "INVALID_INPUT", "variants"},
		{"two variants with the same options", e.admin, with(func(in map[string]any) {
			in["variants"] = []map[string]any{v("NEW-1", 100, "USD", "size", "M"), v("NEW-2", 100, "USD", "Size", "m")}
		}), "INVALID_INPUT", "variants[1].options"},
		{"empty name", e.admin, with(func(in map[string]any) { in["name"] = "   " }), "INVALID_INPUT", "name"},
		{"ftp image", e.admin, with(func(in map[string]any) {
			in["images"] = []map[string]any{{"url": "ftp://example.com/a.jpg"}}
		}), "INVALID_INPUT", "images[0].url"},
		{"javascript image", e.admin, with(func(in map[string]any) {
			in["images"] = []map[string]any{{"url": "javascript:alert(1)"}}
		}), "INVALID_INPUT", "images[0].url"},
		{"relative image", e.admin, with(func(in map[string]any) {
			in["images"] = []map[string]any{{"url": "/a.jpg"}}
		}), "INVALID_INPUT", "images[0].url"},
		{"unknown category", e.admin, with(func(in map[string]any) {
			in["categoryIds"] = []string{gid.Encode("Category", "nope")}
		}), "INVALID_INPUT", "categoryIds[0]"},
		{"product ID as category", e.admin, with(func(in map[string]any) {
			in["categoryIds"] = []string{first.ID}
		}), "INVALID_INPUT", "categoryIds[0]"},
		{"duplicate attribute", e.admin, with(func(in map[string]any) {
			in["attributes"] = []map[string]any{{"name": "material", "value": "a"}, {"name": "Material", "value": "b"}}
		}), "INVALID_INPUT", "attributes[1].name"},
		{"customer", e.customer, with(func(map[string]any) {}), "FORBIDDEN", ""},
		{"anonymous", "", with(func(map[string]any) {}), "UNAUTHENTICATED", ""},
	}
	// The group returns once its parallel cases have finished.
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				msg := e.fails(t, tt.token, createProduct, map[string]any{"in": tt.in}, tt.code, tt.field)
				if msg == "" || msg == "internal error" {
					t.Errorf("message %q does not explain", msg)
				}
			})
		}
	})
	if n := e.productCount(t); n != before {
		t.Fatalf("%d products after rejected input, want %d", n, before)
	}
	// No SKU or slug of a rejected product was kept: the same product,
	// fixed, can be created.
	ok := with(func(map[string]any) {})
	ok["variants"] = []map[string]any{v("NEW-1", 100, "USD", "size", "S"), v("NEW-2", 100, "USD", "size", "M")}
	if got := e.create(t, ok); got.Slug != "good-name" {
		t.Errorf("slug %q", got.Slug)
	}
}

const listQuery = `query($first: Int, $after: String, $filter: ProductFilter, $sort: ProductSort) {
	products(first: $first, after: $after, filter: $filter, sort: $sort) {
		edges { cursor node { id name status priceRange { min { amount } } } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
		totalCount
	}
}`

type listPage struct {
	Products struct {
		Edges []struct {
			Cursor string
			Node   struct {
				ID         string
				Name       string
				Status     string
				PriceRange struct{ Min struct{ Amount int64 } }
			}
		}
		PageInfo struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       *string
		}
		TotalCount int
	}
}

type listed struct {
	id, name string
	price    int64
}

// pageThrough lists every page of size first and checks the pages' cursors
// and page info on the way.
func (e *env) pageThrough(t *testing.T, token string, first int, filter map[string]any, sort string) []listed {
	t.Helper()
	var all []listed
	after := ""
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page > 50 {
			t.Fatal("paging does not end")
		}
		vars := map[string]any{"first": first, "sort": sort, "filter": filter}
		if after != "" {
			vars["after"] = after
		}
		var out listPage
		e.ok(t, token, listQuery, vars, &out)
		c := out.Products
		if c.PageInfo.HasPreviousPage != (page > 0) {
			t.Errorf("page %d: hasPreviousPage %v", page, c.PageInfo.HasPreviousPage)
		}
		if len(c.Edges) > first {
			t.Fatalf("page %d has %d edges, asked for %d", page, len(c.Edges), first)
		}
		if c.PageInfo.HasNextPage && len(c.Edges) != first {
			t.Errorf("page %d: short page (%d) with a next page", page, len(c.Edges))
		}
		for i, edge := range c.Edges {
			if seen[edge.Cursor] || edge.Cursor == "" {
				t.Errorf("cursor %q repeated or empty", edge.Cursor)
			}
			seen[edge.Cursor] = true
			if i == 0 && (c.PageInfo.StartCursor == nil || *c.PageInfo.StartCursor != edge.Cursor) {
				t.Errorf("page %d: startCursor is not the first edge's cursor", page)
			}
			if i == len(c.Edges)-1 && (c.PageInfo.EndCursor == nil || *c.PageInfo.EndCursor != edge.Cursor) {
				t.Errorf("page %d: endCursor is not the last edge's cursor", page)
			}
			all = append(all, listed{edge.Node.ID, edge.Node.Name, edge.Node.PriceRange.Min.Amount})
		}
		if !c.PageInfo.HasNextPage {
			if c.TotalCount != len(all) {
				t.Errorf("totalCount %d, listed %d", c.TotalCount, len(all))
			}
			return all
		}
		after = *c.PageInfo.EndCursor
	}
}

func listedNames(ls []listed) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.name
	}
	return out
}

func TestBrowseProducts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := seed(t, e)
	key := func(name string) string { return localKey(t, s.products[name].ID) }
	// byPrice orders names by price, then by ID as the store breaks ties.
	byPrice := func(desc bool, ns ...string) []string {
		out := slices.Clone(ns)
		slices.SortFunc(out, func(a, b string) int {
			pa, pb := s.products[a].PriceRange.Min.Amount, s.products[b].PriceRange.Min.Amount
			c := int(pa - pb)
			if c == 0 {
				c = strings.Compare(key(a), key(b))
			}
			if desc {
				return -c
			}
			return c
		})
		return out
	}
	newest := slices.Clone(s.active)
	slices.Reverse(newest)

	tests := []struct {
		name   string
		token  string
		filter map[string]any
		sort   string
		want   []string
	}{
		{"newest first", e.customer, nil, "NEWEST", newest},
		{"name A to Z ignoring case", e.customer, nil, "NAME_ASC",
			[]string{"Blue Shirt", "coffee mug", "Euro Shirt", "Red Shirt", "Tea Mug", "Wool Jumper"}},
		{"name Z to A", "", nil, "NAME_DESC",
			[]string{"Wool Jumper", "Tea Mug", "Red Shirt", "Euro Shirt", "coffee mug", "Blue Shirt"}},
		{"cheapest first", e.customer, map[string]any{"currency": "USD"}, "PRICE_ASC",
			byPrice(false, "Red Shirt", "Blue Shirt", "Wool Jumper", "coffee mug", "Tea Mug")},
		{"dearest first", e.customer, map[string]any{"currency": "USD"}, "PRICE_DESC",
			byPrice(true, "Red Shirt", "Blue Shirt", "Wool Jumper", "coffee mug", "Tea Mug")},
		{"category with its subcategories", e.customer, map[string]any{"categorySlug": "clothing"}, "NAME_ASC",
			[]string{"Blue Shirt", "Euro Shirt", "Red Shirt", "Wool Jumper"}},
		{"category by ID", e.customer, map[string]any{"categoryId": s.shirts}, "NAME_ASC",
			[]string{"Blue Shirt", "Euro Shirt", "Red Shirt"}},
		{"unknown category", e.customer, map[string]any{"categorySlug": "nope"}, "NAME_ASC", nil},
		{"price range", e.customer, map[string]any{"currency": "USD", "minPrice": 1000, "maxPrice": 2500}, "PRICE_ASC",
			[]string{"Red Shirt", "Blue Shirt"}},
		{"currency", e.customer, map[string]any{"currency": "EUR"}, "NEWEST", []string{"Euro Shirt"}},
		{"search in names ignoring case", e.customer, map[string]any{"search": "SHIRT"}, "NAME_ASC",
			[]string{"Blue Shirt", "Euro Shirt", "Red Shirt"}},
		{"search in descriptions", e.customer, map[string]any{"search": "cotton"}, "NAME_ASC", []string{"Red Shirt"}},
		{"search text is not a pattern", e.customer, map[string]any{"search": "(wool) jumper.*"}, "NAME_ASC", []string{"Wool Jumper"}},
		{"search for a pattern finds nothing", e.customer, map[string]any{"search": "S.irt"}, "NAME_ASC", nil},
		{"filters combine", e.customer, map[string]any{"categorySlug": "clothing", "search": "shirt", "currency": "USD"}, "NAME_ASC",
			[]string{"Blue Shirt", "Red Shirt"}},
		{"admin sees every state", e.admin, nil, "NAME_ASC",
			[]string{"Blue Shirt", "coffee mug", "Draft Hat", "Euro Shirt", "Old Scarf", "Red Shirt", "Tea Mug", "Wool Jumper"}},
		{"admin filters by state", e.admin, map[string]any{"status": "ARCHIVED"}, "NAME_ASC", []string{"Old Scarf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, first := range []int{2, 3, 100} {
				got := listedNames(e.pageThrough(t, tt.token, first, tt.filter, tt.sort))
				if !slices.Equal(got, tt.want) {
					t.Errorf("first %d: got %q\nwant %q", first, got, tt.want)
				}
			}
		})
	}
}

func TestBrowseProductsTies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.clock.step = 0 // all created at the same instant, at the same price
	var want []string
	for i := range 7 {
		pr := e.create(t, p(fmt.Sprintf("Same %d", i), "ACTIVE", nil, v(fmt.Sprintf("SAME-%d", i), 500, "USD")))
		want = append(want, localKey(t, pr.ID))
	}
	slices.Sort(want)
	for _, sort := range []string{"NEWEST", "PRICE_ASC", "PRICE_DESC"} {
		t.Run(sort, func(t *testing.T) {
			t.Parallel()
			got := e.pageThrough(t, e.customer, 2, nil, sort)
			keys := make([]string, len(got))
			for i, l := range got {
				keys[i] = localKey(t, l.id)
			}
			w := slices.Clone(want)
			if sort != "PRICE_ASC" {
				slices.Reverse(w)
			}
			if !slices.Equal(keys, w) {
				t.Errorf("got %v, want every product once, by ID: %v", keys, w)
			}
		})
	}
}

func TestBrowseProductsRejectsBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seed(t, e)
	var first listPage
	e.ok(t, e.customer, listQuery, map[string]any{"first": 2, "sort": "NAME_ASC"}, &first)
	nameCursor := *first.Products.PageInfo.EndCursor
	tests := []struct {
		name  string
		token string
		vars  map[string]any
		code  string
		field string
	}{
		{"first above 100", e.customer, map[string]any{"first": 101}, "INVALID_INPUT", "first"},
		{"negative first", e.customer, map[string]any{"first": -1}, "INVALID_INPUT", "first"},
		{"malformed cursor", e.customer, map[string]any{"after": "garbage!"}, "INVALID_INPUT", "after"},
		{"base64 that is no cursor", e.customer, map[string]any{"after": "eyJ4IjoxfQ"}, "INVALID_INPUT", "after"},
		{"cursor of another sort", e.customer, map[string]any{"after": nameCursor, "sort": "PRICE_ASC"}, "INVALID_INPUT", "after"},
		{"price without currency", e.customer, map[string]any{"filter": map[string]any{"minPrice": 100}}, "INVALID_INPUT", "filter.currency"},
		{"negative price", e.customer, map[string]any{"filter": map[string]any{"minPrice": -1, "currency": "USD"}}, "INVALID_INPUT", "filter.minPrice"},
		{"inverted price range", e.customer, map[string]any{"filter": map[string]any{"minPrice": 10, "maxPrice": 5, "currency": "USD"}}, "INVALID_INPUT", "filter.maxPrice"},
		{"unknown currency", e.customer, map[string]any{"filter": map[string]any{"currency": "ABC"}}, "INVALID_INPUT", "filter.currency"},
		{"malformed category ID", e.customer, map[string]any{"filter": map[string]any{"categoryId": "???"}}, "INVALID_INPUT", "filter.categoryId"},
		{"category ID and slug", e.customer, map[string]any{"filter": map[string]any{"categoryId": gid.Encode("Category", "x"), "categorySlug": "x"}}, "INVALID_INPUT", "filter.categorySlug"},
		{"customer filters by state", e.customer, map[string]any{"filter": map[string]any{"status": "DRAFT"}}, "FORBIDDEN", ""},
		{"anonymous filters by state", "", map[string]any{"filter": map[string]any{"status": "ACTIVE"}}, "UNAUTHENTICATED", ""},
		// gqlgen rejects unknown enum values while validating the request.
		{"unknown sort", e.customer, map[string]any{"sort": "CHEAPEST"}, "GRAPHQL_VALIDATION_FAILED", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e.fails(t, tt.token, listQuery, tt.vars, tt.code, tt.field)
		})
	}
}

func TestProductLookups(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := seed(t, e)
	red, draft, archived := s.products["Red Shirt"], s.products["Draft Hat"], s.products["Old Scarf"]
	const bySlug = `query($slug: String) { product(slug: $slug) { id name } }`
	const byID = `query($id: ID) { product(id: $id) { id name } }`

	t.Run("by slug and by ID", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name  string
			token string
			query string
			vars  map[string]any
			want  string // "" for null
		}{
			{"active by slug", "", bySlug, map[string]any{"slug": "red-shirt"}, red.ID},
			{"slug ignores case", e.customer, bySlug, map[string]any{"slug": "Red-Shirt"}, red.ID},
			{"active by ID", e.customer, byID, map[string]any{"id": red.ID}, red.ID},
			{"draft hidden from customers", e.customer, bySlug, map[string]any{"slug": draft.Slug}, ""},
			{"draft hidden by ID", "", byID, map[string]any{"id": draft.ID}, ""},
			{"archived hidden from browsing", e.customer, byID, map[string]any{"id": archived.ID}, ""},
			{"admin sees drafts", e.admin, bySlug, map[string]any{"slug": draft.Slug}, draft.ID},
			{"admin sees archived", e.admin, byID, map[string]any{"id": archived.ID}, archived.ID},
			{"unknown slug", e.customer, bySlug, map[string]any{"slug": "nope"}, ""},
			{"unknown ID", e.customer, byID, map[string]any{"id": gid.Encode("Product", "nope")}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				var out struct{ Product *struct{ ID string } }
				e.ok(t, tt.token, tt.query, tt.vars, &out)
				got := ""
				if out.Product != nil {
					got = out.Product.ID
				}
				if got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			})
		}
	})

	t.Run("exactly one of id and slug", func(t *testing.T) {
		t.Parallel()
		e.fails(t, "", `{ product { id } }`, nil, "INVALID_INPUT", "")
		e.fails(t, "", `query($id: ID, $slug: String) { product(id: $id, slug: $slug) { id } }`,
			map[string]any{"id": red.ID, "slug": red.Slug}, "INVALID_INPUT", "")
		e.fails(t, "", byID, map[string]any{"id": s.mugs}, "INVALID_INPUT", "id")
	})

	t.Run("variantsBySku", func(t *testing.T) {
		t.Parallel()
		const q = `query($skus: [String!]!) { variantsBySku(skus: $skus) { id sku price { amount currency } product { id name } } }`
		skus := []string{"rs-m", "NOPE", "RS-S", "SCARF-1", "HAT-1", "RS-M"}
		var out struct{ VariantsBySku []*variant }
		e.ok(t, e.service, q, map[string]any{"skus": skus}, &out)
		want := []string{"RS-M", "", "RS-S", "", "", "RS-M"}
		if len(out.VariantsBySku) != len(want) {
			t.Fatalf("got %d variants for %d SKUs", len(out.VariantsBySku), len(skus))
		}
		for i, w := range want {
			got := out.VariantsBySku[i]
			if w == "" {
				if got != nil {
					t.Errorf("%s: got %+v, want null", skus[i], got)
				}
				continue
			}
			if got == nil || got.SKU != w || got.Product.ID != red.ID || got.ID != gid.Encode("Variant", w) {
				t.Errorf("%s: got %+v", skus[i], got)
			}
		}
		if out.VariantsBySku[0].Price != (money{Amount: 1700, Currency: "USD"}) {
			t.Errorf("price %+v", out.VariantsBySku[0].Price)
		}
		// A service acting for an admin sees variants of products that are
		// not for sale.
		res := e.doWith(t, e.asService(e.admin), q, map[string]any{"skus": []string{"SCARF-1", "HAT-1"}})
		if err := json.Unmarshal(res.Data, &out); err != nil || len(res.Errors) > 0 {
			t.Fatalf("admin: %v %+v", err, res.Errors)
		}
		if out.VariantsBySku[0] == nil || out.VariantsBySku[1] == nil {
			t.Errorf("admin: %+v", out.VariantsBySku)
		}
		many := make([]string, 101)
		for i := range many {
			many[i] = fmt.Sprintf("SKU-%d", i)
		}
		e.fails(t, e.service, q, map[string]any{"skus": many}, "INVALID_INPUT", "skus")
	})

	t.Run("categories", func(t *testing.T) {
		t.Parallel()
		var out struct {
			Categories []struct {
				ID, Slug, Name string
				Parent         *struct{ Slug string }
			}
		}
		e.ok(t, "", `{ categories { id slug name parent { slug } } }`, nil, &out)
		var got []string
		for _, c := range out.Categories {
			parent := ""
			if c.Parent != nil {
				parent = c.Parent.Slug
			}
			got = append(got, c.Name+"<"+parent)
		}
		want := []string{"Clothing<", "Mugs<", "Shirts<clothing"}
		if !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestEntitiesAndNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := seed(t, e)
	red, draft, archived := s.products["Red Shirt"], s.products["Draft Hat"], s.products["Old Scarf"]
	const entities = `query($reps: [_Any!]!) { _entities(representations: $reps) {
		__typename
		... on Product { id name status }
		... on Variant { id sku price { amount } product { id status } }
		... on Category { id slug parent { slug } }
	} }`
	rep := func(typ, id string) map[string]any { return map[string]any{"__typename": typ, "id": id} }
	reps := []map[string]any{
		rep("Product", red.ID),
		rep("Variant", gid.Encode("Variant", "RS-M")),
		rep("Product", archived.ID),
		rep("Variant", gid.Encode("Variant", "SCARF-1")),
		rep("Category", s.shirts),
		rep("Product", gid.Encode("Product", "nope")),
		rep("Product", draft.ID),
		rep("Variant", gid.Encode("Variant", "HAT-1")),
		rep("Product", s.products["Blue Shirt"].ID),
	}
	var out struct {
		Entities []map[string]any `json:"_entities"`
	}
	e.ok(t, e.customer, entities, map[string]any{"reps": reps}, &out)
	got := make([]string, len(out.Entities))
	for i, ent := range out.Entities {
		if ent == nil {
			got[i] = "null"
			continue
		}
		b, _ := json.Marshal(ent)
		got[i] = string(b)
	}
	want := []string{
		fmt.Sprintf(`{"__typename":"Product","id":%q,"name":"Red Shirt","status":"ACTIVE"}`, red.ID),
		fmt.Sprintf(`{"__typename":"Variant","id":%q,"price":{"amount":1700},"product":{"id":%q,"status":"ACTIVE"},"sku":"RS-M"}`, gid.Encode("Variant", "RS-M"), red.ID),
		// Archived: hidden from browsing, but references still resolve.
		fmt.Sprintf(`{"__typename":"Product","id":%q,"name":"Old Scarf","status":"ARCHIVED"}`, archived.ID),
		fmt.Sprintf(`{"__typename":"Variant","id":%q,"price":{"amount":1200},"product":{"id":%q,"status":"ARCHIVED"},"sku":"SCARF-1"}`, gid.Encode("Variant", "SCARF-1"), archived.ID),
		fmt.Sprintf(`{"__typename":"Category","id":%q,"parent":{"slug":"clothing"},"slug":"shirts"}`, s.shirts),
		"null",
		"null", // drafts stay hidden from customers
		"null",
		fmt.Sprintf(`{"__typename":"Product","id":%q,"name":"Blue Shirt","status":"ACTIVE"}`, s.products["Blue Shirt"].ID),
	}
	if !slices.Equal(got, want) {
		t.Errorf("entities:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}

	t.Run("malformed representation", func(t *testing.T) {
		t.Parallel()
		res := e.do(t, e.customer, entities, map[string]any{"reps": []map[string]any{
			rep("Product", "not-an-id!"), rep("Product", red.ID),
		}})
		if len(res.Errors) != 1 || res.Errors[0].Extensions.Code != "INVALID_INPUT" {
			t.Fatalf("errors %+v", res.Errors)
		}
		var data struct {
			Entities []*struct{ Name string } `json:"_entities"`
		}
		_ = json.Unmarshal(res.Data, &data)
		if len(data.Entities) != 2 || data.Entities[0] != nil || data.Entities[1] == nil || data.Entities[1].Name != "Red Shirt" {
			t.Errorf("the good representation should still resolve: %s", res.Data)
		}
	})

	t.Run("node", func(t *testing.T) {
		t.Parallel()
		const q = `query($id: ID!) { node(id: $id) { __typename id ... on Product { name } ... on Variant { sku } ... on Category { slug } } }`
		user := gid.Encode("User", "0b4c7d1e-0000-4000-8000-000000000001")
		tests := []struct {
			name  string
			token string
			id    string
			want  string
		}{
			{"product", "", red.ID, `{"__typename":"Product","id":"` + red.ID + `","name":"Red Shirt"}`},
			{"archived product", e.customer, archived.ID, `{"__typename":"Product","id":"` + archived.ID + `","name":"Old Scarf"}`},
			{"draft product", e.customer, draft.ID, `null`},
			{"draft product for admins", e.admin, draft.ID, `{"__typename":"Product","id":"` + draft.ID + `","name":"Draft Hat"}`},
			{"variant", "", gid.Encode("Variant", "RS-S"), `{"__typename":"Variant","id":"` + gid.Encode("Variant", "RS-S") + `","sku":"RS-S"}`},
			{"category", "", s.mugs, `{"__typename":"Category","id":"` + s.mugs + `","slug":"mugs"}`},
			{"user stub", "", user, `{"__typename":"User","id":"` + user + `"}`},
			{"unknown product", "", gid.Encode("Product", "nope"), `null`},
			{"unknown variant", "", gid.Encode("Variant", "NOPE"), `null`},
			{"type owned by no one", "", gid.Encode("Spaceship", "1"), `null`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				var out struct{ Node json.RawMessage }
				e.ok(t, tt.token, q, map[string]any{"id": tt.id}, &out)
				if string(out.Node) != tt.want {
					t.Errorf("got %s, want %s", out.Node, tt.want)
				}
			})
		}
		e.fails(t, "", q, map[string]any{"id": "%%%"}, "INVALID_INPUT", "")
	})
}

func TestUpdateProduct(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := seed(t, e)
	red := s.products["Red Shirt"]
	const update = `mutation($id: ID!, $in: UpdateProductInput!) { updateProduct(id: $id, input: $in) { ` + productFields + ` } }`

	var out struct{ UpdateProduct product }
	e.ok(t, e.admin, update, map[string]any{"id": red.ID, "in": map[string]any{
		"name":           "Red Shirt Classic",
		"description":    "Now in XL.",
		"categoryIds":    []string{s.shirts, s.clothing},
		"attributes":     []map[string]any{{"name": "fit", "value": "slim"}},
		"updateVariants": []map[string]any{{"sku": "rs-s", "price": map[string]any{"amount": 1200, "currency": "USD"}, "name": "Small"}},
		"addVariants":    []map[string]any{v("RS-XL", 2100, "USD", "size", "XL")},
	}}, &out)
	got := out.UpdateProduct
	if got.Name != "Red Shirt Classic" || got.Slug != red.Slug || got.Description != "Now in XL." {
		t.Errorf("name %q slug %q description %q", got.Name, got.Slug, got.Description)
	}
	if len(got.Categories) != 2 || len(got.Attributes) != 1 || len(got.Images) != 0 {
		t.Errorf("categories %+v attributes %+v", got.Categories, got.Attributes)
	}
	var skus []string
	for _, vr := range got.Variants {
		skus = append(skus, fmt.Sprintf("%s:%s:%d", vr.SKU, vr.Name, vr.Price.Amount))
	}
	if want := []string{"RS-S:Small:1200", "RS-M:rs-m:1700", "RS-XL:RS-XL:2100"}; !slices.Equal(skus, want) {
		t.Errorf("variants %q, want %q", skus, want)
	}
	if got.PriceRange.Min.Amount != 1200 || got.PriceRange.Max.Amount != 2100 {
		t.Errorf("priceRange %+v", got.PriceRange)
	}
	if !got.CreatedAt.Equal(red.CreatedAt) || !got.UpdatedAt.After(red.UpdatedAt) {
		t.Errorf("createdAt %v→%v updatedAt %v→%v", red.CreatedAt, got.CreatedAt, red.UpdatedAt, got.UpdatedAt)
	}
	// The new lowest price orders the list.
	cheap := e.pageThrough(t, e.customer, 10, map[string]any{"currency": "USD", "maxPrice": 1200}, "PRICE_ASC")
	if n := listedNames(cheap); len(n) != 3 || n[2] != "Red Shirt Classic" {
		t.Errorf("up to 1200: %q", n)
	}
	// The new variant is a variant like the others.
	var vs struct{ VariantsBySku []*variant }
	e.ok(t, e.service, `{ variantsBySku(skus: ["RS-XL"]) { sku product { name } } }`, nil, &vs)
	if vs.VariantsBySku[0] == nil || vs.VariantsBySku[0].Product.Name != "Red Shirt Classic" {
		t.Errorf("RS-XL: %+v", vs.VariantsBySku[0])
	}

	t.Run("slug change frees the old slug", func(t *testing.T) {
		blue := s.products["Blue Shirt"]
		e.ok(t, e.admin, update, map[string]any{"id": blue.ID, "in": map[string]any{"slug": "Blue-Tee"}}, &out)
		if out.UpdateProduct.Slug != "blue-tee" {
			t.Fatalf("slug %q", out.UpdateProduct.Slug)
		}
		var by struct{ Product *struct{ ID string } }
		e.ok(t, "", `{ product(slug: "blue-tee") { id } }`, nil, &by)
		if by.Product == nil || by.Product.ID != blue.ID {
			t.Errorf("by new slug: %+v", by.Product)
		}
		e.ok(t, "", `{ product(slug: "blue-shirt") { id } }`, nil, &by)
		if by.Product != nil {
			t.Errorf("old slug still finds %+v", by.Product)
		}
		taken := e.create(t, map[string]any{"name": "Blue Shirt", "variants": []map[string]any{v("BS-2", 100, "USD")}})
		if taken.Slug != "blue-shirt" {
			t.Errorf("old slug not reusable: %q", taken.Slug)
		}
	})

	t.Run("rejected changes change nothing", func(t *testing.T) {
		mug := s.products["coffee mug"]
		tests := []struct {
			name  string
			token string
			id    string
			in    map[string]any
			code  string
			field string
		}{
			{"SKU of another product", e.admin, mug.ID, map[string]any{"name": "X", "addVariants": []map[string]any{v("WJ-1", 100, "USD")}}, "CONFLICT", "sku"},
			{"SKU the product has", e.admin, mug.ID, map[string]any{"addVariants": []map[string]any{v("mug-c", 100, "USD", "size", "L")}}, "CONFLICT", "addVariants[0].sku"},
			{"slug of another product", e.admin, mug.ID, map[string]any{"name": "X", "slug": "tea-mug"}, "CONFLICT", "slug"},
			{"other currency", e.admin, mug.ID, map[string]any{"addVariants": []map[string]any{v("MUG-C2", 100, "EUR", "size", "L")}}, "INVALID_INPUT", "addVariants[0].price"},
			{"negative price", e.admin, mug.ID, map[string]any{"updateVariants": []map[string]any{{"sku": "MUG-C", "price": map[string]any{"amount": -5, "currency": "USD"}}}}, "INVALID_INPUT", "updateVariants[0].price"},
			{"unknown SKU", e.admin, mug.ID, map[string]any{"updateVariants": []map[string]any{{"sku": "RS-M", "name": "x"}}}, "INVALID_INPUT", "updateVariants[0].sku"},
			{"empty name", e.admin, mug.ID, map[string]any{"name": ""}, "INVALID_INPUT", "name"},
			{"bad image", e.admin, mug.ID, map[string]any{"images": []map[string]any{{"url": "data:image/png;base64,AAAA"}}}, "INVALID_INPUT", "images[0].url"},
			{"unknown product", e.admin, gid.Encode("Product", "nope"), map[string]any{"name": "X"}, "NOT_FOUND", ""},
			{"category ID as product", e.admin, s.mugs, map[string]any{"name": "X"}, "INVALID_INPUT", "id"},
			{"customer", e.customer, mug.ID, map[string]any{"name": "X"}, "FORBIDDEN", ""},
			{"anonymous", "", mug.ID, map[string]any{"name": "X"}, "UNAUTHENTICATED", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.fails(t, tt.token, update, map[string]any{"id": tt.id, "in": tt.in}, tt.code, tt.field)
			})
		}
		var now struct{ Product product }
		e.ok(t, e.admin, `query($id: ID!) { product(id: $id) { `+productFields+` } }`, map[string]any{"id": mug.ID}, &now)
		a, _ := json.Marshal(now.Product)
		b, _ := json.Marshal(mug)
		if string(a) != string(b) {
			t.Errorf("product changed:\n got %s\nwant %s", a, b)
		}
		// The SKU a rejected change tried to add is still free.
		e.create(t, map[string]any{"name": "Second Mug", "variants": []map[string]any{v("MUG-C2", 100, "EUR")}})
	})
}

func TestArchiveProduct(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := seed(t, e)
	tea := s.products["Tea Mug"]
	const archive = `mutation($id: ID!) { archiveProduct(id: $id) { id status } }`
	e.fails(t, e.customer, archive, map[string]any{"id": tea.ID}, "FORBIDDEN", "")
	e.fails(t, "", archive, map[string]any{"id": tea.ID}, "UNAUTHENTICATED", "")
	e.fails(t, e.admin, archive, map[string]any{"id": gid.Encode("Product", "nope")}, "NOT_FOUND", "")
	const archiveQ = `mutation($id: ID!) { archiveProduct(id: $id) { id status updatedAt } }`
	var out struct {
		ArchiveProduct struct {
			ID, Status string
			UpdatedAt  time.Time
		}
	}
	e.ok(t, e.admin, archiveQ, map[string]any{"id": tea.ID}, &out)
	first := out.ArchiveProduct
	if first.Status != "ARCHIVED" || !first.UpdatedAt.After(tea.UpdatedAt) {
		t.Fatalf("got %+v", first)
	}
	// Archiving again changes nothing.
	e.ok(t, e.admin, archiveQ, map[string]any{"id": tea.ID}, &out)
	if out.ArchiveProduct != first {
		t.Errorf("second archive: %+v, first: %+v", out.ArchiveProduct, first)
	}
	if names := listedNames(e.pageThrough(t, e.customer, 100, nil, "NAME_ASC")); slices.Contains(names, "Tea Mug") {
		t.Errorf("archived product still listed: %q", names)
	}
	var vs struct{ VariantsBySku []*variant }
	e.ok(t, e.service, `{ variantsBySku(skus: ["MUG-T"]) { sku } }`, nil, &vs)
	if vs.VariantsBySku[0] != nil {
		t.Errorf("archived variant is for sale: %+v", vs.VariantsBySku[0])
	}
	var node struct{ Node *struct{ Sku string } }
	e.ok(t, e.customer, `query($id: ID!) { node(id: $id) { ... on Variant { sku } } }`,
		map[string]any{"id": gid.Encode("Variant", "MUG-T")}, &node)
	if node.Node == nil || node.Node.Sku != "MUG-T" {
		t.Errorf("archived variant does not resolve by ID: %+v", node.Node)
	}
}

func TestCreateCategory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const create = `mutation($in: CreateCategoryInput!) { createCategory(input: $in) { id slug name description parent { id } } }`
	var out struct {
		CreateCategory struct {
			ID, Slug, Name, Description string
			Parent                      *struct{ ID string }
		}
	}
	e.ok(t, e.admin, create, map[string]any{"in": map[string]any{"name": " Home & Garden ", "description": "All things home."}}, &out)
	home := out.CreateCategory
	if home.Slug != "home-garden" || home.Name != "Home & Garden" || home.Parent != nil {
		t.Errorf("got %+v", home)
	}
	e.ok(t, e.admin, create, map[string]any{"in": map[string]any{"name": "Lamps", "parentId": home.ID}}, &out)
	if out.CreateCategory.Parent == nil || out.CreateCategory.Parent.ID != home.ID {
		t.Errorf("parent %+v", out.CreateCategory.Parent)
	}
	tests := []struct {
		name  string
		token string
		in    map[string]any
		code  string
		field string
	}{
		{"slug taken", e.admin, map[string]any{"name": "Home and garden", "slug": "home-garden"}, "CONFLICT", "slug"},
		{"unknown parent", e.admin, map[string]any{"name": "X", "parentId": gid.Encode("Category", "nope")}, "INVALID_INPUT", "parentId"},
		{"parent not a category", e.admin, map[string]any{"name": "X", "parentId": gid.Encode("Product", "x")}, "INVALID_INPUT", "parentId"},
		{"no name", e.admin, map[string]any{"name": " "}, "INVALID_INPUT", "name"},
		{"no slug to derive", e.admin, map[string]any{"name": "???"}, "INVALID_INPUT", "slug"},
		{"customer", e.customer, map[string]any{"name": "X"}, "FORBIDDEN", ""},
		{"anonymous", "", map[string]any{"name": "X"}, "UNAUTHENTICATED", ""},
	}
	t.Run("rejected", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e.fails(t, tt.token, create, map[string]any{"in": tt.in}, tt.code, tt.field)
			})
		}
	})
	var cats struct{ Categories []struct{ Slug string } }
	e.ok(t, "", `{ categories { slug } }`, nil, &cats)
	if len(cats.Categories) != 2 {
		t.Errorf("categories after rejected input: %+v", cats.Categories)
	}
}

func TestInvalidToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do(t, "not-a-token", `{ categories { id } }`, nil)
	if res.Status != http.StatusUnauthorized || len(res.Errors) != 1 || res.Errors[0].Extensions.Code != "UNAUTHENTICATED" {
		t.Errorf("status %d errors %+v", res.Status, res.Errors)
	}
}
