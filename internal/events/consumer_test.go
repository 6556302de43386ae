package events

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

func TestFailingHandlerIsRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startRelay(t, RelayOptions{})
	const failures, backoff = 3, 50 * time.Millisecond
	var mu sync.Mutex
	var attempts []time.Time
	e.startTx(t, ConsumerOptions{Stream: "s", Group: "g", MaxRetries: 5, Backoff: backoff},
		func(ctx context.Context, tx pgx.Tx, m Message) error {
			mu.Lock()
			attempts = append(attempts, time.Now())
			n := len(attempts)
			mu.Unlock()
			// The effect of a failed attempt must be rolled back with it.
			if err := recordEffect(ctx, tx, m); err != nil {
				return err
			}
			if n <= failures {
				return fmt.Errorf("attempt %d: %w", n, errBoom)
			}
			return nil
		})

	m := newMessage(t, "test.Flaky", "k", 1)
	e.publish(t, "s", m)
	waitFor(t, "message to be acknowledged", func() bool { return e.drained(t, "s", "g", 1) })

	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != failures+1 {
		t.Fatalf("handler ran %d times, want %d", len(attempts), failures+1)
	}
	if n := e.effects(t, m.ID); n != 1 {
		t.Errorf("effect applied %d times, want 1", n)
	}
	if n := e.streamLen(t, "s.dead-letter"); n != 0 {
		t.Errorf("dead-letter stream holds %d entries, want 0", n)
	}
	// Each wait is at least the doubled backoff, less the 20% jitter.
	for i := 1; i < len(attempts); i++ {
		least := time.Duration(float64(backoff<<(i-1)) * 0.8)
		if gap := attempts[i].Sub(attempts[i-1]); gap < least {
			t.Errorf("retry %d came %v after the previous attempt, want at least %v", i, gap, least)
		}
	}
	if _, ok := e.logs.find(slog.LevelWarn, "message handler failed", "message_id", m.ID); !ok {
		t.Error("failed attempts were not logged")
	}
}

func TestPoisonMessageIsDeadLettered(t *testing.T) {
	t.Parallel()
	const maxRetries = 2
	tests := []struct {
		name     string
		handle   func() error
		attempts int32
		reason   string
		// unreadable entries are written to Redis by hand, not through the outbox.
		unreadable bool
	}{
		{name: "fails every time", handle: func() error { return errBoom }, attempts: maxRetries + 1, reason: "boom"},
		{name: "permanent error", handle: func() error { return Permanent(fmt.Errorf("no such order: %w", errBoom)) }, attempts: 1, reason: "no such order"},
		{name: "panics", handle: func() error { panic("kaput") }, attempts: maxRetries + 1, reason: "kaput"},
		{name: "unreadable entry", unreadable: true, reason: "unreadable stream entry"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.startRelay(t, RelayOptions{})
			var attempts atomic.Int32
			e.startTx(t, ConsumerOptions{Stream: "s", Group: "g", MaxRetries: maxRetries, Backoff: 10 * time.Millisecond},
				func(ctx context.Context, tx pgx.Tx, m Message) error {
					if m.Type == "test.Poison" {
						attempts.Add(1)
						return tc.handle()
					}
					return recordEffect(ctx, tx, m)
				})

			poison := newMessage(t, "test.Poison", "k", map[string]int{"n": 1})
			if tc.unreadable {
				if err := e.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: e.prefix + "s", Values: map[string]any{"foo": "bar"}}).Err(); err != nil {
					t.Fatal(err)
				}
			} else {
				e.publish(t, "s", poison)
			}
			next := newMessage(t, "test.Next", "k", 2)
			e.publish(t, "s", next)

			waitFor(t, "the next message to be handled", func() bool { return e.effects(t, next.ID) == 1 })
			waitFor(t, "the dead-letter entry", func() bool { return e.streamLen(t, "s.dead-letter") == 1 })
			waitFor(t, "both messages to be acknowledged", func() bool { return e.drained(t, "s", "g", 2) })
			if n := attempts.Load(); n != tc.attempts {
				t.Errorf("poison handled %d times, want %d", n, tc.attempts)
			}

			xs, err := e.rdb.XRange(context.Background(), e.prefix+"s.dead-letter", "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			dead, err := redisstream.DefaultMarshallerUnmarshaller{}.Unmarshal(xs[0].Values)
			if err != nil {
				t.Fatal(err)
			}
			if r := dead.Metadata.Get(MetaDeadLetterReason); !strings.Contains(r, tc.reason) {
				t.Errorf("dead-letter reason %q, want it to contain %q", r, tc.reason)
			}
			if s := dead.Metadata.Get(MetaDeadLetterStream); s != e.prefix+"s" {
				t.Errorf("dead-letter stream metadata %q, want %q", s, e.prefix+"s")
			}
			if _, ok := e.logs.find(slog.LevelError, "giving up on message; sending it to the dead-letter stream", "message_id", dead.UUID); !ok {
				t.Error("dead-lettering was not logged at Error")
			}
			if tc.unreadable {
				if !strings.Contains(string(dead.Payload), `"foo":"bar"`) {
					t.Errorf("dead-letter payload %s does not keep the unreadable entry", dead.Payload)
				}
				return
			}

			// The dead-letter stream is readable by a consumer (a replay tool).
			got := make(chan Message, 1)
			dlq := NewConsumer(e.rdb, ConsumerOptions{Stream: "s.dead-letter", Group: "replay", Prefix: e.prefix, Log: e.log})
			start(t, "dead-letter consumer", func(ctx context.Context) error {
				return dlq.Run(ctx, func(ctx context.Context, m Message) error { got <- m; return nil })
			})
			select {
			case m := <-got:
				if m.ID != poison.ID || m.Type != poison.Type || string(m.Payload) != string(poison.Payload) ||
					!strings.Contains(m.Metadata[MetaDeadLetterReason], tc.reason) {
					t.Errorf("dead-letter consumer got %+v, want %s with reason %q", m, poison.ID, tc.reason)
				}
			case <-time.After(45 * time.Second):
				t.Fatal("dead-letter consumer got nothing")
			}
		})
	}
}

