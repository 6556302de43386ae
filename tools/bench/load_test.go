package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestLatenciesQuantiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		record    []time.Duration
		q         float64
		want      time.Duration
		tolerance float64 // relative
	}{
		{name: "median of 1..1000 ms", record: msRange(1, 1000), q: 50, want: 500 * time.Millisecond, tolerance: 0.002},
		{name: "p99 of 1..1000 ms", record: msRange(1, 1000), q: 99, want: 990 * time.Millisecond, tolerance: 0.002},
		{name: "p95 of 1..1000 ms", record: msRange(1, 1000), q: 95, want: 950 * time.Millisecond, tolerance: 0.002},
		{name: "p100 is the max", record: msRange(1, 1000), q: 100, want: time.Second, tolerance: 0.002},
		{name: "one value", record: []time.Duration{1234 * time.Microsecond}, q: 99, want: 1234 * time.Microsecond, tolerance: 0.002},
		{name: "sub-microsecond counts as 1µs", record: []time.Duration{10 * time.Nanosecond}, q: 50, want: time.Microsecond},
		{name: "outlier shows at p99 only", record: append(repeat(time.Millisecond, 990), repeat(time.Second, 10)...), q: 99, want: time.Millisecond, tolerance: 0.002},
		{name: "outlier at p99.9", record: append(repeat(time.Millisecond, 990), repeat(time.Second, 10)...), q: 99.9, want: time.Second, tolerance: 0.002},
		{name: "empty", q: 50, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLatencies()
			for _, d := range tt.record {
				l.Record(d)
			}
			got := l.Quantile(tt.q)
			if diff := float64(got-tt.want) / float64(max(tt.want, 1)); diff > tt.tolerance || diff < -tt.tolerance {
				t.Errorf("Quantile(%v) = %v, want %v (±%.1f%%)", tt.q, got, tt.want, 100*tt.tolerance)
			}
			if l.Count() != int64(len(tt.record)) {
				t.Errorf("Count = %d, want %d", l.Count(), len(tt.record))
			}
		})
	}
}

func msRange(from, to int) []time.Duration {
	var out []time.Duration
	for i := from; i <= to; i++ {
		out = append(out, time.Duration(i)*time.Millisecond)
	}
	return out
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestScheduled(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		rate float64
		i    int
		want time.Duration
	}{
		{rate: 4, i: 0, want: 0},
		{rate: 4, i: 3, want: 750 * time.Millisecond},
		{rate: 1000, i: 1500, want: 1500 * time.Millisecond},
		{rate: 3, i: 1, want: 333333333 * time.Nanosecond},
		{rate: 0.5, i: 2, want: 4 * time.Second},
	}
	for _, tt := range tests {
		if got := scheduled(start, tt.rate, tt.i).Sub(start); got != tt.want {
			t.Errorf("scheduled(rate %v, %d) = start+%v, want start+%v", tt.rate, tt.i, got, tt.want)
		}
	}
}

// sleeper is an operation that takes d.
func sleeper(d time.Duration) operation {
	return func(ctx context.Context, _, _ int) outcome {
		time.Sleep(d)
		return outcome{}
	}
}

