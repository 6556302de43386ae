package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/emersion/go-smtp"

	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/notifytest"
)

// statusFeed is a live subscription as a tracking screen holds it: the
// statuses in the order they arrived, or the error that ended it.
type statusFeed struct {
	updates chan map[string]any
	errs    chan string
	// completed is closed when the server ends the subscription with
	// "complete" (websocket message or SSE event).
	completed chan struct{}
}

func newFeed() *statusFeed {
	return &statusFeed{updates: make(chan map[string]any, 100), errs: make(chan string, 10), completed: make(chan struct{})}
}

// subscribeWS subscribes over a websocket with protocol ("graphql-transport-ws"
// or the legacy "graphql-ws").
func subscribeWS(t *testing.T, s *system, protocol, token, query string, vars map[string]any) *statusFeed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	wsURL := "ws" + strings.TrimPrefix(s.URL, "http")
	opts := &websocket.DialOptions{Subprotocols: []string{protocol}}
	if s.HTTP != nil {
		// The system's transport (its CA), without the client's timeout,
		// which a websocket does not take.
		opts.HTTPClient = &http.Client{Transport: s.HTTP.Transport}
	}
	conn, _, err := websocket.Dial(ctx, wsURL, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", protocol, err)
	}
	t.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "") })
	init := map[string]any{"type": "connection_init"}
	if token != "" {
		init["payload"] = map[string]any{"Authorization": "Bearer " + token}
	}
	if err := wsjson.Write(ctx, conn, init); err != nil {
		t.Fatal(err)
	}
	start := "subscribe"
	if protocol == "graphql-ws" {
		start = "start"
	}
	f := newFeed()
	go func() {
		defer close(f.updates)
		for {
			var msg struct {
				Type    string          `json:"type"`
				ID      string          `json:"id"`
				Payload json.RawMessage `json:"payload"`
			}
			if err := wsjson.Read(ctx, conn, &msg); err != nil {
				if cs := websocket.CloseStatus(err); cs != -1 {
					f.errs <- "closed " + strconv.Itoa(int(cs))
				}
				return
			}
			switch msg.Type {
			case "connection_ack":
				_ = wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": start, "payload": map[string]any{"query": query, "variables": vars}})
			case "ping":
				_ = wsjson.Write(ctx, conn, map[string]any{"type": "pong"})
			case "next", "data":
				var p struct {
					Data   map[string]any   `json:"data"`
					Errors []map[string]any `json:"errors"`
				}
				_ = json.Unmarshal(msg.Payload, &p)
				if len(p.Errors) > 0 {
					f.errs <- errCode(p.Errors)
					continue
				}
				for _, v := range p.Data {
					f.updates <- v.(map[string]any)
				}
			case "error", "connection_error":
				var errs []map[string]any
				if json.Unmarshal(msg.Payload, &errs) != nil {
					var one map[string]any
					_ = json.Unmarshal(msg.Payload, &one)
					errs = []map[string]any{one}
				}
				f.errs <- errCode(errs)
			case "complete":
				close(f.completed)
				return
			}
		}
	}()
	return f
}

// subscribeSSE subscribes with Server-Sent Events.
func subscribeSSE(t *testing.T, s *system, token, query string, vars map[string]any) *statusFeed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := http.DefaultClient
	if s.HTTP != nil {
		hc = &http.Client{Transport: s.HTTP.Transport}
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	f := newFeed()
	if res.StatusCode != 200 {
		var r gqlResponse
		_ = json.NewDecoder(res.Body).Decode(&r)
		res.Body.Close()
		f.errs <- r.Code()
		close(f.updates)
		return f
	}
	go func() {
		defer res.Body.Close()
		defer close(f.updates)
		sc := bufio.NewScanner(res.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:") && (event == "next" || event == ""):
				var p struct {
					Data   map[string]any   `json:"data"`
					Errors []map[string]any `json:"errors"`
				}
				if json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(line, "data:"))), &p) != nil {
					continue
				}
				if len(p.Errors) > 0 {
					f.errs <- errCode(p.Errors)
					continue
				}
				for _, v := range p.Data {
					f.updates <- v.(map[string]any)
				}
			case event == "complete":
				close(f.completed)
				return
			}
		}
	}()
	return f
}

func errCode(errs []map[string]any) string {
	if len(errs) == 0 || errs[0] == nil {
		return "?"
	}
	ext, _ := errs[0]["extensions"].(map[string]any)
	if c, ok := ext["code"].(string); ok {
		return c
	}
	m, _ := errs[0]["message"].(string)
	return m
}