func TestCrashedConsumersMessageIsClaimed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// crash leaves m delivered to a consumer of group "g" that never acknowledges it.
		crash func(t *testing.T, e *env, m Message)
	}{
		{"crashed after reading", func(t *testing.T, e *env, m Message) {
			ctx := context.Background()
			if err := e.rdb.XGroupCreateMkStream(ctx, e.prefix+"s", "g", "0").Err(); err != nil {
				t.Fatal(err)
			}
			e.publish(t, "s", m)
			waitFor(t, "the message in the stream", func() bool { return e.streamLen(t, "s") == 1 })
			xs, err := e.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "crashed", Streams: []string{e.prefix + "s", ">"}, Count: 1, Block: -1}).Result()
			if err != nil || len(xs) != 1 || len(xs[0].Messages) != 1 {
				t.Fatalf("XREADGROUP = %v, %v", xs, err)
			}
		}},
		{"killed while handling", func(t *testing.T, e *env, m Message) {
			handling := make(chan struct{})
			stop := e.startTx(t, ConsumerOptions{Stream: "s", Group: "g", Name: "killed"},
				func(ctx context.Context, tx pgx.Tx, m Message) error {
					if err := recordEffect(ctx, tx, m); err != nil {
						return err
					}
					close(handling)
					<-ctx.Done() // never finishes: the service is killed
					return ctx.Err()
				})
			e.publish(t, "s", m)
			select {
			case <-handling:
			case <-time.After(45 * time.Second):
				t.Fatal("first consumer never got the message")
			}
			stop()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.startRelay(t, RelayOptions{})
			m := newMessage(t, "test.Pending", "k", 1)
			tc.crash(t, e, m)

			pending, err := e.rdb.XPending(context.Background(), e.prefix+"s", "g").Result()
			if err != nil || pending.Count != 1 {
				t.Fatalf("before the claim: XPENDING = %+v, %v; want 1 pending", pending, err)
			}
			var calls atomic.Int32
			e.startTx(t, ConsumerOptions{Stream: "s", Group: "g", Name: "survivor", ClaimIdle: 200 * time.Millisecond},
				func(ctx context.Context, tx pgx.Tx, got Message) error {
					calls.Add(1)
					return recordEffect(ctx, tx, got)
				})
			waitFor(t, "the pending message to be claimed and handled", func() bool { return e.drained(t, "s", "g", 1) })
			if n := e.effects(t, m.ID); n != 1 {
				t.Errorf("effect applied %d times, want 1", n)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("survivor handled the message %d times, want 1", n)
			}
			if n := e.streamLen(t, "s.dead-letter"); n != 0 {
				t.Errorf("dead-letter stream holds %d entries, want 0", n)
			}
		})
	}
}

// TestStoppedConsumerHandsBackItsMessage: a message interrupted by a
// graceful stop is taken by the group's next consumer at once, not after
// ClaimIdle (a restarted service resumes its saga straight away).
func TestStoppedConsumerHandsBackItsMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startRelay(t, RelayOptions{})
	m := newMessage(t, "test.Interrupted", "k", 1)
	handling := make(chan struct{})
	stop := e.startTx(t, ConsumerOptions{Stream: "s", Group: "g", Name: "old", ClaimIdle: time.Hour},
		func(ctx context.Context, tx pgx.Tx, m Message) error {
			close(handling)
			<-ctx.Done() // interrupted by the stop
			return ctx.Err()
		})
	e.publish(t, "s", m)
	select {
	case <-handling:
	case <-time.After(45 * time.Second):
		t.Fatal("the first consumer never got the message")
	}
	stop()
	// ClaimIdle is an hour: only the hand-back lets the new consumer claim it.
	e.startTx(t, ConsumerOptions{Stream: "s", Group: "g", Name: "new", ClaimIdle: time.Hour}, recordEffect)
	waitFor(t, "the handed-back message to be handled", func() bool { return e.effects(t, m.ID) == 1 })
}

func TestWorkersHandleMessagesAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startRelay(t, RelayOptions{})
	const workers, messages = 4, 12
	var inFlight, most atomic.Int32
	all := make(chan struct{})
	var allOnce sync.Once
	e.startTx(t, ConsumerOptions{Stream: "s", Group: "g", Workers: workers},
		func(ctx context.Context, tx pgx.Tx, m Message) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				if m := most.Load(); n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			if n == workers {
				allOnce.Do(func() { close(all) })
			}
			// Hold the message until every worker has one (or give up after
			// a while: the assertion below then fails).
			select {
			case <-all:
			case <-time.After(5 * time.Second):
			}
			return recordEffect(ctx, tx, m)
		})

	var ids []string
	for i := range messages {
		m := newMessage(t, "test.Work", fmt.Sprint("k", i), i)
		ids = append(ids, m.ID)
		e.publish(t, "s", m)
	}
	waitFor(t, "every message to be acknowledged", func() bool { return e.drained(t, "s", "g", messages) })
	if got := most.Load(); got != workers {
		t.Errorf("at most %d messages were handled at once, want %d", got, workers)
	}
	for _, id := range ids {
		if n := e.effects(t, id); n != 1 {
			t.Errorf("message %s: effect applied %d times, want 1", id, n)
		}
	}
}
