package main

// The fanout scenario: N websocket subscribers of myOrderUpdates, each a
// distinct synthetic customer, and a publisher that PUBLISHes M order status
// changes per second on the orders service's Redis channel, round robin over
// the subscribers. Every event carries its send time (UnixNano) in reason, so
// each client measures publish → receive.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/auth"
)

// fanoutOptions are the fanout scenario's flags.
type fanoutOptions struct {
	Subscribers  int
	EventsPerSec int
	Duration     time.Duration
	Drain        time.Duration // how long to wait for the last events
	KeyFile      string        // the users service's signing key (PEM)
	RedisURL     string
	Prefix       string // the system's Redis prefix
	Channel      string // after the prefix
}

// fanoutFDReserve is what the harness keeps for everything but the
// subscribers' sockets (Redis, the system's pipes, HTTP, files).
const fanoutFDReserve = 256

// fdLimit is the soft limit on this process's open files.
func fdLimit() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return r.Cur
}

// checkFanoutFDs refuses n subscribers that do not fit in limit with one
// socket each and the reserve.
func checkFanoutFDs(n int, limit uint64) error {
	if limit == 0 {
		return nil // unknown
	}
	if uint64(n)+fanoutFDReserve > limit {
		return fmt.Errorf("-subscribers %d does not fit: the harness holds one socket per subscriber and keeps %d descriptors for itself, but ulimit -n is %d (at most %d subscribers)",
			n, fanoutFDReserve, limit, int(limit)-fanoutFDReserve)
	}
	return nil
}

// gatewayFits reports whether a gateway process with this fd limit can hold
// n subscriptions: it keeps one socket per subscription (the client's); its
// upstream websockets to the orders service are shared, a few in all.
func gatewayFits(n int, limit uint64) bool {
	return limit == 0 || uint64(n)+fanoutFDReserve <= limit
}

// fanoutRow is the fanout scenario against one target.
type fanoutRow struct {
	Target       string   `json:"target"`
	Skipped      string   `json:"skipped,omitempty"`
	Subscribers  int      `json:"subscribers"` // asked for
	Connected    int      `json:"connected"`   // acknowledged and subscribed
	Ready        int      `json:"ready"`       // received their probe event
	RampSeconds  float64  `json:"rampSeconds"` // connecting and probing
	EventsPerSec int      `json:"eventsPerSec"`
	Seconds      float64  `json:"seconds"`
	Published    int64    `json:"published"`
	Delivered    int64    `json:"delivered"` // distinct events received within the drain
	Lost         int64    `json:"lost"`
	Duplicates   int64    `json:"duplicates"`
	P50Ms        float64  `json:"p50Ms"`
	P95Ms        float64  `json:"p95Ms"`
	P99Ms        float64  `json:"p99Ms"`
	MaxMs        float64  `json:"maxMs"`
	PublishLagMs float64  `json:"publishLagMaxMs"` // the publisher's worst lateness behind its schedule
	Dropped      int64    `json:"dropped"`         // subscriptions that ended or failed during the run
	FDLimit      uint64   `json:"fdLimit"`
	Samples      []string `json:"errorSamples,omitempty"`
}

// fanoutStatuses are the statuses the events cycle through.
var fanoutStatuses = []string{"PENDING", "AWAITING_PAYMENT", "CONFIRMED", "SHIPPED", "DELIVERED"}

// fanoutQuery is what every client subscribes to.
const fanoutQuery = "subscription { myOrderUpdates { status reason } }"

// probeReason marks the events that check a subscription is registered.
const probeReason = "probe"

// statusMessage is one order status change as the orders service publishes
// it: contract.OrderStatusChanged and the order's version.
func statusMessage(customerID, orderID string, version int, reason string, at time.Time) []byte {
	status := fanoutStatuses[(version-1)%len(fanoutStatuses)]
	previous := ""
	if version > 1 {
		previous = fanoutStatuses[(version-2)%len(fanoutStatuses)]
	}
	b, _ := json.Marshal(map[string]any{
		"orderId": orderID, "customerId": customerID, "status": status, "previous": previous,
		"reason": reason,
		"at":     at.UTC().Format(time.RFC3339Nano), "version": version,
	})
	return b
}

