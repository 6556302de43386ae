package orders_test

import (
	"strings"
	"testing"

	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/orders/cart"
)

func TestCart(t *testing.T) {
	t.Parallel()
	archived := variant("OLD-MUG", usd(500))
	archived.ProductStatus = "ARCHIVED"
	euro := variant("EURO-CAP", money.Money{Amount: 900, Currency: "EUR"})
	catalog := newCatalog(variant("MUG-BLUE", usd(1250)), variant("CAP", usd(2000)), archived, euro)
	e := newEnv(t, catalog, nil)

	const getCart = `{ cart { ` + cartFields + ` } }`
	update := `mutation($in: UpdateCartItemInput!) { updateCartItem(input: $in) { ` + cartFields + ` } }`
	remove := `mutation($in: RemoveFromCartInput!) { removeFromCart(input: $in) { ` + cartFields + ` } }`

	t.Run("add, update, remove, clear", func(t *testing.T) {
		t.Parallel()
		tok := e.token(t, "cart-user-1", "CUSTOMER")
		var c cartJSON
		e.do(t, tok, getCart, nil).into(t, "cart", &c)
		if len(c.Items) != 0 || c.ItemCount != 0 || c.Subtotal != nil || c.UpdatedAt != nil || c.ID != gid.Encode("Cart", "cart-user-1") {
			t.Fatalf("new cart %+v", c)
		}
		e.do(t, tok, addToCart, map[string]any{"in": map[string]any{"sku": "mug-blue", "quantity": 2}}).into(t, "addToCart", &c)
		e.do(t, tok, addToCart, map[string]any{"in": map[string]any{"variantId": gid.Encode("Variant", "CAP"), "quantity": 1}}).into(t, "addToCart", &c)
		e.do(t, tok, addToCart, map[string]any{"in": map[string]any{"sku": "MUG-BLUE", "quantity": 1}}).into(t, "addToCart", &c)
		if len(c.Items) != 2 || c.Items[0].SKU != "MUG-BLUE" || c.Items[0].Quantity != 3 || c.Items[1].SKU != "CAP" {
			t.Fatalf("cart after adds: %+v", c.Items)
		}
		it := c.Items[0]
		if it.UnitPrice != usd(1250) || it.LineTotal != usd(3750) || !it.Available || it.ProductName != "Product MUG-BLUE" ||
			it.VariantName != "Variant MUG-BLUE" || it.Variant.ID != gid.Encode("Variant", "MUG-BLUE") {
			t.Errorf("item %+v", it)
		}
		if c.ItemCount != 4 || c.Subtotal == nil || *c.Subtotal != usd(5750) || c.UpdatedAt == nil {
			t.Errorf("itemCount %d, subtotal %v, updatedAt %v", c.ItemCount, c.Subtotal, c.UpdatedAt)
		}

		e.do(t, tok, update, map[string]any{"in": map[string]any{"sku": "CAP", "quantity": 5}}).into(t, "updateCartItem", &c)
		if c.Items[1].Quantity != 5 || *c.Subtotal != usd(3750+10000) {
			t.Errorf("after update: %+v, %v", c.Items, c.Subtotal)
		}
		e.do(t, tok, update, map[string]any{"in": map[string]any{"sku": "CAP", "quantity": 0}}).into(t, "updateCartItem", &c)
		if len(c.Items) != 1 || c.Items[0].SKU != "MUG-BLUE" {
			t.Errorf("quantity 0 did not remove CAP: %+v", c.Items)
		}
		e.do(t, tok, addToCart, map[string]any{"in": map[string]any{"sku": "CAP", "quantity": 1}}).into(t, "addToCart", &c)
		e.do(t, tok, remove, map[string]any{"in": map[string]any{"variantId": gid.Encode("Variant", "MUG-BLUE")}}).into(t, "removeFromCart", &c)
		if len(c.Items) != 1 || c.Items[0].SKU != "CAP" {
			t.Errorf("after remove: %+v", c.Items)
		}
		// Removing what is not there changes nothing.
		e.do(t, tok, remove, map[string]any{"in": map[string]any{"sku": "MUG-BLUE"}}).into(t, "removeFromCart", &c)
		if len(c.Items) != 1 {
			t.Errorf("after removing again: %+v", c.Items)
		}
		e.do(t, tok, `mutation { clearCart { `+cartFields+` } }`, nil).into(t, "clearCart", &c)
		if len(c.Items) != 0 || c.Subtotal != nil {
			t.Errorf("after clear: %+v", c)
		}
		e.do(t, tok, getCart, nil).into(t, "cart", &c)
		if len(c.Items) != 0 {
			t.Errorf("cleared cart read back: %+v", c)
		}
	})

	t.Run("prices come from the catalog when the cart is read", func(t *testing.T) {
		t.Parallel()
		catalog := newCatalog(variant("TEE", usd(1500)), variant("SOCKS", usd(500)))
		e := newEnv(t, catalog, nil)
		tok := e.token(t, "cart-user-2", "CUSTOMER")
		var c cartJSON
		e.do(t, tok, addToCart, map[string]any{"in": map[string]any{"sku": "TEE", "quantity": 2}}).into(t, "addToCart", &c)
		e.do(t, tok, addToCart, map[string]any{"in": map[string]any{"sku": "SOCKS", "quantity": 1}}).into(t, "addToCart", &c)
		catalog.set(variant("TEE", usd(1200)))
		gone := variant("SOCKS", usd(500))
		gone.ProductStatus = "ARCHIVED"
		catalog.set(gone)
		e.do(t, tok, getCart, nil).into(t, "cart", &c)
		if c.Items[0].UnitPrice != usd(1200) || c.Items[0].LineTotal != usd(2400) {
			t.Errorf("TEE at %v, want the new price 12.00", c.Items[0].UnitPrice)
		}
		if c.Items[1].Available || *c.Subtotal != usd(2400) || c.ItemCount != 3 {
			t.Errorf("archived SOCKS: available %v, subtotal %v, count %d; want unavailable and left out of the subtotal", c.Items[1].Available, c.Subtotal, c.ItemCount)
		}
		// The catalog down: a clear error, not a wrong price.
		catalog.mu.Lock()
		catalog.down = true
		catalog.mu.Unlock()
		if r := e.do(t, tok, getCart, nil); r.code() != "UNAVAILABLE" {
			t.Errorf("catalog down: %+v, want UNAVAILABLE", r.Errors)
		}
	})

	bad := []struct {
		name  string
		query string
		in    map[string]any
		code  string
		field string
		text  string // a substring of the message
	}{
		{name: "quantity 0", query: addToCart, in: map[string]any{"sku": "CAP", "quantity": 0}, code: "INVALID_INPUT", field: "quantity"},
		{name: "negative quantity", query: addToCart, in: map[string]any{"sku": "CAP", "quantity": -1}, code: "INVALID_INPUT", field: "quantity"},
		{name: "quantity 100", query: addToCart, in: map[string]any{"sku": "CAP", "quantity": 100}, code: "INVALID_INPUT", field: "quantity"},
		{name: "above 99 in the cart", query: addToCart, in: map[string]any{"sku": "MUG-BLUE", "quantity": 98}, code: "INVALID_INPUT", field: "quantity", text: "at most 99"},
		{name: "unknown SKU", query: addToCart, in: map[string]any{"sku": "NOPE", "quantity": 1}, code: "NOT_FOUND", field: "sku"},
		{name: "archived product", query: addToCart, in: map[string]any{"sku": "OLD-MUG", "quantity": 1}, code: "INVALID_INPUT", field: "sku", text: "no longer available"},
		{name: "another currency", query: addToCart, in: map[string]any{"sku": "EURO-CAP", "quantity": 1}, code: "INVALID_INPUT", field: "sku", text: "EUR"},
		{name: "malformed SKU", query: addToCart, in: map[string]any{"sku": "a b", "quantity": 1}, code: "INVALID_INPUT", field: "sku"},
		{name: "both variantId and sku", query: addToCart, in: map[string]any{"sku": "CAP", "variantId": gid.Encode("Variant", "CAP"), "quantity": 1}, code: "INVALID_INPUT", field: "variantId"},
		{name: "neither variantId nor sku", query: addToCart, in: map[string]any{"quantity": 1}, code: "INVALID_INPUT", field: "variantId"},
		{name: "variantId of another type", query: addToCart, in: map[string]any{"variantId": gid.Encode("Product", "CAP"), "quantity": 1}, code: "INVALID_INPUT", field: "variantId"},
		{name: "update to 100", query: update, in: map[string]any{"sku": "MUG-BLUE", "quantity": 100}, code: "INVALID_INPUT", field: "quantity"},
		{name: "update to negative", query: update, in: map[string]any{"sku": "MUG-BLUE", "quantity": -2}, code: "INVALID_INPUT", field: "quantity"},
		{name: "update an item not in the cart", query: update, in: map[string]any{"sku": "CAP", "quantity": 1}, code: "NOT_FOUND", field: "sku"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			user := "bad-" + strings.ReplaceAll(tc.name, " ", "-")
			tok := e.token(t, user, "CUSTOMER")
			var before cartJSON
			e.do(t, tok, addToCart, map[string]any{"in": map[string]any{"sku": "MUG-BLUE", "quantity": 2}}).into(t, "addToCart", &before)
			r := e.do(t, tok, tc.query, map[string]any{"in": tc.in})
			if r.code() != tc.code || r.Errors[0].Extensions.Field != tc.field || !strings.Contains(r.Errors[0].Message, tc.text) {
				t.Fatalf("errors %+v; want %s on %s mentioning %q", r.Errors, tc.code, tc.field, tc.text)
			}
			var after cartJSON
			e.do(t, tok, getCart, nil).into(t, "cart", &after)
			if len(after.Items) != 1 || after.Items[0].Quantity != 2 {
				t.Errorf("the cart changed: %+v", after.Items)
			}
		})
	}

	t.Run("at most 50 items", func(t *testing.T) {
		t.Parallel()
		catalog := newCatalog()
		for i := range cart.MaxItems + 1 {
			catalog.set(variant("SKU-"+string(rune('A'+i/26))+string(rune('A'+i%26)), usd(100)))
		}
		e := newEnv(t, catalog, nil)
		tok := e.token(t, "cart-user-3", "CUSTOMER")
		for i := range cart.MaxItems {
			sku := "SKU-" + string(rune('A'+i/26)) + string(rune('A'+i%26))
			if r := e.do(t, tok, addToCart, map[string]any{"in": map[string]any{"sku": sku, "quantity": 1}}); len(r.Errors) > 0 {
				t.Fatalf("item %d: %+v", i, r.Errors)
			}
		}
		sku := "SKU-" + string(rune('A'+cart.MaxItems/26)) + string(rune('A'+cart.MaxItems%26))
		r := e.do(t, tok, addToCart, map[string]any{"in": map[string]any{"sku": sku, "quantity": 1}})
		if r.code() != "INVALID_INPUT" || !strings.Contains(r.Errors[0].Message, "50") {
			t.Fatalf("51st item: %+v", r.Errors)
		}
		// More of an item already there is fine.
		if r := e.do(t, tok, addToCart, map[string]any{"in": map[string]any{"sku": "SKU-AA", "quantity": 1}}); len(r.Errors) > 0 {
			t.Errorf("more of an item at 50 items: %+v", r.Errors)
		}
	})

	t.Run("anonymous", func(t *testing.T) {
		t.Parallel()
		for _, q := range []struct {
			query string
			vars  map[string]any
		}{
			{getCart, nil},
			{addToCart, map[string]any{"in": map[string]any{"sku": "CAP", "quantity": 1}}},
			{update, map[string]any{"in": map[string]any{"sku": "CAP", "quantity": 1}}},
			{remove, map[string]any{"in": map[string]any{"sku": "CAP"}}},
			{`mutation { clearCart { id } }`, nil},
		} {
			if r := e.do(t, "", q.query, q.vars); r.code() != "UNAUTHENTICATED" {
				t.Errorf("%s: %+v, want UNAUTHENTICATED", q.query, r.Errors)
			}
		}
	})

	t.Run("a cart is its customer's own", func(t *testing.T) {
		t.Parallel()
		a, b := e.token(t, "cart-owner", "CUSTOMER"), e.token(t, "cart-other", "CUSTOMER")
		var c cartJSON
		e.do(t, a, addToCart, map[string]any{"in": map[string]any{"sku": "CAP", "quantity": 1}}).into(t, "addToCart", &c)
		node := `query($id: ID!) { node(id: $id) { id ... on Cart { itemCount } } }`
		var n *struct{ ItemCount int }
		e.do(t, b, node, map[string]any{"id": c.ID}).into(t, "node", &n)
		if n != nil {
			t.Errorf("another customer's cart through node: %+v", n)
		}
		e.do(t, a, node, map[string]any{"id": c.ID}).into(t, "node", &n)
		if n == nil || n.ItemCount != 1 {
			t.Errorf("own cart through node: %+v", n)
		}
		e.do(t, b, getCart, nil).into(t, "cart", &c)
		if len(c.Items) != 0 {
			t.Errorf("another customer sees items %+v", c.Items)
		}
	})
}
