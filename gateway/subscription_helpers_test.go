package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/shopgraph/shopgraph/gateway"
	"github.com/shopgraph/shopgraph/gateway/internal/fixture"
	ticker "github.com/shopgraph/shopgraph/gateway/internal/fixture/ticker/graph"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// patience bounds every wait of the subscription tests, so that a broken
// gateway fails a test instead of hanging it. It is not what they measure.
const patience = 20 * time.Second

// subEnv is a gateway in front of the catalog and ticker fixtures. The
// gateway reaches the ticker through a proxy that a test can cut.
type subEnv struct {
	key      jwk.Key
	verifier *auth.Verifier
	catalog  *fixture.Server
	ticker   *fixture.Server
	feed     *ticker.Resolver
	proxy    *proxy
	gw       *gateway.Gateway
	srv      *httptest.Server
	logs     *syncBuffer
}

func newSubEnv(t testing.TB, opts ...options) *subEnv {
	t.Helper()
	return newSubEnvProxied(t, true, opts...)
}

// newSubEnvProxied is newSubEnv, with the proxy between the gateway and
// the ticker or without (benchmarks: it would be a hop of its own).
func newSubEnvProxied(t testing.TB, proxied bool, opts ...options) *subEnv {
	t.Helper()
	e := &subEnv{logs: &syncBuffer{}}
	e.key, e.verifier = testenv.SigningKey(t)
	e.catalog = fixture.Catalog(t, e.verifier).Start(t)
	e.ticker, e.feed = fixture.Ticker(t, e.verifier)
	e.ticker.Start(t)
	tickerURL := e.ticker.URL
	if proxied {
		e.proxy = newProxy(t, strings.TrimSuffix(strings.TrimPrefix(e.ticker.URL, "http://"), "/graphql"))
		tickerURL = "http://" + e.proxy.addr + "/graphql"
	}
	cfg := gateway.Config{
		Services: []gateway.Service{
			{Name: "catalog", URL: e.catalog.URL},
			{Name: "ticker", URL: tickerURL},
		},
		Verifier:        e.verifier,
		UpstreamTimeout: 5 * time.Second,
		StartupTimeout:  10 * time.Second,
		Log:             slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	g, err := gateway.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	e.gw = g
	e.srv = httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		_ = g.Shutdown(ctx)
		e.srv.Close()
	})
	return e
}

// token issues a customer token for userID.
func (e *subEnv) token(t testing.TB, userID string) string {
	return testenv.Token(t, e.key, userID, auth.RoleCustomer)
}

// waitFeedSubscribers waits until the ticker's feed has n subscribers.
func (e *subEnv) waitFeedSubscribers(t testing.TB, n int) {
	t.Helper()
	deadline := time.After(patience)
	for {
		got, changed := e.feed.Subscribers()
		if got == n {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the feed has %d subscribers, want %d", got, n)
		}
	}
}

// wsMsg is a message of either websocket protocol.
type wsMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// result decodes the message's payload as an execution result.
func (m wsMsg) result(t testing.TB) result {
	t.Helper()
	var r result
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		t.Fatalf("payload of %s is not a result: %v: %s", m.Type, err, m.Payload)
	}
	r.Raw = string(m.Payload)
	return r
}

// errs decodes the message's payload as a list of errors.
func (m wsMsg) errs(t testing.TB) []gqlError {
	t.Helper()
	var errs []gqlError
	if err := json.Unmarshal(m.Payload, &errs); err != nil {
		t.Fatalf("payload of %s is not a list of errors: %v: %s", m.Type, err, m.Payload)
	}
	return errs
}

// wsClient is a websocket client of the gateway.
type wsClient struct {
	t    testing.TB
	conn *websocket.Conn
	// keepAlive are the keep-alive messages (ping, ka) read and skipped.
	keepAlive int
	legacy    bool
}

// dial opens a websocket to the gateway with the given subprotocols
// (none: no header) and headers ("Name: value").
func (e *subEnv) dial(t testing.TB, subprotocols []string, headers ...string) *wsClient {
	t.Helper()
	c, res, err := e.tryDial(subprotocols, headers...)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, res)
	}
	return &wsClient{t: t, conn: c, legacy: c.Subprotocol() == "graphql-ws"}
}

func (e *subEnv) tryDial(subprotocols []string, headers ...string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	h := http.Header{}
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ":")
		h.Set(k, strings.TrimSpace(v))
	}
	c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: subprotocols, HTTPHeader: h})
	if err == nil {
		c.SetReadLimit(16 << 20)
	}
	return c, res, err
}

var (
	transportWS = []string{"graphql-transport-ws"}
	legacyWS    = []string{"graphql-ws"}
)

func (c *wsClient) send(m any) {
	c.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
}

func (c *wsClient) sendRaw(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readAny returns the next message, keep-alives included, or the error that
// ended the connection.
func (c *wsClient) readAny() (wsMsg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		return wsMsg{}, err
	}
	var m wsMsg
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("message is not JSON: %v: %s", err, b)
	}
	return m, nil
}

// read returns the next message that is not a keep-alive.
func (c *wsClient) read() wsMsg {
	c.t.Helper()
	for {
		m, err := c.readAny()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if m.Type == "ping" || m.Type == "ka" {
			c.keepAlive++
			if m.Type == "ping" {
				c.send(wsMsg{Type: "pong"})
			}
			continue
		}
		return m
	}
}

// expect reads the next message and checks its type and id.
func (c *wsClient) expect(typ, id string) wsMsg {
	c.t.Helper()
	m := c.read()
	if m.Type != typ || m.ID != id {
		c.t.Fatalf("got %s (id %q) %s, want %s (id %q)", m.Type, m.ID, m.Payload, typ, id)
	}
	return m
}

