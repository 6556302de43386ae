package orders_test

import "testing"

// TestOneCatalogLookupPerCall: addToCart asks the catalog once, for the whole
// cart and the new item together, and placeOrder prices the cart with one
// lookup.
func TestOneCatalogLookupPerCall(t *testing.T) {
	t.Parallel()
	catalog := newCatalog(variant("MUG-1", usd(1250)), variant("CAP-1", usd(2000)), variant("LAMP-1", usd(4000)))
	e := newEnv(t, catalog, nil)
	tok := e.token(t, "pricing-user-1", "CUSTOMER")
	tests := []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"addToCart, empty cart", addToCart, map[string]any{"in": map[string]any{"sku": "MUG-1", "quantity": 1}}},
		{"addToCart, one item in cart", addToCart, map[string]any{"in": map[string]any{"sku": "CAP-1", "quantity": 2}}},
		{"addToCart, two items in cart", addToCart, map[string]any{"in": map[string]any{"sku": "LAMP-1", "quantity": 1}}},
		{"placeOrder, three lines", `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { id status } }`,
			map[string]any{"in": checkout("key-pricing-0001", "tok_visa")}},
	}
	for _, tt := range tests {
		// In order: each step builds on the cart the one before left.
		before := catalog.calls()
		r := e.do(t, tok, tt.query, tt.vars)
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", tt.name, r.Errors)
		}
		if n := catalog.calls() - before; n != 1 {
			t.Errorf("%s: %d catalog lookups, want 1", tt.name, n)
		}
	}
}
