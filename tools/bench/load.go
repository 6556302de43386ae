package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/schollz/progressbar/v3"
)

// loadOptions shape one measurement.
type loadOptions struct {
	// Concurrency is the number of closed-loop workers.
	Concurrency int
	// Duration is how long the measured phase lasts, unless Requests is set.
	Duration time.Duration
	// Requests, if positive, is how many requests the measured phase sends.
	Requests int
	// Rate, if positive, makes the load open-loop: requests are sent at this
	// rate (per second) whatever the latency, and each latency is measured
	// from its scheduled send time.
	Rate float64
	// MaxInFlight bounds the open loop's outstanding requests; a request
	// that waits for a slot keeps counting from its scheduled time.
	MaxInFlight int
	// Warmup is run first with the same load and not counted.
	Warmup time.Duration
}

// outcome is what one operation reports.
type outcome struct {
	// Err is a failed request: transport error, HTTP status, GraphQL errors.
	Err error
	// CheckErr is a response that came back but is wrong.
	CheckErr error
	// Latency, if set, replaces the latency the runner measured (checkout
	// reports placeOrder → CONFIRMED).
	Latency time.Duration
	// Saga, if set, is the checkout saga's duration as the orders service
	// recorded it (placed → CONFIRMED).
	Saga time.Duration
	// Requests is how many gateway requests the operation sent (1 if 0).
	Requests int
}

// operation is one unit of load. worker is exclusive to the call while it
// runs (a closed-loop worker); i numbers the calls of a phase.
type operation func(ctx context.Context, worker, i int) outcome

// latencies is a concurrency-safe HDR histogram of durations, in microseconds.
type latencies struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

const maxLatencyMicros = int64(time.Hour / time.Microsecond)

func newLatencies() *latencies {
	return &latencies{h: hdrhistogram.New(1, maxLatencyMicros, 3)}
}

func (l *latencies) Record(d time.Duration) {
	us := min(max(d.Microseconds(), 1), maxLatencyMicros)
	l.mu.Lock()
	_ = l.h.RecordValue(us)
	l.mu.Unlock()
}

// Quantile returns the latency at q percent (50, 99, …), 3 significant digits.
func (l *latencies) Quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Duration(l.h.ValueAtQuantile(q)) * time.Microsecond
}

func (l *latencies) Max() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Duration(l.h.Max()) * time.Microsecond
}

func (l *latencies) Count() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h.TotalCount()
}

// stats are the results of one measured phase.
type stats struct {
	Requests        atomic.Int64 // operations completed
	GatewayRequests atomic.Int64 // requests they sent to the target
	Errors          atomic.Int64
	CheckFailures   atomic.Int64
	Elapsed         time.Duration
	Latency         *latencies
	Saga            *latencies // of the outcomes that report one

	mu      sync.Mutex
	samples []string // the first few distinct error messages
}

func newStats() *stats { return &stats{Latency: newLatencies(), Saga: newLatencies()} }

func (s *stats) add(o outcome, measured time.Duration) {
	if o.Latency > 0 {
		measured = o.Latency
	}
	s.Latency.Record(measured)
	if o.Saga > 0 {
		s.Saga.Record(o.Saga)
	}
	s.Requests.Add(1)
	s.GatewayRequests.Add(int64(max(o.Requests, 1)))
	switch {
	case o.Err != nil:
		s.Errors.Add(1)
		s.sample("error: " + o.Err.Error())
	case o.CheckErr != nil:
		s.CheckFailures.Add(1)
		s.sample("check: " + o.CheckErr.Error())
	}
}

func (s *stats) sample(msg string) {
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) < 3 && !slices.Contains(s.samples, msg) {
		s.samples = append(s.samples, msg)
	}
}

func (s *stats) Samples() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.samples...)
}

// runPhase runs op under the load opts describes for d (or opts.Requests
// operations when n is set) and returns what it measured. Operations under
// way when the time is up finish and are counted. It returns early, with
// what it has, when ctx ends.
func runPhase(ctx context.Context, opts loadOptions, d time.Duration, n int, op operation, bar *progress) *stats {
	s := newStats()
	start := time.Now()
	stop := bar.follow(s, start, d, n)
	if opts.Rate > 0 {
		openLoop(ctx, opts.Rate, opts.MaxInFlight, start, d, n, op, s)
	} else {
		closedLoop(ctx, opts.Concurrency, start, d, n, op, s)
	}
	s.Elapsed = time.Since(start)
	stop()
	return s
}

// closedLoop runs c workers, each sending its next request when the last
// one is answered, until start+d (or until n requests when n > 0).
func closedLoop(ctx context.Context, c int, start time.Time, d time.Duration, n int, op operation, s *stats) {
	deadline := start.Add(d)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if n > 0 && i >= n || n <= 0 && !time.Now().Before(deadline) {
					return
				}
				t := time.Now()
				o := op(ctx, w, i)
				s.add(o, time.Since(t))
			}
		})
	}
	wg.Wait()
}

// scheduled is the intended send time of the i-th request of an open loop.
func scheduled(start time.Time, rate float64, i int) time.Time {
	return start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
}

// openLoop sends requests at a fixed rate from start until start+d (or n
// requests when n > 0). Each latency runs from the request's scheduled
// time, not from when it was actually sent, so time spent queued behind
// slow requests (coordinated omission) shows in the percentiles.
func openLoop(ctx context.Context, rate float64, maxInFlight int, start time.Time, d time.Duration, n int, op operation, s *stats) {
	slots := make(chan int, maxInFlight)
	for i := range maxInFlight {
		slots <- i
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; ; i++ {
		at := scheduled(start, rate, i)
		if n > 0 && i >= n || n <= 0 && !at.Before(start.Add(d)) {
			return
		}
		if wait := time.Until(at); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		var slot int
		select {
		case slot = <-slots:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { slots <- slot }()
			o := op(ctx, slot, i)
			s.add(o, time.Since(at))
		})
	}
}

// progress draws a progress bar on a terminal, and nothing elsewhere.
type progress struct {
	w       io.Writer
	enabled bool
	label   string
}

func newProgress(w io.Writer, enabled bool) *progress {
	if f, ok := w.(*os.File); ok && enabled {
		fi, err := f.Stat()
		enabled = err == nil && fi.Mode()&os.ModeCharDevice != 0
	} else {
		enabled = false
	}
	return &progress{w: w, enabled: enabled}
}

// follow shows s's progress towards d (or n operations) until stop is called.
func (p *progress) follow(s *stats, start time.Time, d time.Duration, n int) (stop func()) {
	if p == nil || !p.enabled {
		return func() {}
	}
	total := int64(n)
	if n <= 0 {
		total = d.Milliseconds()
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(p.label),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(false),
	)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				_ = bar.Finish()
				return
			case <-t.C:
				el := time.Since(start)
				req := s.Requests.Load()
				failed := s.Errors.Load() + s.CheckFailures.Load()
				bar.Describe(fmt.Sprintf("%-26s %7d done %5d failed %7.0f/s", p.label, req, failed, float64(req)/el.Seconds()))
				if n > 0 {
					_ = bar.Set64(min(req, total))
				} else {
					_ = bar.Set64(min(el.Milliseconds(), total))
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}
