package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/shopgraph/shopgraph/gateway"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

const (
	ticksQuery     = `subscription($count: Int!) { ticks(count: $count) { n product { id __typename } } }`
	userTicksQuery = `subscription($user: ID!, $count: Int!) { userTicks(userId: $user, count: $count) { n userId } }`
	feedQuery      = `subscription { feed { n } }`
)

// TestSubscriptionEvents: through each protocol, the events of a ticker
// arrive in order, none missing or repeated, then complete.
func TestSubscriptionEvents(t *testing.T) {
	t.Parallel()
	e := newSubEnv(t)
	const count = 50
	vars := map[string]any{"count": count}

	for _, tc := range []struct {
		name string
		run  func(t *testing.T) []result
	}{
		{"graphql-transport-ws", func(t *testing.T) []result {
			c := e.dial(t, transportWS)
			defer c.close()
			c.init(nil)
			c.subscribe("s1", ticksQuery, vars)
			return c.results("s1")
		}},
		{"graphql-ws (legacy)", func(t *testing.T) []result {
			c := e.dial(t, legacyWS)
			defer c.close()
			c.init(nil)
			c.subscribe("s1", ticksQuery, vars)
			rs := c.results("s1")
			if c.keepAlive == 0 {
				t.Error("no ka after connection_ack")
			}
			return rs
		}},
		{"both offered: graphql-transport-ws wins", func(t *testing.T) []result {
			c := e.dial(t, []string{"graphql-ws", "graphql-transport-ws"})
			defer c.close()
			if got := c.conn.Subprotocol(); got != "graphql-transport-ws" {
				t.Errorf("subprotocol %q", got)
			}
			c.init(nil)
			c.subscribe("s1", ticksQuery, vars)
			return c.results("s1")
		}},
		{"SSE POST", func(t *testing.T) []result {
			s, res := e.sse(t, http.MethodPost, ticksQuery, vars)
			if s == nil {
				t.Fatalf("not a stream: %d %s", res.Status, res.Raw)
			}
			return s.results()
		}},
		{"SSE GET (EventSource)", func(t *testing.T) []result {
			s, res := e.sse(t, http.MethodGet, ticksQuery, vars)
			if s == nil {
				t.Fatalf("not a stream: %d %s", res.Status, res.Raw)
			}
			return s.results()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs := tc.run(t)
			if got := tickNumbers(t, rs); !slices.Equal(got, oneToN(count)) {
				t.Fatalf("ticks %v, want 1…%d in order", got, count)
			}
			var data struct {
				Ticks struct {
					Product struct{ ID, Typename string } `json:"product"`
				} `json:"ticks"`
			}
			if err := json.Unmarshal(rs[0].Data, &data); err != nil {
				t.Fatal(err)
			}
			if data.Ticks.Product.ID != productID("p1") {
				t.Errorf("first result %s: product id missing", rs[0].Raw)
			}
		})
	}
}