// collect reads statuses until want is seen (or a deadline).
func (f *statusFeed) collect(t *testing.T, until string) []string {
	t.Helper()
	var got []string
	timeout := time.After(90 * time.Second)
	for {
		select {
		case u, ok := <-f.updates:
			if !ok {
				t.Fatalf("subscription ended after %v, before %s", got, until)
			}
			got = append(got, str(u, "status"))
			if str(u, "status") == until {
				return got
			}
		case e := <-f.errs:
			t.Fatalf("subscription error %s after %v", e, got)
		case <-timeout:
			t.Fatalf("no %s after 90s; saw %v", until, got)
		}
	}
}

// firstError waits for the subscription's error code.
func (f *statusFeed) firstError(t *testing.T) string {
	t.Helper()
	select {
	case e := <-f.errs:
		return e
	case u, ok := <-f.updates:
		if !ok {
			select {
			case e := <-f.errs:
				return e
			default:
				return "ended without an error"
			}
		}
		t.Fatalf("got an update %v, want an error", u)
	case <-time.After(30 * time.Second):
		t.Fatal("no error within 30s")
	}
	return ""
}

var lifecycle = []string{"PENDING", "AWAITING_PAYMENT", "CONFIRMED", "SHIPPED", "DELIVERED"}

// isSuffixOfLifecycle reports whether got is the end of the order's life
// from some status on: in order, nothing missing, nothing repeated.
func isSuffixOfLifecycle(got []string) bool {
	for i := range lifecycle {
		if strings.Join(lifecycle[i:], ",") == strings.Join(got, ",") {
			return true
		}
	}
	return false
}

const watchOrder = `subscription($id: ID!) { orderStatusChanged(orderId: $id) { status previousStatus reason at order { id } } }`
const watchMine = `subscription { myOrderUpdates { status order { id } } }`

// TestOrderLifeLive: the whole life of an order through the gateway, watched
// live, with the customer's emails at a real SMTP server.
func TestOrderLifeLive(t *testing.T) {
	t.Parallel()
	mail := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	s := newShop(t, "-shipping-step-interval=300ms", "-smtp-host="+mail.Host, "-smtp-port="+strconv.Itoa(mail.Port), "-smtp-starttls=off")
	skus := s.stock(t, "Kite", 5, 3900)
	email := "live-" + testenv.ID() + "@example.com"
	access, _, _ := register(t, s.system, email, "Amelia")
	c := s.client(access)

	mine := subscribeWS(t, s.system, "graphql-transport-ws", access, watchMine, nil)
	time.Sleep(300 * time.Millisecond) // let the subscription start before the order exists
	id := checkout(t, c, "tok_visa", map[string]int{skus[0]: 1})
	byID := subscribeWS(t, s.system, "graphql-transport-ws", access, watchOrder, map[string]any{"id": id})
	legacy := subscribeWS(t, s.system, "graphql-ws", access, watchOrder, map[string]any{"id": id})
	sse := subscribeSSE(t, s.system, access, watchOrder, map[string]any{"id": id})

	if got := mine.collect(t, "DELIVERED"); strings.Join(got, ",") != strings.Join(lifecycle, ",") {
		t.Errorf("myOrderUpdates saw %v, want %v", got, lifecycle)
	}
	for name, f := range map[string]*statusFeed{"graphql-transport-ws": byID, "graphql-ws": legacy, "SSE": sse} {
		if got := f.collect(t, "DELIVERED"); !isSuffixOfLifecycle(got) {
			t.Errorf("%s saw %v: want the current status first, then every later one once, in order", name, got)
		}
	}

	d := c.must(`query($id: ID!) { order(id: $id) { number status shipments { trackingNumber carrier status events { status } } } }`, map[string]any{"id": id})
	number := str(d, "order", "number")
	tracking := str(d, "order", "shipments", 0, "trackingNumber")
	if tracking == "" || len(list(d, "order", "shipments", 0, "events")) < 4 || str(d, "order", "shipments", 0, "status") != "DELIVERED" {
		t.Errorf("shipment = %v", path(d, "order", "shipments"))
	}

	subjects := map[string]bool{}
	notifytest.Await(t, "the welcome, confirmed, shipped and delivered emails", func() bool {
		subjects = map[string]bool{}
		for _, m := range mail.Mails() {
			if len(m.To) == 1 && m.To[0] == email {
				subjects[m.Subject] = true
			}
		}
		return len(subjects) >= 4
	})
	var shipped string
	for _, m := range mail.Mails() {
		if strings.Contains(m.Subject, "shipped") {
			shipped = m.Text + m.HTML
		}
	}
	if !strings.Contains(shipped, tracking) || !strings.Contains(shipped, number) || !strings.Contains(shipped, "Amelia") {
		t.Errorf("the shipped email lacks the tracking number %s, order %s or greeting:\n%s", tracking, number, shipped)
	}
	n := c.must(`{ myNotifications(first: 10) { edges { node { kind status } } } }`, nil)
	kinds := map[string]string{}
	for _, e := range list(n, "myNotifications", "edges") {
		kinds[str(e, "node", "kind")] = str(e, "node", "status")
	}
	for _, k := range []string{"WELCOME", "ORDER_CONFIRMED", "ORDER_SHIPPED", "ORDER_DELIVERED"} {
		if kinds[k] != "SENT" {
			t.Errorf("myNotifications: %s is %q, want SENT (all: %v)", k, kinds[k], kinds)
		}
	}
}

