package users_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

const nodeQuery = `query($id: ID!) { node(id: $id) { id __typename
	... on User { email name role addresses { id city } defaultAddress { id } }
	... on Address { city country } } }`

const entitiesQuery = `query($reps: [_Any!]!) { _entities(representations: $reps) {
	__typename ... on User { id email addresses { id city } } ... on Address { id city } } }`

func testVisibility(t *testing.T, e *env, c *client) {
	ada := c.register(t, uniqueEmail("ada"), password, "Ada")
	bob := c.register(t, uniqueEmail("bob"), password, "Bob")
	var adaAddr, bobAddr addressJSON
	c.ok(t, ada.AccessToken, addAddress, map[string]any{"in": addressIn("Boston")}, "addAddress", &adaAddr)
	c.ok(t, bob.AccessToken, addAddress, map[string]any{"in": addressIn("Austin")}, "addAddress", &bobAddr)
	// A service sees users only with the users:read scope.
	service := testenv.ServiceToken(t, e.key, "crm", "users", time.Hour, auth.ScopeUsersRead)
	unscoped := testenv.ServiceToken(t, e.key, "orders", "users", time.Hour)
	admin := testenv.Token(t, e.key, "00000000-0000-0000-0000-00000000a000", "ADMIN")

	node := func(t *testing.T, token, id string) json.RawMessage {
		t.Helper()
		r := c.do(t, token, nodeQuery, map[string]any{"id": id})
		if len(r.Errors) > 0 {
			t.Fatalf("node(%s): errors %+v", id, r.Errors)
		}
		return r.Data["node"]
	}

	tests := []struct {
		name, token, id string
		visible         bool
	}{
		{"customer reads self", ada.AccessToken, ada.User.ID, true},
		{"customer reads own address", ada.AccessToken, adaAddr.ID, true},
		{"customer reads another user", bob.AccessToken, ada.User.ID, false},
		{"customer reads another's address", bob.AccessToken, adaAddr.ID, false},
		{"anonymous reads a user", "", ada.User.ID, false},
		{"anonymous reads an address", "", adaAddr.ID, false},
		{"admin reads a user", admin, ada.User.ID, true},
		{"admin reads an address", admin, bobAddr.ID, true},
		{"service reads a user", service, bob.User.ID, true},
		{"service reads an address", service, adaAddr.ID, true},
		{"service without users:read reads a user", unscoped, bob.User.ID, false},
		{"service without users:read reads an address", unscoped, adaAddr.ID, false},
		{"unknown user", admin, gid.Encode("User", "00000000-0000-0000-0000-000000000000"), false},
		{"user key not a UUID", admin, gid.Encode("User", "42"), false},
		{"another service's type", admin, gid.Encode("Product", "42"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := node(t, tt.token, tt.id)
			if !tt.visible {
				if string(got) != "null" {
					t.Fatalf("node = %s; want null", got)
				}
				return
			}
			var n struct {
				ID        string
				Typename  string `json:"__typename"`
				Email     string
				Addresses []addressJSON
				City      string
			}
			if err := json.Unmarshal(got, &n); err != nil || n.ID != tt.id {
				t.Fatalf("node = %s, %v; want the object with id %s", got, err, tt.id)
			}
			if n.Typename == "User" && (n.Email == "" || len(n.Addresses) != 1) {
				t.Fatalf("user node %s; want its email and address", got)
			}
			if n.Typename == "Address" && n.City == "" {
				t.Fatalf("address node %s", got)
			}
		})
	}

	t.Run("malformed node id", func(t *testing.T) {
		c.fails(t, ada.AccessToken, nodeQuery, map[string]any{"id": "!!"}, "INVALID_INPUT", "")
	})

	t.Run("entities are filtered the same way", func(t *testing.T) {
		reps := []map[string]any{
			{"__typename": "User", "id": ada.User.ID},
			{"__typename": "User", "id": bob.User.ID},
			{"__typename": "Address", "id": adaAddr.ID},
			{"__typename": "Address", "id": bobAddr.ID},
			{"__typename": "User", "id": "garbage"},
		}
		get := func(token string) []json.RawMessage {
			r := c.do(t, token, entitiesQuery, map[string]any{"reps": reps})
			if len(r.Errors) > 0 {
				t.Fatalf("_entities errors %+v", r.Errors)
			}
			var out []json.RawMessage
			if err := json.Unmarshal(r.Data["_entities"], &out); err != nil || len(out) != len(reps) {
				t.Fatalf("_entities = %s", r.Data["_entities"])
			}
			return out
		}
		asBob := get(bob.AccessToken)
		for i, want := range []bool{false, true, false, true, false} {
			if got := string(asBob[i]) != "null"; got != want {
				t.Fatalf("bob: entity %d = %s; visible %v, want %v", i, asBob[i], got, want)
			}
		}
		if strings.Contains(string(asBob[1]), "Boston") || !strings.Contains(string(asBob[1]), "Austin") {
			t.Fatalf("bob's entity shows the wrong address book: %s", asBob[1])
		}
		asAdmin := get(admin)
		for i, want := range []bool{true, true, true, true, false} {
			if got := string(asAdmin[i]) != "null"; got != want {
				t.Fatalf("admin: entity %d = %s; visible %v, want %v", i, asAdmin[i], got, want)
			}
		}
		if !strings.Contains(string(asAdmin[0]), "Boston") || !strings.Contains(string(asAdmin[1]), "Austin") {
			t.Fatalf("admin: address books %s and %s; want Boston and Austin", asAdmin[0], asAdmin[1])
		}
	})

	t.Run("a service token alone is no one's me", func(t *testing.T) {
		c.fails(t, service, `{ me { id } }`, nil, "UNAUTHENTICATED", "")
	})
}