// TestOpenLoopCountsQueueingFromScheduledTime: requests are due every 10 ms
// but each takes 25 ms and only one may be in flight, so they queue; the
// open loop's latencies grow with the queue (coordinated omission shows),
// while a closed loop on the same service reports only the 25 ms.
func TestOpenLoopCountsQueueingFromScheduledTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const service = 25 * time.Millisecond

	open := newStats()
	start := time.Now()
	openLoop(ctx, 100, 1, start, 0, 40, sleeper(service), open)
	// The k-th request (due at 10k ms) ends at about 25(k+1) ms: latency
	// about 15k+25 ms, so the median is near 325 ms and the max near 610 ms.
	if n := open.Requests.Load(); n != 40 {
		t.Fatalf("open loop sent %d requests, want 40", n)
	}
	if p50 := open.Latency.Quantile(50); p50 < 250*time.Millisecond {
		t.Errorf("open loop p50 = %v, want ≥ 250ms (the queueing behind slow requests)", p50)
	}
	if m := open.Latency.Max(); m < 550*time.Millisecond {
		t.Errorf("open loop max = %v, want ≥ 550ms", m)
	}

	closed := newStats()
	closedLoop(ctx, 1, time.Now(), 0, 40, sleeper(service), closed)
	if p50 := closed.Latency.Quantile(50); p50 < service || p50 > 4*service {
		t.Errorf("closed loop p50 = %v, want about %v", p50, service)
	}

	// With room for every request in flight there is no queue.
	roomy := newStats()
	openLoop(ctx, 100, 100, time.Now(), 0, 40, sleeper(service), roomy)
	if p99 := roomy.Latency.Quantile(99); p99 > 4*service {
		t.Errorf("open loop with room: p99 = %v, want about %v", p99, service)
	}
}

// TestOpenLoopRate: an open loop for a duration sends rate × duration
// requests, however fast they are answered, and gives each call its own
// slot.
func TestOpenLoopRate(t *testing.T) {
	t.Parallel()
	s := newStats()
	var mu sync.Mutex
	busy := map[int]bool{}
	op := func(ctx context.Context, slot, _ int) outcome {
		mu.Lock()
		if busy[slot] {
			t.Errorf("slot %d used by two calls at once", slot)
		}
		busy[slot] = true
		mu.Unlock()
		time.Sleep(3 * time.Millisecond)
		mu.Lock()
		busy[slot] = false
		mu.Unlock()
		return outcome{}
	}
	openLoop(context.Background(), 200, 4, time.Now(), 500*time.Millisecond, 0, op, s)
	if n := s.Requests.Load(); n != 100 {
		t.Errorf("sent %d requests in 500ms at 200/s, want 100", n)
	}
}

func TestClosedLoopRunsEachIndexOnce(t *testing.T) {
	t.Parallel()
	s := newStats()
	var mu sync.Mutex
	seen := map[int]int{}
	workers := map[int]bool{}
	op := func(ctx context.Context, w, i int) outcome {
		mu.Lock()
		seen[i]++
		workers[w] = true
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return outcome{}
	}
	closedLoop(context.Background(), 4, time.Now(), 0, 50, op, s)
	if s.Requests.Load() != 50 || len(seen) != 50 {
		t.Fatalf("%d requests over %d indexes, want 50 and 50", s.Requests.Load(), len(seen))
	}
	for i, n := range seen {
		if i < 0 || i >= 50 || n != 1 {
			t.Errorf("index %d ran %d times", i, n)
		}
	}
	if len(workers) != 4 {
		t.Errorf("%d workers ran, want 4", len(workers))
	}
}

func TestStatsAdd(t *testing.T) {
	t.Parallel()
	s := newStats()
	s.add(outcome{}, 2*time.Millisecond)
	s.add(outcome{Err: errors.New("boom"), Requests: 3}, time.Millisecond)
	s.add(outcome{CheckErr: errors.New("wrong"), Latency: time.Second}, time.Millisecond)
	s.add(outcome{Err: errors.New("boom")}, time.Millisecond)
	if s.Requests.Load() != 4 || s.GatewayRequests.Load() != 6 || s.Errors.Load() != 2 || s.CheckFailures.Load() != 1 {
		t.Errorf("requests %d, gateway requests %d, errors %d, check failures %d; want 4, 6, 2, 1",
			s.Requests.Load(), s.GatewayRequests.Load(), s.Errors.Load(), s.CheckFailures.Load())
	}
	if m := s.Latency.Max(); m < 999*time.Millisecond {
		t.Errorf("max = %v: the operation's own latency should replace the measured one", m)
	}
	if got := s.Samples(); len(got) != 2 || got[0] != "error: boom" || got[1] != "check: wrong" {
		t.Errorf("samples = %q", got)
	}
}