// TestSubscriptionAuth: the owning service decides with the caller's token;
// a forged or expired token is refused by the gateway itself.
func TestSubscriptionAuth(t *testing.T) {
	t.Parallel()
	e := newSubEnv(t)
	alice := e.token(t, "alice")
	vars := map[string]any{"user": "alice", "count": 3}
	otherKey, _ := testenv.SigningKey(t)
	forged := testenv.Token(t, otherKey, "alice", auth.RoleCustomer)
	expired := expiredToken(t, e.key, "alice")

	t.Run("own ticks with a token in connection_init", func(t *testing.T) {
		t.Parallel()
		for _, payload := range []map[string]any{
			{"Authorization": "Bearer " + alice},
			{"authToken": alice},
			{"headers": map[string]any{"Authorization": "Bearer " + alice}},
		} {
			for _, proto := range [][]string{transportWS, legacyWS} {
				c := e.dial(t, proto)
				c.init(payload)
				c.subscribe("1", userTicksQuery, vars)
				rs := c.results("1")
				c.close()
				if got := tickNumbers(t, rs); !slices.Equal(got, oneToN(3)) {
					t.Fatalf("%v %v: ticks %v", proto, payload, got)
				}
				if !strings.Contains(rs[0].Raw, `"userId":"alice"`) {
					t.Errorf("result %s", rs[0].Raw)
				}
			}
		}
	})
	t.Run("own ticks with the token on the upgrade request", func(t *testing.T) {
		t.Parallel()
		c := e.dial(t, transportWS, "Authorization: Bearer "+alice)
		defer c.close()
		c.init(nil)
		c.subscribe("1", userTicksQuery, vars)
		if got := tickNumbers(t, c.results("1")); !slices.Equal(got, oneToN(3)) {
			t.Fatalf("ticks %v", got)
		}
	})
	t.Run("own ticks over SSE", func(t *testing.T) {
		t.Parallel()
		s, res := e.sse(t, http.MethodPost, userTicksQuery, vars, "Authorization: Bearer "+alice)
		if s == nil {
			t.Fatalf("not a stream: %d %s", res.Status, res.Raw)
		}
		if got := tickNumbers(t, s.results()); !slices.Equal(got, oneToN(3)) {
			t.Fatalf("ticks %v", got)
		}
	})

	// The service refuses: its error reaches the client as an error message
	// with its code.
	for _, tc := range []struct {
		name, token, code string
	}{
		{"no token", "", "UNAUTHENTICATED"},
		{"another user's ticks", e.token(t, "mallory"), "FORBIDDEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var init map[string]any
			var headers []string
			if tc.token != "" {
				init = map[string]any{"Authorization": "Bearer " + tc.token}
				headers = []string{"Authorization: Bearer " + tc.token}
			}
			for _, proto := range [][]string{transportWS, legacyWS} {
				c := e.dial(t, proto)
				c.init(init)
				c.subscribe("1", userTicksQuery, vars)
				errs := c.expect("error", "1").errs(t)
				if len(errs) != 1 || errs[0].Ext["code"] != tc.code || errs[0].Ext["service"] != "ticker" {
					t.Errorf("%v: errors %+v, want one %s from ticker", proto, errs, tc.code)
				}
				// The connection stays usable.
				c.subscribe("2", ticksQuery, map[string]any{"count": 1})
				if got := tickNumbers(t, c.results("2")); !slices.Equal(got, []int{1}) {
					t.Errorf("%v: after the refusal: %v", proto, got)
				}
				c.close()
			}
			s, res := e.sse(t, http.MethodPost, userTicksQuery, vars, headers...)
			if s == nil {
				t.Fatalf("SSE: not a stream: %d %s", res.Status, res.Raw)
			}
			rs := s.results()
			if len(rs) != 1 || rs[0].code(0) != tc.code {
				t.Errorf("SSE: results %+v, want one with error %s", rs, tc.code)
			}
		})
	}

	// The gateway refuses a forged or expired token before anything starts.
	for _, tc := range []struct{ name, token string }{
		{"forged token", forged},
		{"expired token", expired},
		{"not a token", "hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := e.dial(t, transportWS)
			c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + tc.token}})
			if code, reason := c.closed(); code != 4403 || !strings.HasPrefix(reason, "Forbidden") {
				t.Errorf("graphql-transport-ws: closed with %d %q, want 4403 Forbidden", code, reason)
			}

			c = e.dial(t, legacyWS)
			c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authToken": tc.token}})
			m := c.read()
			var ce struct {
				Message    string
				Extensions map[string]any
			}
			_ = json.Unmarshal(m.Payload, &ce)
			if m.Type != "connection_error" || ce.Extensions["code"] != "UNAUTHENTICATED" {
				t.Errorf("graphql-ws: got %s %s, want connection_error UNAUTHENTICATED", m.Type, m.Payload)
			}
			if code, _ := c.closed(); code != 4403 {
				t.Errorf("graphql-ws: closed with %d, want 4403", code)
			}

			s, res := e.sse(t, http.MethodPost, userTicksQuery, vars, "Authorization: Bearer "+tc.token)
			if s != nil || res.Status != http.StatusUnauthorized || res.code(0) != "UNAUTHENTICATED" {
				t.Errorf("SSE: status %d %s, want 401 UNAUTHENTICATED", res.Status, res.Raw)
			}
		})
	}
	t.Run("Authorization that is not Bearer", func(t *testing.T) {
		t.Parallel()
		c := e.dial(t, transportWS)
		c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Basic YWxpY2U6cHc="}})
		if code, _ := c.closed(); code != 4403 {
			t.Errorf("closed with %d, want 4403", code)
		}
	})
}

