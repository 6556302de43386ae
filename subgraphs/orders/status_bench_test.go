package orders_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/orders"
	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
)

// delays records publish→delivery delays in microseconds, sharded so that
// thousands of receivers do not queue on one lock.
type delays struct {
	shards [64]struct {
		sync.Mutex
		h *hdrhistogram.Histogram
	}
	n atomic.Int64
}

func newDelays() *delays {
	d := &delays{}
	for i := range d.shards {
		d.shards[i].h = hdrhistogram.New(1, 60_000_000, 3)
	}
	return d
}

func (d *delays) record(shard int, since time.Time) {
	s := &d.shards[shard%len(d.shards)]
	s.Lock()
	_ = s.h.RecordValue(max(1, time.Since(since).Microseconds()))
	s.Unlock()
	d.n.Add(1)
}

func (d *delays) merged() *hdrhistogram.Histogram {
	h := hdrhistogram.New(1, 60_000_000, 3)
	for i := range d.shards {
		d.shards[i].Lock()
		h.Merge(d.shards[i].h)
		d.shards[i].Unlock()
	}
	return h
}

// BenchmarkOrderStatusFanOut measures live order status end to end inside
// the orders service: a change published on the Redis channel, received by
// the service's one subscription (StatusListener), fanned out by the Feed to
// every matching subscriber. Each op is one change, published at a fixed
// rate (open loop). Subscribers are in-process (Service.Orders.WatchMine,
// one goroutine reading each, as gqlgen's would) plus real websocket
// clients (graphql-transport-ws, myOrderUpdates { status at }).
//
// spread: every subscriber is its own customer; a change goes to one (one
// change in ten to a websocket client).
// broadcast: every subscriber is the same customer; a change goes to all.
//
// Reported: p50/p99 publish→delivery delay (µs) for in-process subscribers
// and websocket clients, deliveries lost (not delivered within 30 s of the
// last publish), and the feed's overflows. Run with a fixed count, e.g.
//
//	go test ./subgraphs/orders -run '^$' -bench OrderStatusFanOut -benchtime 2000x
func BenchmarkOrderStatusFanOut(b *testing.B) {
	cases := []struct {
		mode      string
		subs, ws  int
		perSecond int
	}{
		{"spread", 1_000, 100, 2_000},
		{"spread", 10_000, 100, 2_000},
		{"spread", 10_000, 100, 10_000},
		{"broadcast", 1_000, 100, 100},
		{"broadcast", 10_000, 100, 20},
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("%s/subs=%d/ws=%d/rate=%d", c.mode, c.subs, c.ws, c.perSecond), func(b *testing.B) {
			benchFanOut(b, c.mode == "broadcast", c.subs, c.ws, c.perSecond)
		})
	}
}

func benchFanOut(b *testing.B, broadcast bool, subs, wsClients, perSecond int) {
	pool := testenv.Postgres(b, "orders", orders.Migrations)
	rdb, prefix := testenv.Redis(b)
	key, ver := testenv.SigningKey(b)
	svc, err := orders.New(context.Background(), orders.Config{
		DB: pool, Redis: rdb, Prefix: prefix, Catalog: newCatalog(), ShippingRates: fakeRates{}, Verifier: ver,
		Log: testenv.Logger(),
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			_ = c.CloseNow()
		}
		cancel()
		wg.Wait()
		srv.Close()
	}()
	wg.Go(func() {
		if err := svc.Run(ctx); err != nil {
			b.Error(err)
		}
	})

	customers := subs + wsClients
	customer := func(i int) string {
		if broadcast {
			return "all"
		}
		return fmt.Sprint("c", i)
	}
	inproc, ws := newDelays(), newDelays()
	for i := range subs {
		id := auth.Identity{UserID: customer(i), Role: "CUSTOMER"}
		ch, err := svc.Orders.WatchMine(auth.WithIdentity(ctx, id))
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			for u := range ch {
				inproc.record(i, u.At)
			}
		})
	}
	for i := subs; i < customers; i++ {
		c, _, err := websocket.Dial(ctx, srv.URL+"/graphql", &websocket.DialOptions{Subprotocols: []string{transportWS}})
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		tok := testenv.Token(b, key, customer(i), "CUSTOMER")
		for _, m := range []map[string]any{
			{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + tok}},
			{"id": "1", "type": "subscribe", "payload": map[string]any{"query": `subscription { myOrderUpdates { status at } }`}},
		} {
			if err := wsjson.Write(ctx, c, m); err != nil {
				b.Fatal(err)
			}
		}
		wg.Go(func() {
			for {
				var m struct {
					Type    string `json:"type"`
					Payload struct {
						Data struct {
							Update struct {
								At time.Time `json:"at"`
							} `json:"myOrderUpdates"`
						} `json:"data"`
					} `json:"payload"`
				}
				if err := wsjson.Read(ctx, c, &m); err != nil {
					return
				}
				if m.Type == "next" {
					ws.record(i, m.Payload.Data.Update.At)
				}
			}
		})
	}
	for svc.Status.Stats().Subscribers < customers {
		time.Sleep(10 * time.Millisecond)
	}

	// Change i is about customer i's order (spread) or the one order
	// (broadcast); versions count up per order.
	versions := make([]int, customers)
	period := time.Second / time.Duration(perSecond)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if wait := time.Until(start.Add(time.Duration(i) * period)); wait > 0 {
			time.Sleep(wait)
		}
		target := i % subs
		switch {
		case broadcast:
			target = 0
		case wsClients > 0 && i%10 == 0:
			target = subs + i/10%wsClients
		}
		versions[target]++
		c := order.StatusChanged{OrderStatusChanged: contract.OrderStatusChanged{
			OrderID: fmt.Sprintf("00000000-0000-7000-8000-%012d", target), CustomerID: customer(target),
			Status: "CONFIRMED", Previous: "AWAITING_PAYMENT", At: time.Now(),
		}, Version: versions[target]}
		payload, _ := json.Marshal(c)
		if err := rdb.Publish(ctx, prefix+orders.StatusChannel, payload).Err(); err != nil {
			b.Fatal(err)
		}
	}
	published := time.Since(start)
	want := int64(b.N)
	if broadcast {
		want = int64(b.N) * int64(customers)
	}
	for drain := time.Now().Add(30 * time.Second); inproc.n.Load()+ws.n.Load() < want && time.Now().Before(drain); {
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()

	got := inproc.n.Load() + ws.n.Load()
	hi, hw := inproc.merged(), ws.merged()
	b.ReportMetric(float64(b.N)/published.Seconds(), "changes/s")
	b.ReportMetric(float64(got)/published.Seconds(), "deliveries/s")
	b.ReportMetric(float64(hi.ValueAtQuantile(50)), "inproc-p50-µs")
	b.ReportMetric(float64(hi.ValueAtQuantile(99)), "inproc-p99-µs")
	b.ReportMetric(float64(hw.ValueAtQuantile(50)), "ws-p50-µs")
	b.ReportMetric(float64(hw.ValueAtQuantile(99)), "ws-p99-µs")
	b.ReportMetric(float64(want-got), "lost")
	b.ReportMetric(float64(svc.Status.Stats().Overflows), "overflows")
}
