package events

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/testenv"
)

// env is one test's slice of PostgreSQL and Redis, with the events tables
// and an effects table that handlers write to.
type env struct {
	pool   *pgxpool.Pool
	rdb    *redis.Client
	prefix string
	log    *slog.Logger
	logs   *recorder
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Postgres(t, "events", nil)
	if err := Migrate(ctx, pool, testenv.Logger()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if _, err := pool.Exec(ctx, `
		CREATE TABLE effects (message_id text NOT NULL);
		CREATE TABLE orders (id text PRIMARY KEY, status text NOT NULL);`); err != nil {
		t.Fatal(err)
	}
	rdb, prefix := testenv.Redis(t)
	logs := &recorder{}
	return &env{pool: pool, rdb: rdb, prefix: prefix, logs: logs, log: slog.New(teeHandler{testenv.Logger().Handler(), logs})}
}

// start runs fn in the background until the test ends.
func start(t testing.TB, name string, fn func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fn(ctx); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Errorf("%s did not stop", name)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func (e *env) startRelay(t testing.TB, opts RelayOptions) *Relay {
	t.Helper()
	opts.Prefix, opts.Log = e.prefix, e.log
	r := NewRelay(e.pool, e.rdb, opts)
	start(t, "relay", r.Run)
	return r
}

// startTx starts a consumer with h that also records its effect.
func (e *env) startTx(t testing.TB, opts ConsumerOptions, h TxHandler) (stop func()) {
	t.Helper()
	opts.Prefix, opts.Log = e.prefix, e.log
	c := NewConsumer(e.rdb, opts)
	return start(t, "consumer "+opts.Name, func(ctx context.Context) error { return c.RunTx(ctx, e.pool, h) })
}

// recordEffect is the effect of the test handlers.
func recordEffect(ctx context.Context, tx pgx.Tx, m Message) error {
	_, err := tx.Exec(ctx, `INSERT INTO effects (message_id) VALUES ($1)`, m.ID)
	return err
}

// publish commits msgs to stream in one transaction.
func (e *env) publish(t testing.TB, stream string, msgs ...Message) {
	t.Helper()
	if err := e.add(stream, msgs...); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// add commits msgs to stream in one transaction; safe in any goroutine.
func (e *env) add(stream string, msgs ...Message) error {
	ctx := context.Background()
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error { return Add(ctx, tx, stream, msgs...) })
}

func (e *env) effects(t testing.TB, id string) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM effects WHERE message_id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) outboxLen(t testing.TB) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM events_outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) streamLen(t testing.TB, stream string) int64 {
	t.Helper()
	n, err := e.rdb.XLen(context.Background(), e.prefix+stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// entries returns the messages in stream, in stream order.
func (e *env) entries(t testing.TB, stream string) []Message {
	t.Helper()
	xs, err := e.rdb.XRange(context.Background(), e.prefix+stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []Message
	for _, x := range xs {
		msg, err := unmarshaller{}.Unmarshal(x.Values)
		if err != nil {
			t.Fatal(err)
		}
		m, err := fromWatermill(msg)
		if err != nil {
			t.Fatalf("entry %s: %v", x.ID, err)
		}
		out = append(out, m)
	}
	return out
}

// drained reports whether group has read and acknowledged all n entries of stream.
func (e *env) drained(t testing.TB, stream, group string, n int64) bool {
	t.Helper()
	ctx := context.Background()
	if l, err := e.rdb.XLen(ctx, e.prefix+stream).Result(); err != nil || l != n {
		return false
	}
	groups, err := e.rdb.XInfoGroups(ctx, e.prefix+stream).Result()
	if err != nil {
		return false
	}
	for _, g := range groups {
		if g.Name == group {
			return g.Pending == 0 && g.Lag == 0 && g.EntriesRead == n
		}
	}
	return false
}

// waitFor waits for cond with a deadline generous enough for a loaded machine.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newMessage(t testing.TB, typ, key string, payload any) Message {
	t.Helper()
	m, err := New(typ, key, payload, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// recorder keeps log records for assertions.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

// find returns the first record at level with message msg and attr key=value.
func (r *recorder) find(level slog.Level, msg, key, value string) (slog.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if rec.Level != level || rec.Message != msg {
			continue
		}
		found := false
		rec.Attrs(func(a slog.Attr) bool {
			found = a.Key == key && a.Value.String() == value
			return !found
		})
		if found {
			return rec, true
		}
	}
	return slog.Record{}, false
}

// teeHandler sends records to a handler and, with their attributes, to a recorder.
type teeHandler struct {
	next slog.Handler
	rec  *recorder
}

func (h teeHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	h.rec.mu.Lock()
	h.rec.records = append(h.rec.records, r.Clone())
	h.rec.mu.Unlock()
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return attrsHandler{h, as}
}

func (h teeHandler) WithGroup(string) slog.Handler { return h }

// attrsHandler adds the logger's attributes to each record before teeing it.
type attrsHandler struct {
	h     teeHandler
	attrs []slog.Attr
}

func (a attrsHandler) Enabled(ctx context.Context, l slog.Level) bool { return true }
func (a attrsHandler) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(a.attrs...)
	return a.h.Handle(ctx, r)
}
func (a attrsHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return attrsHandler{a.h, append(append([]slog.Attr{}, a.attrs...), as...)}
}
func (a attrsHandler) WithGroup(string) slog.Handler { return a }

var errBoom = errors.New("boom")
