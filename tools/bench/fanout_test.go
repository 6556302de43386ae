package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
)

func TestCheckFanoutFDs(t *testing.T) {
	if err := checkFanoutFDs(10000, 20000); err != nil {
		t.Fatalf("10000 in 20000: %v", err)
	}
	err := checkFanoutFDs(19900, 20000)
	if err == nil || !strings.Contains(err.Error(), "ulimit -n is 20000") || !strings.Contains(err.Error(), "at most 19744") {
		t.Fatalf("19900 in 20000: %v", err)
	}
	if err := checkFanoutFDs(1<<20, 0); err != nil {
		t.Fatalf("unknown limit: %v", err)
	}
	if !gatewayFits(10000, 20000) || gatewayFits(19900, 20000) || !gatewayFits(10000, 0) {
		t.Fatal("gatewayFits: want 10000 to fit in 20000, 19900 not")
	}
}

// The message must be what the orders service's status listener decodes
// and hands on: order ID, customer ID, status, version, reason.
func TestStatusMessageDecodesAsTheServiceReadsIt(t *testing.T) {
	at := time.Unix(0, 1_700_000_000_123_456_789)
	for version := 1; version <= 7; version++ {
		var c order.StatusChanged
		if err := json.Unmarshal(statusMessage("cust-1", "order-1", version, "42", at), &c); err != nil {
			t.Fatal(err)
		}
		u := c.Update()
		want := fanoutStatuses[(version-1)%len(fanoutStatuses)]
		if u.OrderID != "order-1" || u.CustomerID != "cust-1" || u.Version != version || string(u.Status) != want || u.Reason != "42" || !u.At.Equal(at) {
			t.Fatalf("version %d: got %+v", version, u)
		}
		if version > 1 && string(u.Previous) != fanoutStatuses[(version-2)%len(fanoutStatuses)] {
			t.Fatalf("version %d: previous %q", version, u.Previous)
		}
	}
}

func TestParseUpdate(t *testing.T) {
	r, err := parseUpdate(json.RawMessage(`{"data":{"myOrderUpdates":{"status":"CONFIRMED","reason":"123"}}}`))
	if err != nil || r != "123" {
		t.Fatalf("got %q, %v", r, err)
	}
	for _, bad := range []string{
		`{"errors":[{"message":"Unauthorized"}],"data":null}`,
		`{"data":{"myOrderUpdates":{"status":"CONFIRMED","reason":null}}}`,
		`{"data":null}`,
		`not json`,
	} {
		if _, err := parseUpdate(json.RawMessage(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestSubscriberReceive(t *testing.T) {
	tl := newTally()
	s := &subscriber{seen: map[int64]struct{}{}}
	now := time.Now()
	s.receive(tl, probeReason, now)
	if !s.ready.Load() || tl.delivered.Load() != 0 {
		t.Fatal("a probe makes the subscriber ready and is not counted")
	}
	sent := now.Add(-5 * time.Millisecond).UnixNano()
	s.receive(tl, strconv.FormatInt(sent, 10), now)
	s.receive(tl, strconv.FormatInt(sent, 10), now)
	s.receive(tl, strconv.FormatInt(sent+1, 10), now)
	s.receive(tl, "garbage", now)
	if tl.delivered.Load() != 2 || tl.duplicates.Load() != 1 || len(tl.samples) != 1 {
		t.Fatalf("delivered %d duplicates %d samples %v", tl.delivered.Load(), tl.duplicates.Load(), tl.samples)
	}
	if p := tl.lat.Quantile(50); p < 4*time.Millisecond || p > 6*time.Millisecond {
		t.Fatalf("p50 %s, want 5ms", p)
	}
}

func TestPace(t *testing.T) {
	var got []int
	start := time.Now()
	n, _ := pace(context.Background(), 10, 200, func(i int) { got = append(got, i) })
	if n != 10 || len(got) != 10 || got[9] != 9 {
		t.Fatalf("n %d got %v", n, got)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("10 at 200/s took %s, want ≥ 45ms", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, _ := pace(ctx, 10, 1, func(int) {}); n > 1 {
		t.Fatalf("cancelled: %d calls", n)
	}
}

func TestFanoutFlags(t *testing.T) {
	c, err := parseFlags([]string{"-scenarios", "fanout", "-subscribers", "3000", "-events-per-sec", "500", "-d", "7s", "-bin", "/x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Fanout.Subscribers != 3000 || c.Fanout.EventsPerSec != 500 || c.Fanout.Duration != 7*time.Second || c.Fanout.Channel != "order-status" {
		t.Fatalf("%+v", c.Fanout)
	}
	_, err = parseFlags([]string{"-scenarios", "fanout", "-gateway-url", "http://127.0.0.1:1/graphql", "-subgraph", "orders=http://127.0.0.1:2/graphql"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-jwt-key-file") {
		t.Fatalf("want -jwt-key-file required, got %v", err)
	}
}

func TestWriteFanout(t *testing.T) {
	var b bytes.Buffer
	writeFanout(&b, []fanoutRow{
		{Target: "ours", Subscribers: 10, Connected: 10, Ready: 10, EventsPerSec: 5, Published: 50, Delivered: 49, Lost: 1, P99Ms: 3.5, FDLimit: 20000},
		{Target: "nautilus", Subscribers: 10, Skipped: "not supported", FDLimit: 20000},
	})
	out := b.String()
	for _, want := range []string{"| ours | 10 / 10 / 10 | 5 | 50 | 49 | 1 | 0 |", "| nautilus | 10 / 0 / 0 | not supported |", "synthetic customer"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
