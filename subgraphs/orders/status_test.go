package orders_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/subgraphs/orders"
	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
)

// The transports a subscription can use.
const (
	transportWS       = "graphql-transport-ws"
	legacyWS          = "graphql-ws"
	serverSentEvents  = "sse"
	watchOrder        = `subscription($id: ID!) { orderStatusChanged(orderId: $id) { order { id status } status previousStatus reason at } }`
	watchMine         = `subscription { myOrderUpdates { order { id status } status previousStatus reason at } }`
	watchOrderNoOrder = `subscription($id: ID!) { orderStatusChanged(orderId: $id) { status previousStatus reason at } }`
	watchMineNoOrder  = `subscription { myOrderUpdates { status previousStatus reason at } }`
)

// live is a subscription as a client sees it.
type live struct {
	t *testing.T
	// read returns the next payload; ok is false once the server completed
	// the operation.
	read  func(ctx context.Context) (r response, ok bool, err error)
	close func()
}

// subscribe starts query over transport as the holder of token ("" for
// none).
func (e *env) subscribe(t *testing.T, transport, token, query string, vars map[string]any) *live {
	t.Helper()
	if transport == serverSentEvents {
		return e.subscribeSSE(t, token, query, vars)
	}
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	c, _, err := websocket.Dial(ctx, e.url+"/graphql", &websocket.DialOptions{Subprotocols: []string{transport}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { _ = c.CloseNow() })
	init := map[string]any{"type": "connection_init"}
	if token != "" {
		init["payload"] = map[string]any{"Authorization": "Bearer " + token}
	}
	if err := wsjson.Write(ctx, c, init); err != nil {
		t.Fatal(err)
	}
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, c, &m); err != nil {
			t.Fatalf("connection_init: %v", err)
		}
		if m.Type == "connection_ack" {
			break
		}
		if m.Type != "ka" && m.Type != "ping" {
			t.Fatalf("connection_init: got %s %s", m.Type, m.Payload)
		}
	}
	start := "subscribe"
	if transport == legacyWS {
		start = "start"
	}
	err = wsjson.Write(ctx, c, map[string]any{"id": "1", "type": start, "payload": map[string]any{"query": query, "variables": vars}})
	if err != nil {
		t.Fatal(err)
	}
	l := &live{t: t, close: func() { _ = c.Close(websocket.StatusNormalClosure, "") }}
	l.read = func(ctx context.Context) (response, bool, error) {
		for {
			var m wsMessage
			if err := wsjson.Read(ctx, c, &m); err != nil {
				return response{}, false, err
			}
			var r response
			switch m.Type {
			case "next", "data":
				err := json.Unmarshal(m.Payload, &r)
				return r, true, err
			case "error":
				// graphql-transport-ws sends a list of errors, graphql-ws one.
				if err := json.Unmarshal(m.Payload, &r.Errors); err != nil {
					var one gqlError
					err = json.Unmarshal(m.Payload, &one)
					r.Errors = []gqlError{one}
					return r, true, err
				}
				return r, true, nil
			case "complete":
				return response{}, false, nil
			case "ping":
				_ = wsjson.Write(ctx, c, map[string]any{"type": "pong"})
			}
		}
	}
	return l
}

type wsMessage struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

func (e *env) subscribeSSE(t *testing.T, token, query string, vars map[string]any) *live {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("SSE answered %s with %s", res.Status, ct)
	}
	type event struct {
		r   response
		ok  bool
		err error
	}
	events := make(chan event)
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 64<<20)
		var name, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data += strings.TrimPrefix(line, "data: ")
			case line == "" && name != "":
				ev := event{ok: name == "next"}
				if ev.ok {
					ev.err = json.Unmarshal([]byte(data), &ev.r)
				}
				select {
				case events <- ev:
				case <-ctx.Done():
					return
				}
				name, data = "", ""
			}
		}
		select {
		case events <- event{err: fmt.Errorf("stream ended: %v", sc.Err())}:
		case <-ctx.Done():
		}
	}()
	return &live{t: t, close: cancel, read: func(rctx context.Context) (response, bool, error) {
		select {
		case ev := <-events:
			return ev.r, ev.ok, ev.err
		case <-rctx.Done():
			return response{}, false, rctx.Err()
		}
	}}
}