// TestSubscriptionRefusals: no token, a forged token, another customer's
// order, and a subscription sent as a plain POST.
func TestSubscriptionRefusals(t *testing.T) {
	t.Parallel()
	s := newShop(t, "-shipping-step-interval=0")
	skus := s.stock(t, "Drum", 5, 1000)
	owner := s.customer(t)
	id := checkout(t, owner, "tok_visa", map[string]int{skus[0]: 1})
	other := s.customer(t)
	otherKey, _ := testenv.SigningKey(t)
	forged := testenv.Token(t, otherKey, "x", "ADMIN")
	vars := map[string]any{"id": id}

	if code := subscribeWS(t, s.system, "graphql-transport-ws", "", watchOrder, vars).firstError(t); code != "UNAUTHENTICATED" && !strings.Contains(code, "4401") && !strings.Contains(code, "4403") {
		t.Errorf("no token: %s", code)
	}
	if code := subscribeWS(t, s.system, "graphql-transport-ws", forged, watchOrder, vars).firstError(t); code != "UNAUTHENTICATED" && !strings.Contains(code, "4401") && !strings.Contains(code, "4403") {
		t.Errorf("forged token: %s", code)
	}
	if code := subscribeSSE(t, s.system, forged, watchOrder, vars).firstError(t); code != "UNAUTHENTICATED" {
		t.Errorf("forged token over SSE: %s", code)
	}
	if code := subscribeWS(t, s.system, "graphql-transport-ws", other.token, watchOrder, vars).firstError(t); code != "NOT_FOUND" && code != "FORBIDDEN" {
		t.Errorf("another customer's order: %s", code)
	}
	r := owner.do(watchOrder, vars)
	if len(r.Errors) == 0 || r.Status < 400 {
		t.Errorf("a subscription as a plain POST: %d %s", r.Status, r.Raw)
	}
}

// TestFailingMailServer: the mail server refuses the first two attempts; the
// email is sent once on the third, and the order goes on regardless.
func TestFailingMailServer(t *testing.T) {
	t.Parallel()
	var refused atomic.Int32
	email := "patient-" + testenv.ID() + "@example.com"
	mail := notifytest.StartSMTP(t, notifytest.SMTPOptions{RejectRcpt: func(to string) error {
		if to == email && refused.Load() < 2 {
			refused.Add(1)
			return &smtp.SMTPError{Code: 451, Message: "try again later"}
		}
		return nil
	}})
	s := newShop(t, "-shipping-step-interval=0", "-notify-retry-base=200ms",
		"-smtp-host="+mail.Host, "-smtp-port="+strconv.Itoa(mail.Port), "-smtp-starttls=off")
	skus := s.stock(t, "Bell", 3, 700)
	access, _, _ := register(t, s.system, email, "Pat")
	c := s.client(access)
	id := checkout(t, c, "tok_visa", map[string]int{skus[0]: 1})
	waitStatus(t, c, id, "CONFIRMED") // the order does not wait for the mail

	// Every email to the customer (welcome, order confirmed) ends SENT, each
	// accepted once, and the two refusals cost exactly two extra attempts.
	var n map[string]any
	notifytest.Await(t, "the customer's emails to be sent", func() bool {
		n = c.must(`{ myNotifications(first: 10) { edges { node { kind status attempts } } } }`, nil)
		edges := list(n, "myNotifications", "edges")
		for _, e := range edges {
			if str(e, "node", "status") != "SENT" {
				return false
			}
		}
		return len(edges) == 2
	})
	attempts := 0
	for _, e := range list(n, "myNotifications", "edges") {
		attempts += num(e, "node", "attempts")
	}
	accepted := 0
	for _, m := range mail.Mails() {
		if len(m.To) == 1 && m.To[0] == email {
			accepted++
		}
	}
	if refused.Load() != 2 || attempts != 2+2 || accepted != 2 {
		t.Errorf("refused %d, attempts %d, accepted %d: want 2 refusals, 4 attempts, 2 emails accepted once each", refused.Load(), attempts, accepted)
	}
}