// wsMsg is a graphql-transport-ws message.
type wsMsg struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// parseUpdate reads the reason of a next message's myOrderUpdates.
func parseUpdate(payload json.RawMessage) (reason string, err error) {
	var p struct {
		Data *struct {
			MyOrderUpdates *struct {
				Status string  `json:"status"`
				Reason *string `json:"reason"`
			} `json:"myOrderUpdates"`
		} `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", err
	}
	if len(p.Errors) > 0 && string(p.Errors) != "null" {
		return "", fmt.Errorf("errors: %s", p.Errors)
	}
	if p.Data == nil || p.Data.MyOrderUpdates == nil || p.Data.MyOrderUpdates.Reason == nil || p.Data.MyOrderUpdates.Status == "" {
		return "", fmt.Errorf("unexpected payload %s", payload)
	}
	return *p.Data.MyOrderUpdates.Reason, nil
}

// tally counts what the clients received.
type tally struct {
	lat        *latencies
	delivered  atomic.Int64
	duplicates atomic.Int64
	dropped    atomic.Int64
	mu         sync.Mutex
	samples    []string
}

func newTally() *tally { return &tally{lat: newLatencies()} }

func (t *tally) sample(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.samples) < 5 {
		t.samples = append(t.samples, fmt.Sprintf(format, args...))
	}
}

// subscriber is one client: one customer, one order, one websocket.
type subscriber struct {
	customerID, orderID, token string
	version                    int // the last version published for its order (publisher only)
	conn                       *websocket.Conn
	ready                      atomic.Bool
	mu                         sync.Mutex
	seen                       map[int64]struct{} // send times received
}

// receive counts one update's reason received at now: a probe makes s
// ready; a send time is a delivery or a duplicate.
func (s *subscriber) receive(t *tally, reason string, now time.Time) {
	if reason == probeReason {
		s.ready.Store(true)
		return
	}
	sent, err := strconv.ParseInt(reason, 10, 64)
	if err != nil {
		t.sample("reason %q is not a send time", reason)
		return
	}
	s.mu.Lock()
	_, dup := s.seen[sent]
	if !dup {
		s.seen[sent] = struct{}{}
	}
	s.mu.Unlock()
	if dup {
		t.duplicates.Add(1)
		return
	}
	t.delivered.Add(1)
	t.lat.Record(now.Sub(time.Unix(0, sent)))
}

// connect opens s's websocket to url, authenticates and subscribes.
func (s *subscriber) connect(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return err
	}
	init, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + s.token})
	if err := writeMsg(ctx, c, wsMsg{Type: "connection_init", Payload: init}); err != nil {
		c.CloseNow()
		return err
	}
	for {
		m, err := readMsg(ctx, c)
		if err != nil {
			c.CloseNow()
			return fmt.Errorf("waiting for connection_ack: %w", err)
		}
		if m.Type == "connection_ack" {
			break
		}
		if m.Type == "ping" {
			_ = writeMsg(ctx, c, wsMsg{Type: "pong"})
		}
	}
	q, _ := json.Marshal(map[string]string{"query": fanoutQuery})
	if err := writeMsg(ctx, c, wsMsg{ID: "1", Type: "subscribe", Payload: q}); err != nil {
		c.CloseNow()
		return err
	}
	s.conn = c
	return nil
}

// read takes s's messages until the connection ends.
func (s *subscriber) read(ctx context.Context, t *tally) {
	for {
		m, err := readMsg(ctx, s.conn)
		if err != nil {
			if ctx.Err() == nil {
				t.dropped.Add(1)
				t.sample("subscriber %s: %v", s.customerID, err)
			}
			return
		}
		switch m.Type {
		case "next":
			reason, err := parseUpdate(m.Payload)
			if err != nil {
				t.sample("subscriber %s: %v", s.customerID, err)
				continue
			}
			s.receive(t, reason, time.Now())
		case "ping":
			_ = writeMsg(ctx, s.conn, wsMsg{Type: "pong"})
		case "error", "complete":
			t.dropped.Add(1)
			t.sample("subscriber %s: %s %s", s.customerID, m.Type, m.Payload)
			return
		}
	}
}

func writeMsg(ctx context.Context, c *websocket.Conn, m wsMsg) error {
	b, _ := json.Marshal(m)
	return c.Write(ctx, websocket.MessageText, b)
}

func readMsg(ctx context.Context, c *websocket.Conn) (wsMsg, error) {
	var m wsMsg
	_, b, err := c.Read(ctx)
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(b, &m)
}

// fanoutBatch is how many clients connect at once while ramping up.
const fanoutBatch = 100

// pace calls f(i) for i in [0, n) at rate per second from start, until ctx
// ends; it returns how many it called and the worst lateness.
func pace(ctx context.Context, n int, rate int, f func(i int)) (int, time.Duration) {
	period := time.Second / time.Duration(max(rate, 1))
	start := time.Now()
	var worst time.Duration
	for i := range n {
		at := start.Add(time.Duration(i) * period)
		if d := time.Until(at); d > 0 {
			select {
			case <-ctx.Done():
				return i, worst
			case <-time.After(d):
			}
		} else if ctx.Err() != nil {
			return i, worst
		}
		worst = max(worst, time.Since(at))
		f(i)
	}
	return n, worst
}

// runFanout measures the fanout scenario against the websocket at url.
func runFanout(ctx context.Context, o fanoutOptions, target, url string, log io.Writer) (fanoutRow, error) {
	r := fanoutRow{Target: target, Subscribers: o.Subscribers, EventsPerSec: o.EventsPerSec, FDLimit: fdLimit()}
	pem, err := os.ReadFile(o.KeyFile)
	if err != nil {
		return r, fmt.Errorf("signing key: %w", err)
	}
	key, err := auth.ParsePrivateKeyPEM(pem)
	if err != nil {
		return r, fmt.Errorf("signing key %s: %w", o.KeyFile, err)
	}
	signer, err := auth.NewSigner(key, 24*time.Hour, nil)
	if err != nil {
		return r, err
	}
	opt, err := redis.ParseURL(o.RedisURL)
	if err != nil {
		return r, fmt.Errorf("-redis-url: %w", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	channel := o.Prefix + o.Channel

	subs := make([]*subscriber, o.Subscribers)
	for i := range subs {
		s := &subscriber{customerID: uuid.NewString(), orderID: uuid.NewString(), seen: map[int64]struct{}{}}
		if s.token, _, err = signer.Issue(auth.Identity{UserID: s.customerID, Role: auth.RoleCustomer}); err != nil {
			return r, err
		}
		subs[i] = s
	}

	// Ramp up in batches.
	t := newTally()
	readCtx, stopReading := context.WithCancel(ctx)
	var readers sync.WaitGroup
	defer func() {
		stopReading()
		for _, s := range subs {
			if s.conn != nil {
				s.conn.CloseNow()
			}
		}
		readers.Wait()
	}()
	rampStart := time.Now()
	var connected []*subscriber
	var failed atomic.Int64
	for i := 0; i < len(subs) && ctx.Err() == nil; i += fanoutBatch {
		var wg sync.WaitGroup
		for _, s := range subs[i:min(i+fanoutBatch, len(subs))] {
			wg.Go(func() {
				if err := s.connect(ctx, url); err != nil {
					failed.Add(1)
					t.sample("connect: %v", err)
				}
			})
		}
		wg.Wait()
		for _, s := range subs[i:min(i+fanoutBatch, len(subs))] {
			if s.conn != nil {
				connected = append(connected, s)
				readers.Go(func() { s.read(readCtx, t) })
			}
		}
		if (i/fanoutBatch)%10 == 9 {
			fmt.Fprintf(log, "bench: fanout/%s %d/%d subscribed\n", target, len(connected), len(subs))
		}
	}
	r.Connected = len(connected)
	fmt.Fprintf(log, "bench: fanout/%s %d subscribed, %d failed, in %s\n", target, r.Connected, failed.Load(), time.Since(rampStart).Round(time.Millisecond))
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	if len(connected) == 0 {
		r.Samples = t.samples
		return r, errors.New("no subscriber connected")
	}

	// Probe: one event per subscriber until each has one (an ack does not
	// mean the service has registered the subscription).
	publish := func(s *subscriber, reason string, at time.Time) {
		s.version++
		if err := rdb.Publish(ctx, channel, statusMessage(s.customerID, s.orderID, s.version, reason, at)).Err(); err != nil {
			t.sample("publish: %v", err)
		}
	}
	for round := 0; round < 10 && ctx.Err() == nil; round++ {
		var waiting []*subscriber
		for _, s := range connected {
			if !s.ready.Load() {
				waiting = append(waiting, s)
			}
		}
		if len(waiting) == 0 {
			break
		}
		pace(ctx, len(waiting), max(2*o.EventsPerSec, 2000), func(i int) { publish(waiting[i], probeReason, time.Now()) })
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			all := true
			for _, s := range waiting {
				if !s.ready.Load() {
					all = false
					break
				}
			}
			if all {
				break
			}
		}
	}
	for _, s := range connected {
		if s.ready.Load() {
			r.Ready++
		}
	}
	r.RampSeconds = time.Since(rampStart).Seconds()
	fmt.Fprintf(log, "bench: fanout/%s %d of %d subscribers ready (probe received) after %s\n", target, r.Ready, r.Connected, time.Since(rampStart).Round(time.Millisecond))

	// Measure: M events per second, round robin over the subscribers.
	total := int(int64(o.EventsPerSec) * int64(o.Duration) / int64(time.Second))
	start := time.Now()
	n, lag := pace(ctx, total, o.EventsPerSec, func(i int) {
		publish(connected[i%len(connected)], strconv.FormatInt(time.Now().UnixNano(), 10), time.Now())
	})
	r.Seconds = time.Since(start).Seconds()
	r.Published = int64(n)
	r.PublishLagMs = float64(lag.Microseconds()) / 1000
	for deadline := time.Now().Add(o.Drain); time.Now().Before(deadline) && t.delivered.Load() < r.Published; {
		time.Sleep(20 * time.Millisecond)
	}
	stopReading()
	r.Delivered = t.delivered.Load()
	r.Lost = max(r.Published-r.Delivered, 0)
	r.Duplicates = t.duplicates.Load()
	r.Dropped = t.dropped.Load()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r.P50Ms, r.P95Ms, r.P99Ms, r.MaxMs = ms(t.lat.Quantile(50)), ms(t.lat.Quantile(95)), ms(t.lat.Quantile(99)), ms(t.lat.Max())
	t.mu.Lock()
	r.Samples = append([]string(nil), t.samples...)
	t.mu.Unlock()
	fmt.Fprintf(log, "bench: fanout/%s published %d delivered %d lost %d duplicates %d p50 %s ms p99 %s ms\n",
		target, r.Published, r.Delivered, r.Lost, r.Duplicates, msText(r.P50Ms), msText(r.P99Ms))
	return r, ctx.Err()
}

// runFanoutTargets runs the fanout scenario against each chosen target:
// ours (for a system the harness started, a gateway of its own straight to
// the subgraphs, so that the harness holds only the clients' sockets) and
// direct (the orders subgraph's websocket). nautilus has no subscriptions.
func runFanoutTargets(ctx context.Context, cfg config, sys *system, gatewayURL string, subgraphs map[string]string, log io.Writer) ([]fanoutRow, error) {
	o := cfg.Fanout
	if sys != nil {
		o.KeyFile = filepath.Join(sys.dir, "data", "jwt-signing-key.pem")
		o.Prefix = sys.redisPrefix
	}
	limit := fdLimit()
	var rows []fanoutRow
	for _, target := range allTargets {
		if !slices.Contains(cfg.Targets, target) || ctx.Err() != nil {
			continue
		}
		row := fanoutRow{Target: target, Subscribers: o.Subscribers, EventsPerSec: o.EventsPerSec, FDLimit: limit}
		url := ""
		switch target {
		case "nautilus":
			row.Skipped = "not supported (nautilus/gateway has no subscriptions)"
		case "direct":
			if url = subgraphs["orders"]; url == "" {
				row.Skipped = "skipped: no orders subgraph"
			}
		case "ours":
			url = gatewayURL
			switch {
			case !gatewayFits(o.Subscribers, limit):
				row.Skipped = fmt.Sprintf("skipped: the gateway holds a socket per subscriber; %d do not fit in ulimit -n %d", o.Subscribers, limit)
			case sys != nil:
				u, err := sys.startGatewayNamed(ctx, "fanout-gateway", subgraphs)
				if err != nil {
					return rows, err
				}
				url = u
			}
		}
		if row.Skipped == "" {
			r, err := runFanout(ctx, o, target, url, log)
			if err != nil && ctx.Err() == nil {
				r.Skipped = "failed: " + err.Error()
			}
			row = r
			// Let both ends close the previous target's sockets.
			time.Sleep(2 * time.Second)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// writeFanout prints the fanout rows.
func writeFanout(w io.Writer, rows []fanoutRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "\n| fanout target | subscribers asked / subscribed / ready | events/s | published | delivered | lost | duplicates | p50 ms | p95 ms | p99 ms | max ms | publisher lag max ms | subscriptions dropped | ramp s | fd limit |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, x := range rows {
		if x.Skipped != "" && x.Published == 0 {
			fmt.Fprintf(w, "| %s | %d / %d / %d | %s | | | | | | | | | | | | %d |\n", x.Target, x.Subscribers, x.Connected, x.Ready, x.Skipped, x.FDLimit)
			continue
		}
		fmt.Fprintf(w, "| %s | %d / %d / %d | %d | %d | %d | %d | %d | %s | %s | %s | %s | %s | %d | %.1f | %d |\n",
			x.Target, x.Subscribers, x.Connected, x.Ready, x.EventsPerSec, x.Published, x.Delivered, x.Lost, x.Duplicates,
			msText(x.P50Ms), msText(x.P95Ms), msText(x.P99Ms), msText(x.MaxMs), msText(x.PublishLagMs), x.Dropped, x.RampSeconds, x.FDLimit)
	}
	fmt.Fprintln(w, "\n- fanout: each subscriber is a synthetic customer (a random UUID) with a token minted with the system's signing key, not a registered user (registering thousands through argon2 would take minutes and tests nothing about fan-out); it subscribes to `myOrderUpdates { status reason }` over graphql-transport-ws. Events are PUBLISHed on the orders service's Redis channel (open loop, round robin, one order per customer, versions increasing), reason = send time; delay = publish → client receive. Lost = published but not received within 5 s after the end. \"ready\" subscribers received a probe event (discarded) before the measurement.")
}
