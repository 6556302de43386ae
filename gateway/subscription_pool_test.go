package gateway_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// dialService opens a graphql-transport-ws websocket straight to a fixture
// service, as the gateway does, and initialises it without a token.
func dialService(t testing.TB, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"),
		&websocket.DialOptions{Subprotocols: transportWS})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	wc := &wsClient{t: t, conn: c}
	t.Cleanup(wc.close)
	wc.init(nil)
	return wc
}

// subscribeAs subscribes with a token in the operation's extensions.
func (c *wsClient) subscribeAs(id, authorization, query string, vars map[string]any) {
	c.t.Helper()
	c.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{
		"query": query, "variables": vars, "extensions": map[string]any{"authorization": authorization},
	}})
}

// TestSubgraphOperationIdentity: a subgraph gives each operation the
// identity of the token in its extensions, overriding the connection's (here
// anonymous); an invalid one fails that operation alone.
func TestSubgraphOperationIdentity(t *testing.T) {
	t.Parallel()
	e := newSubEnv(t)
	alice, bob := e.token(t, "alice"), e.token(t, "bob")
	c := dialService(t, e.ticker.URL)

	// Anonymous connection, no token: UNAUTHENTICATED from the resolver.
	c.subscribe("anon", userTicksQuery, map[string]any{"user": "alice", "count": 1})
	if rs := c.results("anon"); len(rs) != 1 || rs[0].code(0) != "UNAUTHENTICATED" {
		t.Errorf("anonymous: %+v", rs)
	}
	// Two operations with different tokens on one connection.
	c.subscribeAs("a", "Bearer "+alice, userTicksQuery, map[string]any{"user": "alice", "count": 2})
	ra := c.results("a")
	c.subscribeAs("b", "Bearer "+bob, userTicksQuery, map[string]any{"user": "bob", "count": 2})
	rb := c.results("b")
	for _, tc := range []struct {
		user string
		rs   []result
	}{{"alice", ra}, {"bob", rb}} {
		if len(tc.rs) != 2 {
			t.Fatalf("%s: %+v", tc.user, tc.rs)
		}
		for _, r := range tc.rs {
			var d struct{ UserTicks struct{ UserID string } }
			if err := json.Unmarshal(r.Data, &d); err != nil || d.UserTicks.UserID != tc.user {
				t.Errorf("%s got %s", tc.user, r.Raw)
			}
		}
	}
	// Bob's token for Alice's ticks: FORBIDDEN.
	c.subscribeAs("x", "Bearer "+bob, userTicksQuery, map[string]any{"user": "alice", "count": 1})
	if rs := c.results("x"); len(rs) != 1 || rs[0].code(0) != "FORBIDDEN" {
		t.Errorf("bob as alice: %+v", rs)
	}
	// An invalid token, or no bearer token, fails the operation, not the
	// connection.
	for _, a := range []string{"Bearer nope", "Basic YWxpY2U6cHc="} {
		c.subscribeAs("bad", a, ticksQuery, map[string]any{"count": 1})
		if rs := c.results("bad"); len(rs) != 1 || rs[0].code(0) != "UNAUTHENTICATED" || rs[0].HasData && string(rs[0].Data) != "null" {
			t.Errorf("%q: %+v", a, rs)
		}
	}
	c.subscribe("ok", ticksQuery, map[string]any{"count": 1})
	if got := tickNumbers(t, c.results("ok")); len(got) != 1 {
		t.Errorf("after the refusals: %v", got)
	}
}