// TestSubscriptionRefusedRequests: requests refused before any service is
// called.
func TestSubscriptionRefusedRequests(t *testing.T) {
	t.Parallel()
	e := newSubEnv(t)

	t.Run("plain POST", func(t *testing.T) {
		t.Parallel()
		res := postJSON(t, e, ticksQuery, map[string]any{"count": 2})
		if res.Status != http.StatusBadRequest || res.code(0) != "BAD_REQUEST" ||
			!strings.Contains(res.Errors[0].Message, "websocket") || !strings.Contains(res.Errors[0].Message, "text/event-stream") {
			t.Errorf("status %d %s, want 400 saying to use a websocket or SSE", res.Status, res.Raw)
		}
		if n, _ := e.feed.Subscribers(); n != 0 {
			t.Errorf("the service was called")
		}
	})

	for _, tc := range []struct {
		name, query, code, message string
	}{
		{"unknown field", `subscription { tocks(count: 1) { n } }`, "GRAPHQL_VALIDATION_FAILED", "tocks"},
		{"parse error", `subscription { ticks(count: 1) { n }`, "GRAPHQL_PARSE_FAILED", ""},
		{"two root fields", `subscription { ticks(count: 1) { n } feed { n } }`, "GRAPHQL_VALIDATION_FAILED", "one top level field"},
		{"one field twice", `subscription { a: ticks(count: 1) { n } b: ticks(count: 2) { n } }`, "GRAPHQL_VALIDATION_FAILED", "exactly one root field"},
		{"a field of another service", `subscription { ticks(count: 1) { n product { id name } } }`, "GRAPHQL_VALIDATION_FAILED", "Product.name is resolved by service catalog"},
		{"a field of another service in a fragment", `subscription { ticks(count: 1) { ...T } } fragment T on Tick { product { ... on Product { price { amount } } } }`, "GRAPHQL_VALIDATION_FAILED", "Product.price"},
		{"missing variable", `subscription($c: Int!) { ticks(count: $c) { n } }`, "GRAPHQL_VALIDATION_FAILED", "$c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := e.dial(t, transportWS)
			defer c.close()
			c.init(nil)
			c.subscribe("1", tc.query, nil)
			errs := c.expect("error", "1").errs(t)
			if len(errs) == 0 || errs[0].Ext["code"] != tc.code || !strings.Contains(errs[0].Message, tc.message) {
				t.Errorf("websocket: errors %+v, want %s mentioning %q", errs, tc.code, tc.message)
			}
			_, res := e.sse(t, http.MethodPost, tc.query, nil)
			if res.Status != http.StatusBadRequest || res.code(0) != tc.code {
				t.Errorf("SSE: %d %s, want 400 %s", res.Status, res.Raw, tc.code)
			}
		})
	}
}

