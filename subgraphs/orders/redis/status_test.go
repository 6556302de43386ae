package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
	ordersredis "github.com/shopgraph/shopgraph/subgraphs/orders/redis"
)

// sink records what a listener hands on.
type sink struct {
	updates chan *order.Update
	resyncs chan time.Time
}

func (s *sink) Publish(u *order.Update)                 { s.updates <- u }
func (s *sink) Resync(_ context.Context, gap time.Time) { s.resyncs <- gap }

// flakyDialer refuses the first fails dials, then remembers the
// connections it makes, so that a test can drop them.
type flakyDialer struct {
	mu    sync.Mutex
	fails int
	tries int
	conns []net.Conn
}

func (d *flakyDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tries++
	if d.tries <= d.fails {
		return nil, errors.New("redis is down")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *flakyDialer) dropAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.Close()
	}
}

func TestStatusListener(t *testing.T) {
	t.Parallel()
	admin, prefix := testenv.Redis(t)
	channel := prefix + "order-status"
	d := &flakyDialer{fails: 3}
	opts := *admin.Options()
	opts.Dialer = d.dial
	rdb := goredis.NewClient(&opts)
	defer rdb.Close()

	s := &sink{updates: make(chan *order.Update, 10), resyncs: make(chan time.Time, 10)}
	l := ordersredis.NewStatusListener(rdb, channel, s, ordersredis.StatusListenerOptions{
		MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, Log: testenv.Logger(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	wait := func(what string) time.Time {
		t.Helper()
		select {
		case gap := <-s.resyncs:
			return gap
		case <-time.After(time.Minute):
			t.Fatalf("no resync %s", what)
		}
		return time.Time{}
	}
	publish := func(payload string) {
		t.Helper()
		if err := admin.Publish(context.Background(), channel, payload).Err(); err != nil {
			t.Fatal(err)
		}
	}
	receive := func() *order.Update {
		t.Helper()
		select {
		case u := <-s.updates:
			return u
		case <-time.After(time.Minute):
			t.Fatal("nothing received")
		}
		return nil
	}
	change := func(status string, version int) string {
		b, _ := json.Marshal(order.StatusChanged{OrderStatusChanged: contract.OrderStatusChanged{
			OrderID: "o1", CustomerID: "c1", Status: status,
		}, Version: version})
		return string(b)
	}

	// Redis refuses the first connections; once subscribed, the sink
	// catches up from the beginning.
	if gap := wait("after the first subscription"); !gap.IsZero() {
		t.Errorf("first resync from %v, want zero", gap)
	}
	publish("not json")
	publish(change("AWAITING_PAYMENT", 2))
	if u := receive(); u.OrderID != "o1" || u.CustomerID != "c1" || u.Status != order.StatusAwaitingPayment || u.Version != 2 {
		t.Errorf("received %+v", u)
	}

	// The connection drops: the listener subscribes again and the sink
	// catches up from the last sign of life.
	before := time.Now()
	d.dropAll()
	if gap := wait("after reconnecting"); gap.IsZero() || gap.After(before) {
		t.Errorf("resync from %v, want the last sign of life before %v", gap, before)
	}
	publish(change("CONFIRMED", 3))
	if u := receive(); u.Status != order.StatusConfirmed || u.Version != 3 {
		t.Errorf("received %+v", u)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
