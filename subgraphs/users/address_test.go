package users_test

import (
	"testing"

	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

const addAddress = `mutation($in: AddressInput!) { addAddress(input: $in) { ` + addressFields + ` } }`
const updateAddress = `mutation($id: ID!, $in: AddressInput!) { updateAddress(id: $id, input: $in) { ` + addressFields + ` } }`
const removeAddress = `mutation($id: ID!) { removeAddress(id: $id) }`
const setDefault = `mutation($id: ID!) { setDefaultAddress(id: $id) { ` + addressFields + ` } }`

func addressIn(city string) map[string]any {
	return map[string]any{"recipient": "Ada Lovelace", "line1": "1 Main St", "city": city,
		"postalCode": "02134", "country": "us"}
}

func with(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for kk, vv := range m {
		out[kk] = vv
	}
	out[k] = v
	return out
}

func testAddresses(t *testing.T, e *env, c *client) {
	ada := c.register(t, uniqueEmail("ada"), password, "Ada")
	bob := c.register(t, uniqueEmail("bob"), password, "Bob")
	tok := ada.AccessToken

	var boston, chicago, denver addressJSON
	c.ok(t, tok, addAddress, map[string]any{"in": with(addressIn("Boston"), "phone", "+1 617 555 0100")}, "addAddress", &boston)
	if !boston.IsDefault || boston.Country != "US" || boston.Phone == nil || *boston.Phone != "+16175550100" || boston.Line2 != nil {
		t.Fatalf("first address %+v; want the default, country US, phone normalized", boston)
	}
	if typ, _, err := gid.Decode(boston.ID); err != nil || typ != "Address" {
		t.Fatalf("address id %q is not an Address global ID", boston.ID)
	}
	c.ok(t, tok, addAddress, map[string]any{"in": addressIn("Chicago")}, "addAddress", &chicago)
	if chicago.IsDefault {
		t.Fatal("second address became the default unasked")
	}
	c.ok(t, tok, addAddress, map[string]any{"in": with(addressIn("Denver"), "isDefault", true)}, "addAddress", &denver)
	me := c.me(t, tok)
	if len(me.Addresses) != 3 || me.Addresses[0].ID != denver.ID || !me.Addresses[0].IsDefault ||
		me.Addresses[1].ID != boston.ID || me.Addresses[1].IsDefault || me.DefaultAddress == nil || me.DefaultAddress.ID != denver.ID {
		t.Fatalf("me.addresses = %+v, default %+v; want Denver (default), Boston, Chicago", me.Addresses, me.DefaultAddress)
	}

	// Switch the default back and forth.
	var a addressJSON
	c.ok(t, tok, setDefault, map[string]any{"id": chicago.ID}, "setDefaultAddress", &a)
	if !a.IsDefault || a.ID != chicago.ID {
		t.Fatalf("setDefaultAddress = %+v", a)
	}
	me = c.me(t, tok)
	if me.DefaultAddress == nil || me.DefaultAddress.ID != chicago.ID || countDefaults(me.Addresses) != 1 {
		t.Fatalf("after setDefaultAddress(Chicago): %+v", me.Addresses)
	}

	// Update replaces every field; isDefault left out keeps it.
	c.ok(t, tok, updateAddress, map[string]any{"id": chicago.ID, "in": map[string]any{
		"recipient": "Ada L.", "line1": "2 State St", "line2": "Apt 5", "city": "Evanston", "region": "IL",
		"postalCode": "60201", "country": "US"}}, "updateAddress", &a)
	if a.City != "Evanston" || a.Line2 == nil || *a.Line2 != "Apt 5" || a.Region == nil || *a.Region != "IL" || !a.IsDefault {
		t.Fatalf("updated address %+v", a)
	}

	// Bad input: a clear error on the field, nothing changes.
	before := c.me(t, tok).Addresses
	bad := []struct {
		name  string
		query string
		vars  map[string]any
		code  string
		field string
	}{
		{"add: unknown country", addAddress, map[string]any{"in": with(addressIn("X"), "country", "XX")}, "INVALID_INPUT", "country"},
		{"add: 3-letter country", addAddress, map[string]any{"in": with(addressIn("X"), "country", "USA")}, "INVALID_INPUT", "country"},
		{"add: empty city", addAddress, map[string]any{"in": with(addressIn("X"), "city", " ")}, "INVALID_INPUT", "city"},
		{"add: bad phone", addAddress, map[string]any{"in": with(addressIn("X"), "phone", "call me")}, "INVALID_INPUT", "phone"},
		{"update: bad postal code", updateAddress, map[string]any{"id": boston.ID, "in": with(addressIn("X"), "postalCode", "")}, "INVALID_INPUT", "postalCode"},
		{"update: someone else's address", updateAddress, map[string]any{"id": mustAddBob(t, c, bob.AccessToken), "in": addressIn("X")}, "NOT_FOUND", ""},
		{"update: unknown address", updateAddress, map[string]any{"id": gid.Encode("Address", "00000000-0000-0000-0000-000000000000"), "in": addressIn("X")}, "NOT_FOUND", ""},
		{"update: a User ID", updateAddress, map[string]any{"id": ada.User.ID, "in": addressIn("X")}, "INVALID_INPUT", ""},
		{"update: malformed ID", updateAddress, map[string]any{"id": "%%%", "in": addressIn("X")}, "INVALID_INPUT", ""},
		{"update: ID with a bad key", updateAddress, map[string]any{"id": gid.Encode("Address", "1; DROP TABLE users"), "in": addressIn("X")}, "NOT_FOUND", ""},
		{"remove: someone else's address", removeAddress, map[string]any{"id": mustAddBob(t, c, bob.AccessToken)}, "NOT_FOUND", ""},
		{"set default: unknown address", setDefault, map[string]any{"id": gid.Encode("Address", testenv.ID())}, "NOT_FOUND", ""},
		{"missing required field", addAddress, map[string]any{"in": map[string]any{"recipient": "x"}}, "GRAPHQL_VALIDATION_FAILED", ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			c.fails(t, tok, tt.query, tt.vars, tt.code, tt.field)
			if after := c.me(t, tok).Addresses; !equalAddresses(before, after) {
				t.Fatalf("address book changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
	if n := len(c.me(t, bob.AccessToken).Addresses); n != 2 {
		t.Fatalf("bob has %d addresses; want his 2 untouched", n)
	}

	// Anonymous callers may not touch address books.
	c.fails(t, "", addAddress, map[string]any{"in": addressIn("X")}, "UNAUTHENTICATED", "")
	c.fails(t, "", removeAddress, map[string]any{"id": boston.ID}, "UNAUTHENTICATED", "")

	// Removing the default leaves none; removing the others empties the book.
	var ok bool
	c.ok(t, tok, removeAddress, map[string]any{"id": chicago.ID}, "removeAddress", &ok)
	me = c.me(t, tok)
	if !ok || len(me.Addresses) != 2 || me.DefaultAddress != nil || countDefaults(me.Addresses) != 0 {
		t.Fatalf("after removing the default: %+v (default %+v)", me.Addresses, me.DefaultAddress)
	}
	c.ok(t, tok, removeAddress, map[string]any{"id": boston.ID}, "removeAddress", &ok)
	c.ok(t, tok, removeAddress, map[string]any{"id": denver.ID}, "removeAddress", &ok)
	if me = c.me(t, tok); len(me.Addresses) != 0 || me.DefaultAddress != nil {
		t.Fatalf("after removing all: %+v", me.Addresses)
	}
	c.fails(t, tok, removeAddress, map[string]any{"id": denver.ID}, "NOT_FOUND", "")
	if n := e.count(t, `SELECT count(*) FROM addresses WHERE id = $1`, mustKey(t, denver.ID)); n != 0 {
		t.Fatal("removed address still stored")
	}
}

func mustAddBob(t *testing.T, c *client, tok string) string {
	t.Helper()
	var a addressJSON
	c.ok(t, tok, addAddress, map[string]any{"in": addressIn("Austin")}, "addAddress", &a)
	return a.ID
}

func countDefaults(as []addressJSON) int {
	n := 0
	for _, a := range as {
		if a.IsDefault {
			n++
		}
	}
	return n
}

func equalAddresses(a, b []addressJSON) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.ID != y.ID || x.City != y.City || x.PostalCode != y.PostalCode || x.Country != y.Country ||
			x.IsDefault != y.IsDefault || x.Recipient != y.Recipient || x.Line1 != y.Line1 {
			return false
		}
	}
	return true
}