// TestSubscriptionProtocolErrors: graphql-transport-ws closes the socket with
// its codes; the legacy protocol uses the same.
func TestSubscriptionProtocolErrors(t *testing.T) {
	t.Parallel()
	e := newSubEnv(t, func(c *gateway.Config) { c.Subscriptions.InitTimeout = 50 * time.Millisecond })
	sub := func(id string) map[string]any {
		return map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": feedQuery}}
	}
	for _, tc := range []struct {
		name   string
		proto  []string
		do     func(c *wsClient)
		code   websocket.StatusCode
		reason string
	}{
		{"subscribe before connection_init", transportWS, func(c *wsClient) { c.send(sub("1")) }, 4401, "Unauthorized"},
		{"legacy start before connection_init", legacyWS, func(c *wsClient) {
			c.send(map[string]any{"id": "1", "type": "start", "payload": map[string]any{"query": feedQuery}})
		}, 4401, "Unauthorized"},
		{"duplicate id", transportWS, func(c *wsClient) {
			c.init(nil)
			c.send(sub("1"))
			c.send(sub("1"))
		}, 4409, "Subscriber for 1 already exists"},
		{"garbage", transportWS, func(c *wsClient) { c.sendRaw("hello") }, 4400, "Invalid message"},
		{"garbage (legacy)", legacyWS, func(c *wsClient) { c.sendRaw(`{"id":1}`) }, 4400, "Invalid message"},
		{"unknown type", transportWS, func(c *wsClient) { c.init(nil); c.send(map[string]any{"type": "start", "id": "1"}) }, 4400, "Invalid message received: unexpected type"},
		{"subscribe without id", transportWS, func(c *wsClient) { c.init(nil); c.send(map[string]any{"type": "subscribe"}) }, 4400, "Invalid message"},
		{"two connection_init", transportWS, func(c *wsClient) {
			c.init(nil)
			c.send(map[string]any{"type": "connection_init"})
		}, 4429, "Too many initialisation requests"},
		{"connection_init payload not an object", transportWS, func(c *wsClient) {
			c.send(map[string]any{"type": "connection_init", "payload": "Bearer x"})
		}, 4400, "Invalid message"},
		{"no connection_init", transportWS, func(c *wsClient) {}, 4408, "Connection initialisation timeout"},
		{"no subprotocol", nil, func(c *wsClient) {}, 4406, "Subprotocol not acceptable"},
		{"connection_terminate (legacy)", legacyWS, func(c *wsClient) {
			c.init(nil)
			c.send(map[string]any{"type": "connection_terminate"})
		}, websocket.StatusNormalClosure, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := e.dial(t, tc.proto)
			tc.do(c)
			code, reason := c.closed()
			if code != tc.code || !strings.HasPrefix(reason, tc.reason) {
				t.Errorf("closed with %d %q, want %d %q", code, reason, tc.code, tc.reason)
			}
		})
	}

	t.Run("legacy start with an id in use replaces the operation", func(t *testing.T) {
		t.Parallel()
		c := e.dial(t, legacyWS)
		defer c.close()
		c.init(nil)
		c.subscribe("1", feedQuery, nil)
		c.subscribe("1", ticksQuery, map[string]any{"count": 2})
		if got := tickNumbers(t, c.results("1")); !slices.Equal(got, oneToN(2)) {
			t.Errorf("ticks %v", got)
		}
	})
}

