package events

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// wipe deletes every Redis key of the test, as a Redis restarted without
// its data would have lost them.
func (e *env) wipe(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	iter := e.rdb.Scan(ctx, 0, e.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := e.rdb.Del(ctx, iter.Val()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
}

// startRun starts a consumer with a plain (non-transactional) handler.
func (e *env) startRun(t testing.TB, opts ConsumerOptions, h Handler) (stop func()) {
	t.Helper()
	opts.Prefix, opts.Log = e.prefix, e.log
	c := NewConsumer(e.rdb, opts)
	return start(t, "consumer "+opts.Name, func(ctx context.Context) error { return c.Run(ctx, h) })
}

// TestConsumerRecoversLostGroup: after Redis loses its data (restarted
// empty), a running consumer recreates its group on its own and handles
// what is published next, without a restart.
func TestConsumerRecoversLostGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// busy: the data is lost while the consumer is handling a message.
		busy bool
	}{
		{"idle consumer", false},
		{"consumer busy when the data is lost", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.startRelay(t, RelayOptions{})
			first, second := newMessage(t, "test.Before", "k", 1), newMessage(t, "test.After", "k", 2)
			handling, release := make(chan struct{}), make(chan struct{})
			e.startTx(t, ConsumerOptions{Stream: "s", Group: "g", Name: "c"}, func(ctx context.Context, tx pgx.Tx, m Message) error {
				if tc.busy && m.ID == first.ID {
					close(handling)
					<-release
				}
				return recordEffect(ctx, tx, m)
			})
			e.publish(t, "s", first)
			if tc.busy {
				<-handling
			} else {
				waitFor(t, "the first message", func() bool { return e.drained(t, "s", "g", 1) })
			}
			e.wipe(t)
			e.publish(t, "s", second)
			if tc.busy {
				time.Sleep(200 * time.Millisecond)
				close(release)
			}
			waitFor(t, "the message published after the loss", func() bool { return e.effects(t, second.ID) == 1 })
			waitFor(t, "the group to be drained", func() bool { return e.drained(t, "s", "g", 1) })
			if n := e.effects(t, first.ID); n != 1 {
				t.Errorf("first message's effect applied %d times, want 1", n)
			}
			if _, ok := e.logs.find(slog.LevelWarn, "consumer group was missing (Redis restarted empty?); created it again", "group", "g"); !ok {
				t.Error("the recreation of the group was not logged")
			}
		})
	}
}

// TestDeadConsumersMessageIsTakenOverQuickly: a message held by a consumer
// that was killed (its heartbeat stops) goes to another member of the group
// a few seconds after the heartbeat expires, with the default ClaimIdle —
// well inside a saga step's two-minute deadline.
func TestDeadConsumersMessageIsTakenOverQuickly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startRelay(t, RelayOptions{})
	ctx := context.Background()
	m := newMessage(t, "test.Orphan", "k", 1)
	if err := e.rdb.XGroupCreateMkStream(ctx, e.prefix+"s", "g", "0").Err(); err != nil {
		t.Fatal(err)
	}
	e.publish(t, "s", m)
	waitFor(t, "the message in the stream", func() bool { return e.streamLen(t, "s") == 1 })
	// The dead consumer read the message and beat its heartbeat just before
	// it was killed.
	dead := NewConsumer(e.rdb, ConsumerOptions{Stream: "s", Group: "g", Name: "dead", Prefix: e.prefix})
	if err := dead.beat(ctx); err != nil {
		t.Fatal(err)
	}
	xs, err := e.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "dead", Streams: []string{e.prefix + "s", ">"}, Count: 1, Block: -1}).Result()
	if err != nil || len(xs) != 1 || len(xs[0].Messages) != 1 {
		t.Fatalf("XREADGROUP = %v, %v", xs, err)
	}
	killed := time.Now()
	e.startTx(t, ConsumerOptions{Stream: "s", Group: "g", Name: "survivor"}, recordEffect)
	waitFor(t, "the dead consumer's message to be taken over", func() bool { return e.effects(t, m.ID) == 1 })
	if took := time.Since(killed); took < DefaultClaimIdle-500*time.Millisecond || took > 3*DefaultClaimIdle {
		t.Errorf("taken over %v after the kill, want about ClaimIdle (%v): after the heartbeat expires, well inside the step deadline", took, DefaultClaimIdle)
	}
}

// TestSlowLiveConsumerKeepsItsMessage: a handler that runs far longer than
// ClaimIdle is not robbed of its message by another member of the group
// while its consumer is alive, so the message is handled once.
func TestSlowLiveConsumerKeepsItsMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startRelay(t, RelayOptions{})
	const claimIdle = 300 * time.Millisecond
	var mu sync.Mutex
	calls := map[string][]string{} // message ID → consumers that handled it
	handling := make(chan struct{}, 1)
	handler := func(name string, d time.Duration) Handler {
		return func(ctx context.Context, m Message) error {
			mu.Lock()
			calls[m.ID] = append(calls[m.ID], name)
			mu.Unlock()
			select {
			case handling <- struct{}{}:
			default:
			}
			select {
			case <-time.After(d):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	e.startRun(t, ConsumerOptions{Stream: "s", Group: "g", Name: "slow", ClaimIdle: claimIdle}, handler("slow", 6*claimIdle))
	m := newMessage(t, "test.Slow", "k", 1)
	e.publish(t, "s", m)
	<-handling
	var other atomic.Bool
	e.startRun(t, ConsumerOptions{Stream: "s", Group: "g", Name: "other", ClaimIdle: claimIdle}, func(ctx context.Context, got Message) error {
		other.Store(true)
		return handler("other", 0)(ctx, got)
	})
	waitFor(t, "the slow handler to finish", func() bool { return e.drained(t, "s", "g", 1) })
	time.Sleep(2 * claimIdle) // a late claim would show here
	mu.Lock()
	defer mu.Unlock()
	if got := calls[m.ID]; len(got) != 1 || got[0] != "slow" {
		t.Errorf("message handled by %v, want only by the slow consumer", got)
	}
}
