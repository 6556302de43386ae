package events

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BenchmarkCommitToHandler measures one saga hop: from the commit of a
// transaction that added a message to the outbox to the moment the
// consumer's transactional handler is invoked, and reports the p50 and p99
// latency. Each producer sends one message at a time and waits for it, as
// the hops of one order do; producers=16 runs sixteen at once (many orders)
// against the one consumer.
//
// mode=notify is the relay woken by LISTEN/NOTIFY and a consumer reading one
// message per XREADGROUP (how it was); mode=nudge is the in-process nudge of
// BeginFunc and ReadCount's default. Compare the two in one run:
//
//	go test -run '^$' -bench CommitToHandler -benchtime 2000x ./internal/events/
func BenchmarkCommitToHandler(b *testing.B) {
	for _, mode := range []string{"notify", "nudge"} {
		for _, producers := range []int{1, 16} {
			b.Run(fmt.Sprintf("mode=%s/producers=%d", mode, producers), func(b *testing.B) {
				nudge := mode == "nudge"
				inProcessNudge.Store(nudge)
				b.Cleanup(func() { inProcessNudge.Store(true) })
				readCount := 1
				if nudge {
					readCount = 0 // the default
				}
				benchmarkHops(b, producers, readCount)
			})
		}
	}
}

func benchmarkHops(b *testing.B, producers, readCount int) {
	e := newEnv(b)
	e.startRelay(b, RelayOptions{})
	var waiting sync.Map // message ID → chan time.Time
	e.startTx(b, ConsumerOptions{Stream: "bench", Group: "g", ReadCount: readCount}, func(ctx context.Context, tx pgx.Tx, m Message) error {
		if ch, ok := waiting.Load(m.ID); ok {
			ch.(chan time.Time) <- time.Now()
		}
		return recordEffect(ctx, tx, m)
	})
	ctx := context.Background()
	hop := func(key string) time.Duration {
		m, err := New("bench.Hop", key, map[string]int{"n": 1}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		invoked := make(chan time.Time, 1)
		waiting.Store(m.ID, invoked)
		defer waiting.Delete(m.ID)
		var committing time.Time
		err = BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			if err := Add(ctx, tx, "bench", m); err != nil {
				return err
			}
			committing = time.Now() // pgx commits when fn returns
			return nil
		})
		if err != nil {
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
		hop("warm-up")
	}

	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	var left atomic.Int64
	b.ResetTimer()
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			key := fmt.Sprint("producer-", p)
			var mine []time.Duration
			for left.Add(-1) >= 0 {
				mine = append(mine, hop(key))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hops/s")
}
