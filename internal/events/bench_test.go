package events

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BenchmarkCommitToHandler measures one saga hop: from the commit of a
// transaction that added a message to the outbox to the moment the
// consumer's transactional handler is invoked. Messages go one at a time, as
// the hops of one order do. It reports the p50 and p99 latency.
func BenchmarkCommitToHandler(b *testing.B) {
	e := newEnv(b)
	e.startRelay(b, RelayOptions{})
	invoked := make(chan time.Time, 1)
	e.startTx(b, ConsumerOptions{Stream: "bench", Group: "g"}, func(ctx context.Context, tx pgx.Tx, m Message) error {
		invoked <- time.Now()
		return recordEffect(ctx, tx, m)
	})
	ctx := context.Background()
	hop := func() time.Duration {
		m, err := New("bench.Hop", "k", map[string]int{"n": 1}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		tx, err := e.pool.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := Add(ctx, tx, "bench", m); err != nil {
			b.Fatal(err)
		}
		committing := time.Now()
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-invoked:
			return at.Sub(committing)
		case <-time.After(time.Minute):
			b.Fatal("handler not invoked")
			return 0
		}
	}
	for range 10 { // warm up connections and the consumer group
		hop()
	}

	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		lat = append(lat, hop())
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