// next returns the next payload, failing the test if the operation ended.
func (l *live) next() response {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	r, ok, err := l.read(ctx)
	if err != nil || !ok {
		l.t.Fatalf("subscription ended (%v)", err)
	}
	return r
}

// subscribed waits until the service has n subscriptions open: a
// subscription to myOrderUpdates sends nothing until a change, so a test
// cannot otherwise tell when it is in place.
func (e *env) subscribed(t *testing.T, n int) {
	t.Helper()
	eventually(t, func() bool { return e.svc.Status.Stats().Subscribers == n },
		func() string { return fmt.Sprintf("%+v, want %d subscribers", e.svc.Status.Stats(), n) })
}

// update is an OrderStatusUpdate as a client receives it.
type update struct {
	Order struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"order"`
	Status         string    `json:"status"`
	PreviousStatus *string   `json:"previousStatus"`
	Reason         *string   `json:"reason"`
	At             time.Time `json:"at"`
}

// String is "STATUS<PREVIOUS" (PREVIOUS empty for null).
func (u update) String() string {
	p := ""
	if u.PreviousStatus != nil {
		p = *u.PreviousStatus
	}
	return u.Status + "<" + p
}

// updates returns the next n updates (of the field orderStatusChanged or
// myOrderUpdates).
// completes fails unless the server completes the operation next.
func (l *live) completes() {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	r, ok, err := l.read(ctx)
	if err != nil || ok {
		l.t.Fatalf("got %+v (%v), want the subscription completed", r, err)
	}
}

func (l *live) updates(n int) []update {
	l.t.Helper()
	out := make([]update, n)
	for i := range out {
		r := l.next()
		for _, f := range []string{"orderStatusChanged", "myOrderUpdates"} {
			if _, ok := r.Data[f]; ok {
				r.into(l.t, f, &out[i])
			}
		}
		if out[i].Status == "" {
			l.t.Fatalf("update %d: %+v", i, r)
		}
	}
	return out
}

func strs(us []update) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.String()
	}
	return out
}

// publish publishes a status change on the status channel, as the
// orders service does.
func (e *env) publish(t *testing.T, c order.StatusChanged) {
	t.Helper()
	b, _ := json.Marshal(c)
	if err := e.rdb.Publish(context.Background(), e.prefix+orders.StatusChannel, b).Err(); err != nil {
		t.Fatal(err)
	}
}

// change returns a status change of the order with global ID id.
func change(id, customer string, version int, previous, status order.Status) order.StatusChanged {
	key, _ := gid.DecodeAs(id, "Order")
	return order.StatusChanged{OrderStatusChanged: contract.OrderStatusChanged{
		OrderID: key, CustomerID: customer, Status: string(status), Previous: string(previous), At: time.Now().UTC(),
	}, Version: version}
}

// place places an order of customer for one MUG and returns it once its
// placement was published on the status channel (so that the published
// PENDING comes before any subscription of the test).
func (e *env) place(t *testing.T, customer, key string) orderJSON {
	t.Helper()
	sub := e.rdb.Subscribe(context.Background(), e.prefix+orders.StatusChannel)
	defer sub.Close()
	if _, err := sub.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	tok := e.token(t, customer, "CUSTOMER")
	e.fill(t, tok, map[string]int{"MUG": 1})
	var o orderJSON
	e.do(t, tok, placeOrder, map[string]any{"in": checkout(key, "tok_visa")}).into(t, "placeOrder", &o)
	k, _ := gid.DecodeAs(o.ID, "Order")
	deadline := time.After(settle)
	for {
		select {
		case m := <-sub.Channel():
			if strings.Contains(m.Payload, k) {
				return o
			}
		case <-deadline:
			t.Fatalf("the placement of %s was not published", o.ID)
		}
	}
}

func TestOrderStatusThroughTheSaga(t *testing.T) {
	t.Parallel()
	w := newWorld(t, newCatalog(variant("MUG", usd(1250))), func(c *orders.Config) { c.StepTimeout = time.Minute })
	w.stock("MUG", 5)
	w.start("orders") // inventory and payments wait, so the order stays PENDING
	placed := w.place(t, "ann", "key-live-0001")
	ann := w.token(t, "ann", "CUSTOMER")
	vars := map[string]any{"id": placed.ID}

	subs := map[string]*live{
		transportWS:      w.subscribe(t, transportWS, ann, watchOrder, vars),
		legacyWS:         w.subscribe(t, legacyWS, ann, watchOrder, vars),
		serverSentEvents: w.subscribe(t, serverSentEvents, ann, watchOrder, vars),
	}
	for name, l := range subs {
		u := l.updates(1)[0]
		if u.String() != "PENDING<" || u.Order.ID != placed.ID || u.Order.Status != "PENDING" || u.Reason != nil {
			t.Errorf("%s: first update %+v, want the current status PENDING", name, u)
		}
	}
	mine := w.subscribe(t, transportWS, ann, watchMine, nil)
	bob := w.subscribe(t, transportWS, w.token(t, "bob", "CUSTOMER"), watchMineNoOrder, nil)
	w.subscribed(t, 5)

	// Every status change the saga publishes is captured, to publish again.
	raw := w.rdb.Subscribe(context.Background(), w.prefix+orders.StatusChannel)
	defer raw.Close()
	if _, err := raw.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.start("inventory", "payments")
	want := []string{"AWAITING_PAYMENT<PENDING", "CONFIRMED<AWAITING_PAYMENT"}
	for name, l := range subs {
		if got := strs(l.updates(2)); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	got := mine.updates(2)
	if !slices.Equal(strs(got), want) || got[1].Order.ID != placed.ID || got[1].Order.Status != "CONFIRMED" {
		t.Errorf("myOrderUpdates: got %+v, want %v", got, want)
	}

	// The published changes again (pub/sub is at least once), then a new
	// one: only the new one is delivered.
	var published []string
	for len(published) < 2 {
		select {
		case m := <-raw.Channel():
			published = append(published, m.Payload)
		case <-time.After(settle):
			t.Fatalf("published %v", published)
		}
	}
	for _, p := range append(published, published...) {
		if err := w.rdb.Publish(context.Background(), w.prefix+orders.StatusChannel, p).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if r := w.do(t, ann, `mutation($id: ID!) { cancelOrder(id: $id, reason: "changed my mind") { status } }`, vars); len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	for name, l := range subs {
		u := l.updates(1)[0]
		if u.String() != "CANCELLED<CONFIRMED" || u.Reason == nil || !strings.Contains(*u.Reason, "changed my mind") {
			t.Errorf("%s: then %+v, want only CANCELLED", name, u)
		}
		// CANCELLED is final: the subscription to the order completes.
		l.completes()
	}
	if u := mine.updates(1)[0]; u.String() != "CANCELLED<CONFIRMED" {
		t.Errorf("myOrderUpdates: then %+v", u)
	}
	// Bob saw nothing of Ann's order: his first update is his own.
	w.publish(t, change(gid.Encode("Order", "00000000-0000-7000-8000-0000000000b0"), "bob", 1, "", order.StatusPending))
	if u := bob.updates(1)[0]; !strings.HasSuffix(u.String(), "PENDING<") {
		t.Errorf("bob got %+v first", u)
	}
}

func TestOrderStatusRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newCatalog(variant("MUG", usd(1250))), nil)
	e.run(t)
	placed := e.place(t, "ann", "key-refused-01")
	cases := []struct {
		name      string
		transport string
		token     string
		query     string
		id        string
		code      string
	}{
		{name: "another customer's order", transport: transportWS, token: e.token(t, "bob", "CUSTOMER"), query: watchOrder, id: placed.ID, code: "NOT_FOUND"},
		{name: "another customer's order, legacy protocol", transport: legacyWS, token: e.token(t, "bob", "CUSTOMER"), query: watchOrder, id: placed.ID, code: "NOT_FOUND"},
		{name: "another customer's order over SSE", transport: serverSentEvents, token: e.token(t, "bob", "CUSTOMER"), query: watchOrder, id: placed.ID, code: "NOT_FOUND"},
		{name: "no such order", transport: transportWS, token: e.token(t, "ann", "CUSTOMER"), query: watchOrder, id: gid.Encode("Order", "00000000-0000-7000-8000-000000000000"), code: "NOT_FOUND"},
		{name: "not an order ID", transport: transportWS, token: e.token(t, "ann", "CUSTOMER"), query: watchOrder, id: gid.Encode("Cart", "ann"), code: "INVALID_INPUT"},
		{name: "no token", transport: transportWS, query: watchOrder, id: placed.ID, code: "UNAUTHENTICATED"},
		{name: "no token, legacy protocol", transport: legacyWS, query: watchOrder, id: placed.ID, code: "UNAUTHENTICATED"},
		{name: "no token over SSE", transport: serverSentEvents, query: watchOrder, id: placed.ID, code: "UNAUTHENTICATED"},
		{name: "my orders without a token", transport: transportWS, query: watchMine, code: "UNAUTHENTICATED"},
		{name: "my orders without a token over SSE", transport: serverSentEvents, query: watchMine, code: "UNAUTHENTICATED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var vars map[string]any
			if tc.id != "" {
				vars = map[string]any{"id": tc.id}
			}
			r := e.subscribe(t, tc.transport, tc.token, tc.query, vars).next()
			if r.code() != tc.code || len(r.Data["orderStatusChanged"]) > 0 && string(r.Data["orderStatusChanged"]) != "null" {
				t.Errorf("got %+v, want %s", r, tc.code)
			}
		})
	}

	t.Run("an administrator watches any order", func(t *testing.T) {
		t.Parallel()
		l := e.subscribe(t, transportWS, e.token(t, "root", "ADMIN"), watchOrder, map[string]any{"id": placed.ID})
		if u := l.updates(1)[0]; u.String() != "PENDING<" || u.Order.ID != placed.ID {
			t.Errorf("got %+v", u)
		}
	})
}

func TestOrderStatusRepeatedEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newCatalog(variant("MUG", usd(1250))), nil)
	e.run(t)
	placed := e.place(t, "ann", "key-repeat-01")
	ann := e.token(t, "ann", "CUSTOMER")
	l := e.subscribe(t, transportWS, ann, watchOrder, map[string]any{"id": placed.ID})
	mine := e.subscribe(t, legacyWS, ann, watchMine, nil)
	if u := l.updates(1)[0]; u.String() != "PENDING<" {
		t.Fatalf("first %v", u)
	}
	e.subscribed(t, 2)
	for _, c := range []order.StatusChanged{
		change(placed.ID, "ann", 1, "", order.StatusPending), // the placement, again
		change(placed.ID, "ann", 2, order.StatusPending, order.StatusAwaitingPayment),
		change(placed.ID, "ann", 2, order.StatusPending, order.StatusAwaitingPayment),
		change(placed.ID, "ann", 1, "", order.StatusPending),
		change(placed.ID, "ann", 4, order.StatusAwaitingPayment, order.StatusConfirmed),
		change(placed.ID, "ann", 2, order.StatusPending, order.StatusAwaitingPayment),
		change(placed.ID, "ann", 4, order.StatusAwaitingPayment, order.StatusConfirmed),
		change(placed.ID, "ann", 6, order.StatusConfirmed, order.StatusShipped),
	} {
		e.publish(t, c)
	}
	want := []string{"AWAITING_PAYMENT<PENDING", "CONFIRMED<AWAITING_PAYMENT", "SHIPPED<CONFIRMED"}
	if got := strs(l.updates(3)); !slices.Equal(got, want) {
		t.Errorf("orderStatusChanged got %v, want %v", got, want)
	}
	if got := strs(mine.updates(3)); !slices.Equal(got, want) {
		t.Errorf("myOrderUpdates got %v, want %v", got, want)
	}
}

func TestOrderStatusSlowSubscriber(t *testing.T) {
	t.Parallel()
	e := newEnv(t, newCatalog(variant("MUG", usd(1250))), nil)
	e.run(t)
	placed := e.place(t, "ann", "key-slow-0001")
	ann := e.token(t, "ann", "CUSTOMER")
	vars := map[string]any{"id": placed.ID}
	slow := e.subscribe(t, transportWS, ann, watchOrderNoOrder, vars)
	fast := e.subscribe(t, transportWS, ann, watchOrderNoOrder, vars)
	slow.updates(1)
	fast.updates(1)

	// The slow client reads nothing more while far more is published than
	// the connection and its buffer can hold (16 KiB a change); each change
	// is published once the fast client has the one before.
	const changes = 1500
	reason := strings.Repeat("r", 16<<10)
	status := func(v int) order.Status {
		return order.Status([]string{"PENDING", "AWAITING_PAYMENT", "CONFIRMED"}[v%3])
	}
	for v := 2; v < 2+changes; v++ {
		c := change(placed.ID, "ann", v, status(v-1), status(v))
		c.Reason = reason
		e.publish(t, c)
		if u := fast.updates(1)[0]; u.String() != c.Status+"<"+c.Previous {
			t.Fatalf("fast client got %v for version %d", u, v)
		}
	}
	if st := e.svc.Status.Stats(); st.Overflows == 0 {
		t.Fatalf("the slow client never fell behind: %+v", st)
	}

	// The order has moved on meanwhile (as the store tells); the slow
	// client gets what was buffered, then the current status, from the
	// last one it got.
	key, _ := gid.DecodeAs(placed.ID, "Order")
	if _, err := e.pool.Exec(context.Background(), `UPDATE orders SET status = 'SHIPPED', version = $2, updated_at = now() WHERE id = $1`, key, 2+changes); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		u := slow.updates(1)[0]
		got = append(got, u.String())
		if u.Status == "SHIPPED" {
			break
		}
		if len(got) > changes {
			t.Fatalf("slow client got %d updates", len(got))
		}
	}
	for i := 1; i < len(got); i++ {
		prev := got[i-1][:strings.Index(got[i-1], "<")]
		if !strings.HasSuffix(got[i], "<"+prev) {
			t.Fatalf("slow client got %s after %s", got[i], got[i-1])
		}
	}
	if len(got) >= changes {
		t.Errorf("slow client got all %d changes: never behind", len(got))
	}
}

// dialer lets a test drop the connections of a Redis client.
type dialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

// dropSubscriber closes the client's connection that Redis lists as
// subscribed to a channel, and reports whether there was one.
func (d *dialer) dropSubscriber(t *testing.T, admin *redis.Client) bool {
	t.Helper()
	list, err := admin.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	subscribed := map[string]bool{}
	for _, line := range strings.Split(list, "\n") {
		var addr string
		sub := false
		for _, f := range strings.Fields(line) {
			if a, ok := strings.CutPrefix(f, "addr="); ok {
				addr = a
			}
			sub = sub || f == "sub=1"
		}
		subscribed[addr] = sub
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		if subscribed[c.LocalAddr().String()] {
			_ = c.Close()
			return true
		}
	}
	return false
}

func TestOrderStatusAfterReconnecting(t *testing.T) {
	t.Parallel()
	d := &dialer{}
	e := newEnv(t, newCatalog(variant("MUG", usd(1250))), func(c *orders.Config) {
		opts := *c.Redis.Options()
		opts.Dialer = d.dial
		rdb := redis.NewClient(&opts)
		t.Cleanup(func() { _ = rdb.Close() })
		c.Redis = rdb
	})
	e.run(t)
	placed := e.place(t, "ann", "key-reconnect1")
	ann := e.token(t, "ann", "CUSTOMER")
	l := e.subscribe(t, transportWS, ann, watchOrder, map[string]any{"id": placed.ID})
	mine := e.subscribe(t, transportWS, ann, watchMine, nil)
	if u := l.updates(1)[0]; u.String() != "PENDING<" {
		t.Fatalf("first %v", u)
	}
	e.subscribed(t, 2)

	// The order changes, and its publication is lost (here: it is never
	// published) while the subscription is down.
	key, _ := gid.DecodeAs(placed.ID, "Order")
	if _, err := e.pool.Exec(context.Background(), `UPDATE orders SET status = 'CANCELLED', status_reason = 'lost in the gap', version = version + 1, updated_at = now() WHERE id = $1`, key); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return d.dropSubscriber(t, e.rdb) }, func() string { return "no subscribed connection" })

	for name, l := range map[string]*live{"orderStatusChanged": l, "myOrderUpdates": mine} {
		u := l.updates(1)[0]
		want := "CANCELLED<PENDING"
		if name == "myOrderUpdates" {
			want = "CANCELLED<" // it had not reported the order before
		}
		if u.String() != want || u.Reason == nil || *u.Reason != "lost in the gap" {
			t.Errorf("%s: after reconnecting %+v, want %s", name, u, want)
		}
	}
	// CANCELLED is final: the subscription to the order completes; the
	// customer's goes on with what is published after it.
	l.completes()
	e.publish(t, change(placed.ID, "ann", 3, order.StatusCancelled, order.StatusRefunded))
	if u := mine.updates(1)[0]; u.String() != "REFUNDED<CANCELLED" {
		t.Errorf("myOrderUpdates: then %+v", u)
	}
}
