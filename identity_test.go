package main

import (
	"testing"

	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// TestHiddenCharactersAndLookAlikes checks, through the gateway, that IDs
// and names that hide characters are refused with INVALID_INPUT, that a
// well-formed ID of nothing is a null node, and that an email written with
// look-alike (compatibility) characters names the account it looks like.
func TestHiddenCharactersAndLookAlikes(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	admin := s.client(adminToken(t, s))
	anon := s.client("")
	id := testenv.ID()
	email := "lookalike-" + id + "@example.com"
	_, _, userID := register(t, s, email, "Ada")
	// The same address in full-width letters: NFKC folds it to email.
	fullWidth := "\uff4c\uff4f\uff4f\uff4b\uff41\uff4c\uff49\uff4b\uff45-" + id + "@example.com"
	reg := func(email, name string) map[string]any {
		return map[string]any{"i": map[string]any{"email": email, "password": "Sturdy-Pass-2026", "name": name}}
	}
	node := `query Node($id: ID!) { node(id: $id) { id ... on User { email } } }`
	tests := []struct {
		name  string
		c     *client
		query string
		vars  map[string]any
		code  string // "" for no error
	}{
		{"look-alike email", anon, registerMutation, reg(fullWidth, "Eve"), "CONFLICT"},
		{"upper-case look-alike email", anon, registerMutation, reg("LOOKALIKE-"+id+"@EXAMPLE.COM", "Eve"), "CONFLICT"},
		{"zero-width space in email", anon, registerMutation, reg("look\u200balike-"+id+"@example.com", "Eve"), "INVALID_INPUT"},
		{"bidi override in name", anon, registerMutation, reg("bidi-"+id+"@example.com", "Eve \u202eadA"), "INVALID_INPUT"},
		{"isolate in name", anon, registerMutation, reg("iso-"+id+"@example.com", "\u2066Eve\u2069"), "INVALID_INPUT"},
		{"unknown user ID", admin, node, map[string]any{"id": "VXNlcjp4"}, ""},
		{"NUL in user ID", admin, node, map[string]any{"id": gid.Encode("User", "\x00x")}, "INVALID_INPUT"},
		{"NUL in order ID", admin, `query($id: ID!) { order(id: $id) { id } }`, map[string]any{"id": gid.Encode("Order", "\x00x")}, "INVALID_INPUT"},
		{"NUL in cart ID", admin, node, map[string]any{"id": gid.Encode("Cart", "\x00x")}, "INVALID_INPUT"},
		{"NUL in variant ID", admin, `query($id: ID!) { node(id: $id) { id ... on Variant { sku } } }`, map[string]any{"id": gid.Encode("Variant", "A\x00")}, "INVALID_INPUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.c.do(tt.query, tt.vars)
			if r.Code() != tt.code {
				t.Fatalf("code %q, want %q: %s", r.Code(), tt.code, r.Raw)
			}
			if tt.code == "" && r.Data["node"] != nil {
				t.Errorf("node of an unknown ID = %v, want null", r.Data["node"])
			}
		})
	}
	// Nothing was registered by the refused attempts: the full-width
	// address logs in to the one account.
	d := anon.must(loginMutation, map[string]any{"i": map[string]any{"email": fullWidth, "password": "Sturdy-Pass-2026"}})
	if got := str(d, "login", "user", "id"); got != userID {
		t.Fatalf("login with the full-width address signed in %q, want the account %q", got, userID)
	}
}
