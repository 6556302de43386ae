package notifications_test

import (
	"encoding/json"
	"testing"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// twoUsers gives ada three notifications (welcome, confirmed, shipped) and
// bob one, all delivered, and returns their tokens and logs.
func twoUsers(t *testing.T, e *env) (adaTok, bobTok string, ada, bob []notificationJSON) {
	t.Helper()
	adaID, bobID := "ada-"+testenv.ID(), "bob-"+testenv.ID()
	e.publish(t, contract.UserEvents, registered(t, adaID, "ada@example.com", "Ada"))
	adaTok, bobTok = e.token(t, adaID), e.token(t, bobID)
	e.settled(t, adaTok, 1)
	for _, status := range []string{"CONFIRMED", "SHIPPED"} {
		e.publish(t, contract.OrderEvents, statusChanged(t, contract.OrderStatusChanged{
			OrderID: orderID, CustomerID: adaID, Email: "ada@example.com", Status: status}))
		// One at a time, so that their creation times differ.
		e.smtp.Wait(t, len(e.smtp.Mails())+1)
	}
	e.publish(t, contract.OrderEvents, statusChanged(t, contract.OrderStatusChanged{
		OrderID: "0191b7a2-5d1e-7c3a-9f00-00000000b002", CustomerID: bobID, Email: "bob@example.com", Status: "CONFIRMED"}))
	return adaTok, bobTok, e.settled(t, adaTok, 3), e.settled(t, bobTok, 1)
}

func TestMyNotificationsListsOwnOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	adaTok, _, ada, bob := twoUsers(t, e)
	kinds := []string{ada[0].Kind, ada[1].Kind, ada[2].Kind}
	if kinds[0] != "ORDER_SHIPPED" || kinds[1] != "ORDER_CONFIRMED" || kinds[2] != "WELCOME" {
		t.Errorf("ada's notifications %v; want newest first: shipped, confirmed, welcome", kinds)
	}
	for _, n := range ada {
		if n.Recipient != "ada@example.com" || n.ID == bob[0].ID {
			t.Errorf("ada sees %+v", n)
		}
	}
	if bob[0].Recipient != "bob@example.com" {
		t.Errorf("bob sees %+v", bob[0])
	}

	// Page by page, with cursors.
	var ids []string
	vars := map[string]any{"first": 2}
	for page := 0; ; page++ {
		c := e.list(t, adaTok, vars)
		for _, ed := range c.Edges {
			ids = append(ids, ed.Node.ID)
		}
		if c.PageInfo.HasPreviousPage != (page > 0) {
			t.Errorf("page %d: hasPreviousPage %v", page, c.PageInfo.HasPreviousPage)
		}
		if !c.PageInfo.HasNextPage {
			break
		}
		if page > 3 || c.PageInfo.EndCursor == nil {
			t.Fatalf("paging does not end: %+v", c.PageInfo)
		}
		vars["after"] = *c.PageInfo.EndCursor
	}
	if len(ids) != 3 || ids[0] != ada[0].ID || ids[1] != ada[1].ID || ids[2] != ada[2].ID {
		t.Errorf("pages gave %v, want %v %v %v", ids, ada[0].ID, ada[1].ID, ada[2].ID)
	}
	if c := e.list(t, adaTok, map[string]any{"first": 0}); len(c.Edges) != 0 {
		t.Errorf("first: 0 gave %d", len(c.Edges))
	}
}

func TestMyNotificationsRejectsBadArguments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	tok := e.token(t, "user-"+testenv.ID())
	const q = `query($first: Int, $after: String) { myNotifications(first: $first, after: $after) { edges { cursor } } }`
	tests := []struct {
		name  string
		token string
		vars  map[string]any
		code  string
		field string
	}{
		{"not signed in", "", nil, "UNAUTHENTICATED", ""},
		{"first too large", tok, map[string]any{"first": 101}, "INVALID_INPUT", "first"},
		{"first negative", tok, map[string]any{"first": -1}, "INVALID_INPUT", "first"},
		{"malformed cursor", tok, map[string]any{"after": "not-a-cursor"}, "INVALID_INPUT", "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e.fails(t, tt.token, q, tt.vars, tt.code, tt.field)
		})
	}
}

// TestNotificationByNode: a user reads their own notification by node;
// another user gets null; an administrator reads any.
func TestNotificationByNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	adaTok, bobTok, ada, _ := twoUsers(t, e)
	id := ada[0].ID
	const q = `query($id: ID!) { node(id: $id) { id ... on Notification { kind recipient order { id } } } }`
	node := func(token string) map[string]any {
		var out struct{ Node map[string]any }
		e.ok(t, token, q, map[string]any{"id": id}, &out)
		return out.Node
	}
	tests := []struct {
		name    string
		token   string
		visible bool
	}{
		{"the recipient", adaTok, true},
		{"another customer", bobTok, false},
		{"an administrator", e.admin, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := node(tt.token)
			if !tt.visible {
				if got != nil {
					t.Fatalf("sees %v", got)
				}
				return
			}
			if got == nil || got["id"] != id || got["kind"] != "ORDER_SHIPPED" || got["recipient"] != "ada@example.com" {
				t.Fatalf("node %v", got)
			}
			if o := got["order"].(map[string]any); o["id"] != orderGID(orderID) {
				t.Errorf("order %v", o)
			}
		})
	}
	e.fails(t, "", q, map[string]any{"id": id}, "UNAUTHENTICATED", "")
	e.fails(t, adaTok, q, map[string]any{"id": "%%%"}, "INVALID_INPUT", "id")

	// Stubs of the types owned elsewhere.
	for _, other := range []string{gid.Encode("Order", orderID), gid.Encode("User", "u1")} {
		var out struct{ Node map[string]any }
		e.ok(t, adaTok, `query($id: ID!) { node(id: $id) { id __typename } }`, map[string]any{"id": other}, &out)
		if out.Node["id"] != other {
			t.Errorf("node(%s) = %v", other, out.Node)
		}
	}
	var none struct{ Node map[string]any }
	e.ok(t, adaTok, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": gid.Encode("Notification", "nope")}, &none)
	if none.Node != nil {
		t.Errorf("an unknown notification: %v", none.Node)
	}
}

// TestEntities: the federation lookup resolves a list of notifications in
// one call, each visible only to its recipient.
func TestEntities(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	adaTok, _, ada, bob := twoUsers(t, e)
	reps := []map[string]any{
		{"__typename": "Notification", "id": ada[0].ID},
		{"__typename": "Notification", "id": bob[0].ID},
		{"__typename": "Notification", "id": ada[2].ID},
		{"__typename": "Notification", "id": gid.Encode("Order", "x")},
	}
	var out struct {
		Entities []json.RawMessage `json:"_entities"`
	}
	e.ok(t, adaTok, `query($r: [_Any!]!) { _entities(representations: $r) { ... on Notification { id kind } } }`,
		map[string]any{"r": reps}, &out)
	if len(out.Entities) != 4 {
		t.Fatalf("%d entities", len(out.Entities))
	}
	want := []string{`{"id":"` + ada[0].ID + `","kind":"ORDER_SHIPPED"}`, `null`, `{"id":"` + ada[2].ID + `","kind":"WELCOME"}`, `null`}
	for i, w := range want {
		if string(out.Entities[i]) != w {
			t.Errorf("entity %d = %s, want %s", i, out.Entities[i], w)
		}
	}
}
