package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/shopgraph/shopgraph/gateway"
	"github.com/shopgraph/shopgraph/gateway/internal/fixture"
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

// upgrades counts the websocket connections a fixture service received.
func upgrades(s *fixture.Server) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			n++
		}
	}
	return n
}

// TestSubscriptionPool: client subscriptions share a few upstream
// connections, each operation with its own caller's identity.
func TestSubscriptionPool(t *testing.T) {
	t.Parallel()

	t.Run("connections", func(t *testing.T) {
		t.Parallel()
		e := newSubEnv(t)
		gateway.SetUpstreamOpsPerConn(e.gw, 4)
		const clients, perClient = 5, 2
		var cs []*wsClient
		for i := range clients {
			c := e.dial(t, transportWS)
			defer c.close()
			c.init(nil)
			for j := range perClient {
				c.subscribe(fmt.Sprint(i, "-", j), feedQuery, nil)
			}
			cs = append(cs, c)
		}
		e.waitFeedSubscribers(t, clients*perClient)
		// 10 operations, at most 4 on a connection: 3 connections.
		if n := upgrades(e.ticker); n != 3 {
			t.Errorf("%d upstream connections for %d subscriptions, want 3", n, clients*perClient)
		}
		e.feed.Publish(time.Now())
		for i, c := range cs {
			got := map[string]int{}
			for range perClient {
				m := c.read()
				if m.Type != "next" {
					t.Fatalf("client %d: %s %s", i, m.Type, m.Payload)
				}
				got[m.ID] = tickNumbers(t, []result{m.result(t)})[0]
			}
			if len(got) != perClient || got[fmt.Sprint(i, "-0")] != 1 || got[fmt.Sprint(i, "-1")] != 1 {
				t.Errorf("client %d: %v", i, got)
			}
		}
		// A client's complete stops that operation alone.
		cs[0].send(map[string]any{"id": "0-0", "type": "complete"})
		e.waitFeedSubscribers(t, clients*perClient-1)
		e.feed.Publish(time.Now())
		if m := cs[0].expect("next", "0-1"); tickNumbers(t, []result{m.result(t)})[0] != 2 {
			t.Errorf("0-1: %s", m.Payload)
		}
		// Clients that leave end their operations; idle connections close,
		// and the next subscription opens one again.
		for _, c := range cs {
			c.close()
		}
		e.waitFeedSubscribers(t, 0)
		c := e.dial(t, transportWS)
		defer c.close()
		c.init(nil)
		c.subscribe("1", ticksQuery, map[string]any{"count": 1})
		if got := tickNumbers(t, c.results("1")); len(got) != 1 {
			t.Errorf("after: %v", got)
		}
		if n := upgrades(e.ticker); n < 4 {
			t.Errorf("%d upstream connections in all, want a new one", n)
		}
	})

	t.Run("identities", func(t *testing.T) {
		t.Parallel()
		e := newSubEnv(t)
		alice, bob := e.token(t, "alice"), e.token(t, "bob")
		ca := e.dial(t, transportWS)
		defer ca.close()
		ca.init(map[string]any{"Authorization": "Bearer " + alice})
		cb := e.dial(t, transportWS, "Authorization: Bearer "+bob)
		defer cb.close()
		cb.init(nil)
		anon := e.dial(t, transportWS)
		defer anon.close()
		anon.init(nil)
		// Hold one feed subscription open so that every operation shares
		// one upstream connection.
		anon.subscribe("feed", feedQuery, nil)
		e.waitFeedSubscribers(t, 1)

		const count = 3
		ca.subscribe("1", userTicksQuery, map[string]any{"user": "alice", "count": count})
		cb.subscribe("1", userTicksQuery, map[string]any{"user": "bob", "count": count})
		anon.subscribe("3", userTicksQuery, map[string]any{"user": "alice", "count": count})
		for _, tc := range []struct {
			c    *wsClient
			user string
		}{{ca, "alice"}, {cb, "bob"}} {
			rs := tc.c.results("1")
			if len(rs) != count {
				t.Fatalf("%s: %+v", tc.user, rs)
			}
			for _, r := range rs {
				var d struct{ UserTicks struct{ UserID string } }
				if err := json.Unmarshal(r.Data, &d); err != nil || d.UserTicks.UserID != tc.user {
					t.Errorf("%s got %s", tc.user, r.Raw)
				}
			}
		}
		cb.subscribe("2", userTicksQuery, map[string]any{"user": "alice", "count": count})
		if errs := cb.expect("error", "2").errs(t); len(errs) != 1 || errs[0].Ext["code"] != "FORBIDDEN" {
			t.Errorf("bob following alice: %+v", errs)
		}
		if errs := anon.expect("error", "3").errs(t); len(errs) != 1 || errs[0].Ext["code"] != "UNAUTHENTICATED" {
			t.Errorf("anonymous following alice: %+v", errs)
		}
		if n := upgrades(e.ticker); n != 1 {
			t.Errorf("%d upstream connections, want 1", n)
		}
		for _, r := range e.ticker.Requests() {
			if r.Header.Get("Authorization") != "" {
				t.Errorf("a pooled connection carries a token: %v", r.Header)
			}
		}
	})
}