// closed reads until the server closes the connection and returns the close
// status and reason.
func (c *wsClient) closed() (websocket.StatusCode, string) {
	c.t.Helper()
	code, reason, err := c.closeStatus()
	if err != nil {
		c.t.Fatal(err)
	}
	return code, reason
}

// closeStatus is closed for goroutines other than the test's.
func (c *wsClient) closeStatus() (websocket.StatusCode, string, error) {
	for {
		_, err := c.readAny()
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason, nil
		}
		return 0, "", fmt.Errorf("connection ended without a close frame: %w", err)
	}
}

// init sends connection_init with payload (nil: none) and reads the ack.
func (c *wsClient) init(payload any) {
	c.t.Helper()
	m := map[string]any{"type": "connection_init"}
	if payload != nil {
		m["payload"] = payload
	}
	c.send(m)
	c.expect("connection_ack", "")
}

// subscribe starts an operation with id.
func (c *wsClient) subscribe(id, query string, vars map[string]any) {
	c.t.Helper()
	typ := "subscribe"
	if c.legacy {
		typ = "start"
	}
	c.send(map[string]any{"id": id, "type": typ, "payload": map[string]any{"query": query, "variables": vars}})
}

// results reads the results of operation id until it completes.
func (c *wsClient) results(id string) []result {
	c.t.Helper()
	next := "next"
	if c.legacy {
		next = "data"
	}
	var out []result
	for {
		m := c.read()
		switch {
		case m.ID != id:
			c.t.Fatalf("message %s for id %q, want %q: %s", m.Type, m.ID, id, m.Payload)
		case m.Type == next:
			out = append(out, m.result(c.t))
		case m.Type == "complete":
			return out
		default:
			c.t.Fatalf("got %s %s, want %s or complete", m.Type, m.Payload, next)
		}
	}
}

func (c *wsClient) close() { _ = c.conn.Close(websocket.StatusNormalClosure, "") }

// sseEvent is one event of a stream; a comment has Comment set.
type sseEvent struct {
	Event   string
	Data    string
	Comment bool
}

// sseStream reads Server-Sent Events.
type sseStream struct {
	t   testing.TB
	res *http.Response
	r   *bufio.Reader
}

// sse sends req to the gateway asking for an event stream and returns the
// stream, or the response if it is not one.
func (e *subEnv) sse(t testing.TB, method, query string, vars map[string]any, headers ...string) (*sseStream, result) {
	t.Helper()
	var req *http.Request
	var err error
	if method == http.MethodGet {
		v := url.Values{"query": {query}}
		if vars != nil {
			b, _ := json.Marshal(vars)
			v.Set("variables", string(b))
		}
		req, err = http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?"+v.Encode(), nil)
	} else {
		b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, err = http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
	}
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		out := result{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("status %d, not an event stream nor JSON: %s", res.StatusCode, raw)
		}
		return nil, out
	}
	t.Cleanup(func() { res.Body.Close() })
	return &sseStream{t: t, res: res, r: bufio.NewReader(res.Body)}, result{Status: res.StatusCode, Header: res.Header}
}

// next returns the next event or comment; io.EOF when the stream ended.
func (s *sseStream) next() (sseEvent, error) {
	var ev sseEvent
	var data []string
	seen := false
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return sseEvent{}, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if seen {
				ev.Data = strings.Join(data, "\n")
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
			return sseEvent{Comment: true}, nil
		case strings.HasPrefix(line, "event:"):
			ev.Event, seen = strings.TrimSpace(strings.TrimPrefix(line, "event:")), true
		case strings.HasPrefix(line, "data:"):
			data, seen = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")), true
		}
	}
}

// results reads the stream's next events until complete, and checks that
// the stream then ends.
func (s *sseStream) results() []result {
	s.t.Helper()
	var out []result
	for {
		ev, err := s.next()
		if err != nil {
			s.t.Fatalf("stream ended before complete: %v", err)
		}
		switch {
		case ev.Comment:
		case ev.Event == "next":
			var r result
			if err := json.Unmarshal([]byte(ev.Data), &r); err != nil {
				s.t.Fatalf("next is not a result: %v: %s", err, ev.Data)
			}
			r.Raw = ev.Data
			out = append(out, r)
		case ev.Event == "complete":
			if ev, err := s.next(); err != io.EOF {
				s.t.Fatalf("after complete: %+v, %v; want the end of the stream", ev, err)
			}
			return out
		default:
			s.t.Fatalf("unexpected event %q: %s", ev.Event, ev.Data)
		}
	}
}

// proxy forwards TCP connections to a target and can cut them all.
type proxy struct {
	addr   string
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func newProxy(t testing.TB, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String(), target: target}
	t.Cleanup(func() {
		_ = l.Close()
		p.cut()
	})
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
			go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
		}
	}()
	return p
}

// cut closes every connection through the proxy.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// ticks returns the n of each result's ticks/userTicks/feed field.
func tickNumbers(t testing.TB, rs []result) []int {
	t.Helper()
	var out []int
	for _, r := range rs {
		if len(r.Errors) > 0 {
			t.Fatalf("result with errors: %s", r.Raw)
		}
		var data map[string]struct {
			N int `json:"n"`
		}
		if err := json.Unmarshal(r.Data, &data); err != nil || len(data) != 1 {
			t.Fatalf("unexpected data: %s", r.Raw)
		}
		for _, v := range data {
			out = append(out, v.N)
		}
	}
	return out
}

// oneToN is 1, 2, …, n.
func oneToN(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}