// TestSubscriptionLifecycle: a client's complete stops the upstream
// subscription and frees the id; the per-connection limit; queries over the
// websocket and SSE.
func TestSubscriptionLifecycle(t *testing.T) {
	t.Parallel()
	e := newSubEnv(t, func(c *gateway.Config) { c.Subscriptions.MaxPerConnection = 2 })

	c := e.dial(t, transportWS)
	defer c.close()
	c.init(nil)
	c.subscribe("a", feedQuery, nil)
	c.subscribe("b", feedQuery, nil)
	e.waitFeedSubscribers(t, 2)
	c.subscribe("c", feedQuery, nil)
	if errs := c.expect("error", "c").errs(t); len(errs) != 1 || errs[0].Ext["code"] != "TOO_MANY_SUBSCRIPTIONS" {
		t.Errorf("third subscription: %+v, want TOO_MANY_SUBSCRIPTIONS", errs)
	}

	e.feed.Publish(time.Now())
	got := map[string]int{}
	for range 2 {
		m := c.read()
		got[m.ID] = tickNumbers(t, []result{m.result(t)})[0]
	}
	if got["a"] != 1 || got["b"] != 1 {
		t.Errorf("first tick: %v", got)
	}

	// The client completes a: the ticker loses a subscriber, a gets nothing
	// more, and the id may be used again.
	c.send(map[string]any{"id": "a", "type": "complete"})
	e.waitFeedSubscribers(t, 1)
	e.feed.Publish(time.Now())
	if m := c.expect("next", "b"); tickNumbers(t, []result{m.result(t)})[0] != 2 {
		t.Errorf("b: %s", m.Payload)
	}
	c.subscribe("a", ticksQuery, map[string]any{"count": 2})
	if got := tickNumbers(t, c.results("a")); !slices.Equal(got, oneToN(2)) {
		t.Errorf("a again: %v", got)
	}

	// A query through the websocket takes the query path: one result, then
	// complete.
	c.subscribe("q", `query { feedSubscribers products { name } }`, nil)
	rs := c.results("q")
	if len(rs) != 1 || string(rs[0].Data) != `{"feedSubscribers":1,"products":[{"name":"Phone"},{"name":"Laptop"},{"name":"Mug"}]}` {
		t.Errorf("query over websocket: %+v", rs)
	}
	c.subscribe("q2", `query { nope }`, nil)
	if errs := c.expect("error", "q2").errs(t); len(errs) != 1 || errs[0].Ext["code"] != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("invalid query over websocket: %+v", errs)
	}

	// Closing the connection ends its subscriptions upstream.
	c.close()
	e.waitFeedSubscribers(t, 0)

	s, res := e.sse(t, http.MethodPost, `{ products { name } }`, nil)
	if s == nil {
		t.Fatalf("query over SSE: %d %s", res.Status, res.Raw)
	}
	if rs := s.results(); len(rs) != 1 || !strings.Contains(string(rs[0].Data), "Laptop") {
		t.Errorf("query over SSE: %+v", rs)
	}

	// An SSE client that goes away ends its subscription upstream.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/graphql?query="+strings.ReplaceAll(feedQuery, " ", "+"), nil)
	req.Header.Set("Accept", "text/event-stream")
	sres, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	e.waitFeedSubscribers(t, 1)
	cancel()
	sres.Body.Close()
	e.waitFeedSubscribers(t, 0)
}

// TestSubscriptionUpstreamFailure: a service that is down, or that drops the
// connection mid-stream, gives the client an error, never a hang.
func TestSubscriptionUpstreamFailure(t *testing.T) {
	t.Parallel()

	t.Run("dropped mid-stream", func(t *testing.T) {
		t.Parallel()
		e := newSubEnv(t)
		c := e.dial(t, transportWS)
		defer c.close()
		c.init(nil)
		c.subscribe("1", feedQuery, nil)
		e.waitFeedSubscribers(t, 1)
		e.feed.Publish(time.Now())
		c.expect("next", "1")
		s, res := e.sse(t, http.MethodPost, feedQuery, nil)
		if s == nil {
			t.Fatalf("SSE: %d %s", res.Status, res.Raw)
		}
		e.waitFeedSubscribers(t, 2)

		e.proxy.cut()
		errs := c.expect("error", "1").errs(t)
		if len(errs) != 1 || errs[0].Ext["code"] != "UNAVAILABLE" || errs[0].Ext["service"] != "ticker" {
			t.Errorf("websocket: %+v, want UNAVAILABLE from ticker", errs)
		}
		rs := s.results()
		if len(rs) != 1 || rs[0].code(0) != "UNAVAILABLE" {
			t.Errorf("SSE: %+v, want one result with UNAVAILABLE", rs)
		}
		// The next subscription connects again.
		c.subscribe("2", ticksQuery, map[string]any{"count": 1})
		if got := tickNumbers(t, c.results("2")); !slices.Equal(got, []int{1}) {
			t.Errorf("after the failure: %v", got)
		}
		if strings.Contains(e.logs.String(), e.proxy.addr) && strings.Contains(string(errs[0].Message), e.proxy.addr) {
			t.Error("the service's address reached the client")
		}
	})

	t.Run("down", func(t *testing.T) {
		t.Parallel()
		e := newSubEnv(t)
		e.ticker.Stop()
		for _, proto := range [][]string{transportWS, legacyWS} {
			c := e.dial(t, proto)
			c.init(nil)
			c.subscribe("1", ticksQuery, map[string]any{"count": 1})
			errs := c.expect("error", "1").errs(t)
			if len(errs) != 1 || errs[0].Ext["code"] != "UNAVAILABLE" || errs[0].Message != "service ticker is unavailable" {
				t.Errorf("%v: %+v, want UNAVAILABLE", proto, errs)
			}
			c.close()
		}
		s, res := e.sse(t, http.MethodPost, ticksQuery, map[string]any{"count": 1})
		if s == nil {
			t.Fatalf("SSE: %d %s", res.Status, res.Raw)
		}
		if rs := s.results(); len(rs) != 1 || rs[0].code(0) != "UNAVAILABLE" {
			t.Errorf("SSE: %+v", rs)
		}
	})
}

