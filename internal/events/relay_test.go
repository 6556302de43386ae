package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopgraph/shopgraph/internal/testenv"
)

func TestCommittedMessageReachesHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(e *env, c *Consumer, got chan<- Message) func(context.Context) error
	}{
		{"RunTx", func(e *env, c *Consumer, got chan<- Message) func(context.Context) error {
			return func(ctx context.Context) error {
				return c.RunTx(ctx, e.pool, func(ctx context.Context, tx pgx.Tx, m Message) error {
					got <- m
					return recordEffect(ctx, tx, m)
				})
			}
		}},
		{"Run", func(e *env, c *Consumer, got chan<- Message) func(context.Context) error {
			return func(ctx context.Context) error {
				return c.Run(ctx, func(ctx context.Context, m Message) error { got <- m; return nil })
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.startRelay(t, RelayOptions{PollInterval: time.Hour}) // only NOTIFY can wake it
			got := make(chan Message, 10)
			c := NewConsumer(e.rdb, ConsumerOptions{Stream: "orders.events", Group: "test", Prefix: e.prefix, Log: e.log})
			start(t, "consumer", tc.run(e, c, got))

			// Three commits, one after the other: the relay's start and its
			// listener's first wake-up cover at most two, so a NOTIFY woke it.
			ctx := context.Background()
			for i := range 3 {
				orderID := fmt.Sprintf("o%d", i)
				sent := newMessage(t, "orders.OrderPlaced", orderID, nil)
				sent.Payload = []byte(`{"orderId": "` + orderID + `",  "lines": [{"sku":"TEE-M","qty":2}], "a": 1}`)
				sent.Metadata[MetaCorrelationID] = "corr-" + orderID
				err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, `INSERT INTO orders (id, status) VALUES ($1, 'PENDING')`, orderID); err != nil {
						return err
					}
					return Add(ctx, tx, "orders.events", sent)
				})
				if err != nil {
					t.Fatal(err)
				}

				var m Message
				select {
				case m = <-got:
				case <-time.After(45 * time.Second):
					t.Fatalf("message %d: handler not invoked", i)
				}
				wantPayload := `{"orderId":"` + orderID + `","lines":[{"sku":"TEE-M","qty":2}],"a":1}` // compacted, key order kept
				if m.ID != sent.ID || m.Type != sent.Type || m.Key != sent.Key || string(m.Payload) != wantPayload ||
					!m.OccurredAt.Equal(sent.OccurredAt) || m.Metadata[MetaCorrelationID] != "corr-"+orderID || len(m.Metadata) != 1 {
					t.Errorf("handler got %+v\nwant %+v", m, sent)
				}
			}
			waitFor(t, "outbox to empty", func() bool { return e.outboxLen(t) == 0 })
			waitFor(t, "group to acknowledge", func() bool { return e.drained(t, "orders.events", "test", 3) })
		})
	}
}

func TestRolledBackTransactionPublishesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startRelay(t, RelayOptions{PollInterval: 20 * time.Millisecond})
	var mu sync.Mutex
	var handled []string
	e.startTx(t, ConsumerOptions{Stream: "s", Group: "g"}, func(ctx context.Context, tx pgx.Tx, m Message) error {
		mu.Lock()
		handled = append(handled, m.Type)
		mu.Unlock()
		return recordEffect(ctx, tx, m)
	})

	ctx := context.Background()
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := Add(ctx, tx, "s", newMessage(t, "test.RolledBack", "k", 1)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// A later committed message: once it is handled, the relay has had every
	// chance to publish the first.
	marker := newMessage(t, "test.Committed", "k", 2)
	e.publish(t, "s", marker)
	waitFor(t, "marker to be handled", func() bool { return e.effects(t, marker.ID) == 1 })

	if n := e.streamLen(t, "s"); n != 1 {
		t.Errorf("stream holds %d entries, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handled) != 1 || handled[0] != "test.Committed" {
		t.Errorf("handled %v, want only test.Committed", handled)
	}
}

// TestDuplicateHasOneEffect delivers one message twice: once because the relay
// failed between XADD and deleting the row, once because the producer added it twice.
func TestDuplicateHasOneEffect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		publish func(t *testing.T, e *env, r *Relay, m Message)
	}{
		{"relay crashed after XADD", func(t *testing.T, e *env, r *Relay, m Message) {
			e.publish(t, "s", m)
		}},
		{"delivered twice", func(t *testing.T, e *env, r *Relay, m Message) {
			e.publish(t, "s", m)
			e.publish(t, "s", m)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			r := NewRelay(e.pool, e.rdb, RelayOptions{Prefix: e.prefix, Log: e.log, PollInterval: 20 * time.Millisecond})
			var crashes atomic.Int32
			if tc.name == "relay crashed after XADD" {
				r.beforeDelete = func() error {
					if crashes.Add(1) == 1 {
						return errors.New("simulated crash after XADD")
					}
					return nil
				}
			}
			start(t, "relay", r.Run)
			var calls atomic.Int32
			e.startTx(t, ConsumerOptions{Stream: "s", Group: "g"}, func(ctx context.Context, tx pgx.Tx, m Message) error {
				calls.Add(1)
				return recordEffect(ctx, tx, m)
			})

			m := newMessage(t, "test.Once", "k", 1)
			tc.publish(t, e, r, m)
			waitFor(t, "both copies to be consumed", func() bool { return e.drained(t, "s", "g", 2) })
			waitFor(t, "outbox to empty", func() bool { return e.outboxLen(t) == 0 })

			for _, got := range e.entries(t, "s") {
				if got.ID != m.ID {
					t.Errorf("stream entry %s, want only %s", got.ID, m.ID)
				}
			}
			if n := e.effects(t, m.ID); n != 1 {
				t.Errorf("effect applied %d times, want 1", n)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("handler invoked %d times, want 1", n)
			}
			if _, ok := e.logs.find(slog.LevelDebug, "dropped duplicate message", "message_id", m.ID); !ok {
				t.Error("the duplicate was not reported as dropped")
			}
		})
	}
}

func TestTwoRelaysDoNotDoublePublish(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Small batches and a fast poll, so that the two relays contend often.
	e.startRelay(t, RelayOptions{BatchSize: 3, PollInterval: 5 * time.Millisecond})
	e.startRelay(t, RelayOptions{BatchSize: 3, PollInterval: 5 * time.Millisecond})

	const producers, txs, perTx = 4, 25, 2
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range txs {
				var msgs []Message
				for j := range perTx {
					m, err := New("test.Seq", fmt.Sprint(p), i*perTx+j, time.Now())
					if err != nil {
						t.Error(err)
						return
					}
					msgs = append(msgs, m)
				}
				if err := e.add("s", msgs...); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	const total = producers * txs * perTx
	waitFor(t, "outbox to empty", func() bool { return e.outboxLen(t) == 0 })

	entries := e.entries(t, "s")
	if len(entries) != total {
		t.Errorf("stream holds %d entries, want %d", len(entries), total)
	}
	seen := map[string]bool{}
	next := map[string]int{} // per producer, the sequence number expected next
	for _, m := range entries {
		if seen[m.ID] {
			t.Errorf("message %s published twice", m.ID)
		}
		seen[m.ID] = true
		seq, err := Decode[int](m)
		if err != nil {
			t.Fatal(err)
		}
		if seq != next[m.Key] {
			t.Errorf("producer %s: got message %d, want %d (stream out of commit order)", m.Key, seq, next[m.Key])
		}
		next[m.Key] = seq + 1
	}
}

func TestRelayWithoutMigrationFails(t *testing.T) {
	t.Parallel()
	pool := testenv.Postgres(t, "events", nil)
	rdb, prefix := testenv.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	err := NewRelay(pool, rdb, RelayOptions{Prefix: prefix, Log: testenv.Logger()}).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "events.Migrate") {
		t.Errorf("Run = %v, want an error that names events.Migrate", err)
	}
}

func TestPruneInbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, `
		INSERT INTO events_inbox (stream, consumer_group, message_id, handled_at) VALUES
		('s', 'g', 'old', now() - interval '8 days'), ('s', 'g', 'new', now())`); err != nil {
		t.Fatal(err)
	}
	n, err := PruneInbox(ctx, e.pool, time.Now().Add(-7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	rows, _ := e.pool.Query(ctx, `SELECT message_id FROM events_inbox`)
	left, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || len(left) != 1 || left[0] != "new" {
		t.Errorf("PruneInbox deleted %d, left %v; want 1 deleted and [new] left", n, left)
	}
}
