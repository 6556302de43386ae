package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkSubscriptionFanout measures broadcast through the gateway: N
// graphql-transport-ws clients subscribe to the ticker fixture's whole feed,
// and the benchmark publishes b.N events at a fixed rate, each to every
// client. via=direct connects the same clients to the ticker itself, as a
// baseline for what the gateway adds. Everything (fixture, gateway, clients)
// shares this machine's CPUs.
//
// Reported: p50-ms, p99-ms, max-ms (delay from publish to receipt), lost
// (events a client never got), dups, fixture-drops (of the lost, those the
// fixture dropped because its subscriber fell 1024 events behind),
// deliveries/s (events received by all clients per second), published/s,
// and mem-KiB/sub (heap and stacks), goroutines/sub and fds/sub (open file
// descriptors; the whole process — clients, gateway
// and fixture — per subscription; compare via=direct). Run with a fixed
// count, e.g.
//
//	go test ./gateway/ -run '^$' -bench SubscriptionFanout -benchtime 2000x
//
// SHOPGRAPH_BENCH_CLIENTS and SHOPGRAPH_BENCH_RATES (comma-separated) change
// the sizes (default 10,100,1000 clients at 100,1000 events/s).
func BenchmarkSubscriptionFanout(b *testing.B) {
	benchSubscriptions(b, false, []int{10, 100, 1000}, []int{100, 1000})
}

// BenchmarkSubscriptionTargeted measures the order-tracking shape of load:
// N clients each subscribe to their own channel of the feed (as each
// customer follows their own order), and the b.N events published at the
// given total rate go round-robin to one channel each. It reports the same
// metrics as BenchmarkSubscriptionFanout; SHOPGRAPH_BENCH_CLIENTS and
// SHOPGRAPH_BENCH_RATES apply (default 100,1000,3000 clients at 1000
// events/s).
func BenchmarkSubscriptionTargeted(b *testing.B) {
	benchSubscriptions(b, true, []int{100, 1000, 3000}, []int{1000})
}

func benchSubscriptions(b *testing.B, targeted bool, clients, rates []int) {
	clients = benchSizes("SHOPGRAPH_BENCH_CLIENTS", clients)
	rates = benchSizes("SHOPGRAPH_BENCH_RATES", rates)
	for _, via := range []string{"gateway", "direct"} {
		for _, n := range clients {
			for _, rate := range rates {
				b.Run(fmt.Sprintf("via=%s/clients=%d/rate=%d", via, n, rate), func(b *testing.B) {
					benchFanout(b, via, targeted, n, rate)
				})
			}
		}
	}
}
func benchSizes(env string, def []int) []int {
	s := os.Getenv(env)
	if s == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// fanoutClient is one subscriber of the benchmark.
type fanoutClient struct {
	conn   *websocket.Conn
	delays []time.Duration
	last   int // the last n received
	lost   int // gaps in n
	dups   int // n not above the last
	done   chan struct{}
}

func benchFanout(b *testing.B, via string, targeted bool, n, rate int) {
	e := newSubEnvProxied(b, false)
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/graphql"
	if via == "direct" {
		url = "ws" + strings.TrimPrefix(e.ticker.URL, "http")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Connect the clients, a few at a time.
	heap0, goroutines0 := heapInUse()
	fds0 := openFDs()
	clients := make([]*fanoutClient, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range clients {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: transportWS})
			if err != nil {
				b.Errorf("dial: %v", err)
				return
			}
			write := func(s string) {
				if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
					b.Errorf("write: %v", err)
				}
			}
			write(`{"type":"connection_init"}`)
			if _, m, err := c.Read(ctx); err != nil || !bytes.Contains(m, []byte("connection_ack")) {
				b.Errorf("init: %s %v", m, err)
				return
			}
			query := `subscription { feed { n sentAt } }`
			if targeted {
				query = fmt.Sprintf(`subscription { feed(channel: %d) { n sentAt } }`, i)
			}
			sub, _ := json.Marshal(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query}})
			write(string(sub))
			clients[i] = &fanoutClient{conn: c, done: make(chan struct{})}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	e.waitFeedSubscribers(b, n)
	heap1, goroutines1 := heapInUse()
	fds1 := openFDs()
	total, events := b.N, b.N // events each client expects, events published
	if targeted {
		total = (b.N + n - 1) / n
		events = total * n
	}
	for _, c := range clients {
		go c.read(ctx, total)
	}
	droppedBefore := e.feed.Dropped()

	b.ResetTimer()
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	for i := range events {
		<-tick.C
		if targeted {
			e.feed.PublishTo(i%n, time.Now())
		} else {
			e.feed.Publish(time.Now())
		}
	}
	tick.Stop()
	published := time.Since(start)
	// Wait for the last event to arrive everywhere (or give up: the rest is
	// lost).
	drain := time.After(patience)
	for _, c := range clients {
		select {
		case <-c.done:
		case <-drain:
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()

	var all []time.Duration
	lost, dups := 0, 0
	for _, c := range clients {
		c.conn.CloseNow()
		all = append(all, c.delays...)
		lost += c.lost + (total - c.last) // gaps, and the events after the last received
		dups += c.dups
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(float64(len(all))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(dups), "dups")
	b.ReportMetric(float64(e.feed.Dropped()-droppedBefore), "fixture-drops")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(events)/published.Seconds(), "published/s")
	b.ReportMetric(float64(heap1-heap0)/1024/float64(n), "mem-KiB/sub")
	b.ReportMetric(float64(goroutines1-goroutines0)/float64(n), "goroutines/sub")
	if fds0 >= 0 {
		b.ReportMetric(float64(fds1-fds0)/float64(n), "fds/sub")
	}
}

// openFDs returns the process's open file descriptors (Linux), or -1.
func openFDs() int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(fds)
}

// heapInUse returns the process's live heap and stacks after a GC, and its
// goroutines.
func heapInUse() (int64, int) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse), runtime.NumGoroutine()
}

// read receives events until the last one (n == total) or ctx ends.
func (c *fanoutClient) read(ctx context.Context, total int) {
	defer close(c.done)
	c.delays = make([]time.Duration, 0, total)
	for c.last < total {
		_, m, err := c.conn.Read(ctx)
		if err != nil {
			return
		}
		now := time.Now()
		if !bytes.Contains(m, []byte(`"type":"next"`)) {
			continue
		}
		n, sent := field(m, `"n":`), field(m, `"sentAt":"`)
		if n <= c.last {
			c.dups++
			continue
		}
		c.lost += n - c.last - 1
		c.last = n
		c.delays = append(c.delays, now.Sub(time.Unix(0, int64(sent))))
	}
}

// field returns the integer after key in m.
func field(m []byte, key string) int {
	i := bytes.Index(m, []byte(key))
	if i < 0 {
		return 0
	}
	v := 0
	for _, ch := range m[i+len(key):] {
		if ch < '0' || ch > '9' {
			break
		}
		v = v*10 + int(ch-'0')
	}
	return v
}