// TestSubscriptionKeepAlive: each protocol's keep-alive reaches idle
// clients.
func TestSubscriptionKeepAlive(t *testing.T) {
	t.Parallel()
	e := newSubEnv(t, func(c *gateway.Config) { c.Subscriptions.KeepAlive = 20 * time.Millisecond })

	for _, tc := range []struct {
		proto []string
		want  string
	}{{transportWS, "ping"}, {legacyWS, "ka"}} {
		c := e.dial(t, tc.proto)
		c.init(nil)
		c.subscribe("1", feedQuery, nil)
		seen := 0
		for seen < 3 {
			m, err := c.readAny()
			if err != nil {
				t.Fatalf("%v: %v", tc.proto, err)
			}
			if m.Type != tc.want {
				t.Fatalf("%v: got %s, want %s", tc.proto, m.Type, tc.want)
			}
			seen++
		}
		c.close()
	}

	s, res := e.sse(t, http.MethodPost, feedQuery, nil)
	if s == nil {
		t.Fatalf("SSE: %d %s", res.Status, res.Raw)
	}
	for range 3 {
		ev, err := s.next()
		if err != nil || !ev.Comment {
			t.Fatalf("SSE: %+v %v, want a comment", ev, err)
		}
	}
}

// TestSubscriptionShutdown: shutting down closes websockets with 1001 and
// ends SSE streams, and refuses new subscriptions; an http.Server's
// Shutdown does the same by itself.
func TestSubscriptionShutdown(t *testing.T) {
	t.Parallel()

	t.Run("Gateway.Shutdown", func(t *testing.T) {
		t.Parallel()
		e := newSubEnv(t)
		ws := e.dial(t, transportWS)
		ws.init(nil)
		ws.subscribe("1", feedQuery, nil)
		legacy := e.dial(t, legacyWS)
		legacy.init(nil)
		legacy.subscribe("1", feedQuery, nil)
		s, res := e.sse(t, http.MethodPost, feedQuery, nil)
		if s == nil {
			t.Fatalf("SSE: %d %s", res.Status, res.Raw)
		}
		e.waitFeedSubscribers(t, 3)

		// The clients read on, as clients do (and answer the close frame).
		codes := make(chan websocket.StatusCode, 2)
		for _, c := range []*wsClient{ws, legacy} {
			go func() {
				code, _, err := c.closeStatus()
				if err != nil {
					t.Error(err)
				}
				codes <- code
			}()
		}
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		if err := e.gw.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		for range 2 {
			if code := <-codes; code != websocket.StatusGoingAway {
				t.Errorf("closed with %d, want 1001", code)
			}
		}
		for {
			ev, err := s.next()
			if err == io.EOF {
				break
			}
			if err != nil || !ev.Comment {
				t.Fatalf("SSE after shutdown: %+v %v, want the end of the stream", ev, err)
			}
		}
		e.waitFeedSubscribers(t, 0)

		if _, res := e.sse(t, http.MethodPost, feedQuery, nil); res.Status != http.StatusServiceUnavailable {
			t.Errorf("SSE after shutdown: %d %s, want 503", res.Status, res.Raw)
		}
		c := e.dial(t, transportWS)
		if code, _ := c.closed(); code != websocket.StatusGoingAway {
			t.Errorf("websocket after shutdown: closed with %d, want 1001", code)
		}
	})

	t.Run("http.Server.Shutdown", func(t *testing.T) {
		t.Parallel()
		e := newSubEnv(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: e.gw.Handler()}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()
		e.srv.URL = "http://" + l.Addr().String() // point the helpers at it

		ws := e.dial(t, transportWS)
		ws.init(nil)
		ws.subscribe("1", feedQuery, nil)
		s, res := e.sse(t, http.MethodPost, feedQuery, nil)
		if s == nil {
			t.Fatalf("SSE: %d %s", res.Status, res.Raw)
		}
		e.waitFeedSubscribers(t, 2)

		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("http.Server.Shutdown: %v (an SSE stream kept it waiting?)", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve: %v", err)
		}
		if code, _ := ws.closed(); code != websocket.StatusGoingAway {
			t.Errorf("closed with %d, want 1001", code)
		}
		e.waitFeedSubscribers(t, 0)
	})
}

