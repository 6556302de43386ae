package events

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// TestBeginFuncWakesTheRelayInProcess: with no LISTEN and no poll, only the
// in-process nudge can wake the relay, for a producer's commit, one in a
// savepoint, and a consumer's follow-up.
func TestBeginFuncWakesTheRelayInProcess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := NewRelay(e.pool, e.rdb, RelayOptions{Prefix: e.prefix, Log: e.log, PollInterval: time.Hour})
	r.noListen = true
	start(t, "relay", r.Run)
	got := make(chan Message, 10)
	// The first consumer answers each message with a follow-up on "replies".
	e.startTx(t, ConsumerOptions{Stream: "s", Group: "g"}, func(ctx context.Context, tx pgx.Tx, m Message) error {
		reply, err := m.FollowUp("test.Reply", m.Key, nil, time.Now())
		if err != nil {
			return err
		}
		return Add(ctx, tx, "replies", reply)
	})
	e.startTx(t, ConsumerOptions{Stream: "replies", Group: "g"}, func(ctx context.Context, tx pgx.Tx, m Message) error {
		got <- m
		return recordEffect(ctx, tx, m)
	})
	ctx := context.Background()
	waitFor(t, "the relay to register", func() bool { return hasLocalRelay(e.pool) })

	commits := []struct {
		name string
		add  func(tx pgx.Tx, m Message) error
	}{
		{"in the transaction", func(tx pgx.Tx, m Message) error { return Add(ctx, tx, "s", m) }},
		{"in a savepoint", func(tx pgx.Tx, m Message) error {
			return pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error { return Add(ctx, sp, "s", m) })
		}},
		{"again", func(tx pgx.Tx, m Message) error { return Add(ctx, tx, "s", m) }},
	}
	for i, c := range commits {
		m := newMessage(t, "test.Ask", fmt.Sprint(i), nil)
		if err := BeginFunc(ctx, e.pool, func(tx pgx.Tx) error { return c.add(tx, m) }); err != nil {
			t.Fatal(err)
		}
		select {
		case reply := <-got:
			if reply.Metadata[MetaCausationID] != m.ID {
				t.Errorf("%s: reply caused by %q, want %q", c.name, reply.Metadata[MetaCausationID], m.ID)
			}
		case <-time.After(45 * time.Second):
			t.Fatalf("%s: the reply never came: the relay was not woken", c.name)
		}
	}
}

// TestAddOutsideBeginFuncStillNotifies: a transaction that BeginFunc does
// not run wakes the relays through NOTIFY, as before.
func TestAddOutsideBeginFuncStillNotifies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startRelay(t, RelayOptions{PollInterval: time.Hour})
	got := make(chan Message, 10)
	e.startTx(t, ConsumerOptions{Stream: "s", Group: "g"}, func(ctx context.Context, tx pgx.Tx, m Message) error {
		got <- m
		return recordEffect(ctx, tx, m)
	})
	for i := range 3 { // the relay's start covers at most the first two
		e.publish(t, "s", newMessage(t, "test.Plain", fmt.Sprint(i), nil))
		select {
		case <-got:
		case <-time.After(45 * time.Second):
			t.Fatalf("message %d never came", i)
		}
	}
}

// readCounter counts the XREADGROUP calls for new messages that a client
// makes, and the messages they return.
type readCounter struct {
	mu    sync.Mutex
	reads []int
}

func (c *readCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *readCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (c *readCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if x, ok := cmd.(*redis.XStreamSliceCmd); ok && cmd.Name() == "xreadgroup" && err == nil {
			n := 0
			for _, s := range x.Val() {
				n += len(s.Messages)
			}
			c.mu.Lock()
			c.reads = append(c.reads, n)
			c.mu.Unlock()
		}
		return err
	}
}

func TestConsumerReadsSeveralMessagesPerRead(t *testing.T) {
	t.Parallel()
	const total = 25
	tests := []struct {
		readCount int
		wantReads int // reads that returned messages
	}{
		{readCount: 0, wantReads: 3}, // the default, 10
		{readCount: 1, wantReads: total},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("ReadCount=%d", tc.readCount), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.startRelay(t, RelayOptions{})
			var msgs []Message
			for i := range total {
				msgs = append(msgs, newMessage(t, "test.Seq", "k", i))
			}
			e.publish(t, "s", msgs...)
			waitFor(t, "the messages in the stream", func() bool { return e.streamLen(t, "s") == total })

			counter := &readCounter{}
			rdb := redis.NewClient(e.rdb.Options())
			rdb.AddHook(counter)
			t.Cleanup(func() { _ = rdb.Close() })
			var mu sync.Mutex
			var order []int
			c := NewConsumer(rdb, ConsumerOptions{Stream: "s", Group: "g", Prefix: e.prefix, Log: e.log, ReadCount: tc.readCount})
			start(t, "consumer", func(ctx context.Context) error {
				return c.RunTx(ctx, e.pool, func(ctx context.Context, tx pgx.Tx, m Message) error {
					n, err := Decode[int](m)
					if err != nil {
						return err
					}
					mu.Lock()
					order = append(order, n)
					mu.Unlock()
					return recordEffect(ctx, tx, m)
				})
			})
			waitFor(t, "every message to be acknowledged", func() bool { return e.drained(t, "s", "g", total) })

			mu.Lock()
			defer mu.Unlock()
			for i, n := range order {
				if n != i {
					t.Fatalf("handled %v, want 0…%d in order, each once", order, total-1)
				}
			}
			if len(order) != total {
				t.Fatalf("handled %d messages, want %d", len(order), total)
			}
			counter.mu.Lock()
			defer counter.mu.Unlock()
			var nonEmpty []int
			for _, n := range counter.reads {
				if n > 0 {
					nonEmpty = append(nonEmpty, n)
				}
			}
			if len(nonEmpty) != tc.wantReads {
				t.Errorf("XREADGROUP returned messages %d times %v, want %d", len(nonEmpty), nonEmpty, tc.wantReads)
			}
		})
	}
}