// TestSubscriptionOrigin: browsers may open a websocket from the gateway's
// own origin and from the CORS origins only.
func TestSubscriptionOrigin(t *testing.T) {
	t.Parallel()
	e := newSubEnv(t, func(c *gateway.Config) { c.CORSOrigins = []string{"https://shop.example"} })
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{e.srv.URL, true},
		{"https://shop.example", true},
		{"https://evil.example", false},
		{"http://shop.example", false},
	} {
		var headers []string
		if tc.origin != "" {
			headers = append(headers, "Origin: "+tc.origin)
		}
		c, res, err := e.tryDial(transportWS, headers...)
		if tc.ok != (err == nil) {
			t.Errorf("Origin %q: dial error %v, want ok %v", tc.origin, err, tc.ok)
		}
		if err == nil {
			c.CloseNow()
		} else if res == nil || res.StatusCode != http.StatusForbidden {
			t.Errorf("Origin %q: response %v, want 403", tc.origin, res)
		}
	}
}

// TestSubscriptionGraphiQL: GraphiQL at / sends subscriptions to the
// websocket on /graphql of the host it was loaded from (ws: or wss: as the
// page was loaded over http: or https:), with the graphql-ws client.
func TestSubscriptionGraphiQL(t *testing.T) {
	t.Parallel()
	e := newSubEnv(t)
	get := func(path string) string {
		res, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	page := get("/")
	script := get("/graphiql/graphiql.js")
	for _, want := range []struct{ where, text string }{
		{page, `data-endpoint="/graphql"`},
		{script, `"https:"?"wss:":"ws:"`},
		{script, "graphql-transport-ws"},
	} {
		if !strings.Contains(want.where, want.text) {
			t.Errorf("GraphiQL lacks %s", want.text)
		}
	}
}

// postJSON posts a query to the gateway as a plain GraphQL request.
func postJSON(t *testing.T, e *subEnv, query string, vars map[string]any) result {
	t.Helper()
	ee := &env{srv: e.srv}
	return ee.query(t, query, vars)
}

// expiredToken is a customer token of userID that expired long ago.
func expiredToken(t *testing.T, key jwk.Key, userID string) string {
	t.Helper()
	s, err := auth.NewSigner(key, time.Minute, func() time.Time { return time.Now().Add(-time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Issue(auth.Identity{UserID: userID, Role: auth.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
