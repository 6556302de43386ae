package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// RelayOptions configures a Relay. The zero value of each field is a
// reasonable default.
type RelayOptions struct {
	// Prefix is prepended to every stream name to form its Redis key.
	Prefix string
	// PollInterval is how often the outbox is read when no NOTIFY arrives:
	// the safety net if a notification is lost. Default 500ms.
	PollInterval time.Duration
	// BatchSize is how many rows one pass publishes at most. Default 100.
	BatchSize int
	// MaxLen, if positive, trims each stream to about that many entries
	// (XADD MAXLEN ~). Default 0: streams are not trimmed, since trimming can
	// drop entries that a lagging consumer group has not read yet.
	MaxLen int64
	// Log receives errors and debug traces. Default: discard.
	Log *slog.Logger
}

// Relay moves committed messages from the service's outbox table to their
// Redis streams, oldest first, and deletes them from the outbox in the same
// transaction. If it fails between XADD and that commit, the rows stay and
// are published again: delivery is at least once, and consumers drop the
// duplicate by message ID.
//
// Several replicas may run a Relay on the same schema: a transaction-level
// advisory lock lets one pass run at a time, so a row is not published twice
// in the normal case and a stream receives its messages in outbox order.
type Relay struct {
	pool *pgxpool.Pool
	rdb  *redis.Client
	opts RelayOptions
	log  *slog.Logger
	wake chan struct{}

	// noListen, if set, leaves out LISTEN: only nudges and the poll wake
	// the relay. Tests use it.
	noListen bool

	// beforeDelete, if set, runs after XADD and before the rows are deleted;
	// an error aborts the pass. Tests use it to simulate a crash.
	beforeDelete func() error
}

// relayLockClass is the first key of the relay's two-key advisory lock; the
// second is the hash of the schema name.
const relayLockClass = 0x65766e74 // "evnt"

// NewRelay returns a relay for the outbox in pool's schema, publishing to rdb.
func NewRelay(pool *pgxpool.Pool, rdb *redis.Client, opts RelayOptions) *Relay {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 500 * time.Millisecond
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{
		pool: pool,
		rdb:  rdb,
		opts: opts,
		log:  log.With("component", "events.relay"),
		wake: make(chan struct{}, 1),
	}
}

// Run publishes the outbox until ctx is done, then returns nil. It wakes on
// every commit that added messages (LISTEN/NOTIFY, or at once for a commit
// of this process: see [BeginFunc]) and every PollInterval.
// Errors talking to PostgreSQL or Redis are logged and retried; Run returns
// an error only if the outbox table does not exist (Migrate was not called).
func (r *Relay) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer registerRelay(r)() // BeginFunc and Notify in this process wake it
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !r.noListen {
		wg.Go(func() { r.listen(ctx) })
	}

	tick := time.NewTicker(r.opts.PollInterval)
	defer tick.Stop()
	for {
		err := r.drain(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
				return fmt.Errorf("events relay: %w (did the service call events.Migrate?)", err)
			}
			r.log.Error("publish outbox", "error", err)
			// Wait a poll interval before retrying, whatever wakes us.
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-tick.C:
		}
	}
}

func (r *Relay) nudge() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// drain publishes batches until the outbox is empty.
func (r *Relay) drain(ctx context.Context) error {
	for {
		n, err := r.publishBatch(ctx)
		if err != nil || n < r.opts.BatchSize {
			return err
		}
	}
}

type outboxRow struct {
	seq    int64
	stream string
	msg    Message
}

// publishBatch publishes up to BatchSize of the oldest outbox rows and
// deletes them, and returns how many it published. It costs two round trips
// to PostgreSQL (BEGIN, lock and SELECT in one pipeline; DELETE and COMMIT
// in another) and one to Redis (the XADDs in one pipeline).
func (r *Relay) publishBatch(ctx context.Context) (int, error) {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("acquire: %w", err)
	}
	// A connection given back inside a transaction (after an error) is
	// closed by the pool, which rolls the transaction back.
	defer conn.Release()
	done := false
	defer func() {
		if !done {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()

	// Serialize the relays of this schema. The lock is taken before the
	// SELECT, so that a relay that waited sees every row committed before it
	// got the lock.
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(`SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, relayLockClass)
	b.Queue(selectOutbox, r.opts.BatchSize)
	br := conn.SendBatch(ctx, b)
	rows, err := r.readOutbox(br)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("read outbox: %w", cerr)
	}
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return 0, nil
	}

	pipe := r.rdb.Pipeline()
	seqs := make([]int64, len(rows))
	sends := make([]trace.Span, 0, len(rows))
	// The XADDs of one message are its send span's; those of several
	// (perhaps of several traces) belong to none of them.
	sendCtx := ctx
	defer func() {
		for _, s := range sends {
			s.End()
		}
	}()
	for i, row := range rows {
		msg := row.msg
		if sctx, span := startSend(ctx, row.stream, &msg); span != nil {
			sends = append(sends, span)
			if len(rows) == 1 {
				sendCtx = sctx
			}
		}
		values, err := toWatermill(msg)
		if err != nil {
			return 0, err
		}
		pipe.XAdd(ctx, &redis.XAddArgs{
			Stream: r.opts.Prefix + row.stream,
			Values: values,
			MaxLen: r.opts.MaxLen,
			Approx: r.opts.MaxLen > 0,
		})
		seqs[i] = row.seq
	}
	if _, err := pipe.Exec(sendCtx); err != nil {
		for _, s := range sends {
			s.RecordError(err)
			s.SetStatus(codes.Error, "XADD failed")
		}
		return 0, fmt.Errorf("XADD: %w", err)
	}
	if r.beforeDelete != nil {
		if err := r.beforeDelete(); err != nil {
			return 0, err
		}
	}
	b = &pgx.Batch{}
	b.Queue(`DELETE FROM events_outbox WHERE seq = ANY($1)`, seqs)
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("delete published rows: %w", err)
	}
	done = true
	r.log.Debug("published outbox messages", "count", len(rows))
	return len(rows), nil
}

const selectOutbox = `
	SELECT seq, stream, id, type, key, payload, metadata, occurred_at
	FROM events_outbox ORDER BY seq LIMIT $1`

// readOutbox reads the results of BEGIN, the lock and selectOutbox.
func (r *Relay) readOutbox(br pgx.BatchResults) ([]outboxRow, error) {
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("lock outbox: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		var payload []byte
		err := row.Scan(&o.seq, &o.stream, &o.msg.ID, &o.msg.Type, &o.msg.Key, &payload, &o.msg.Metadata, &o.msg.OccurredAt)
		o.msg.Payload = payload
		o.msg.OccurredAt = o.msg.OccurredAt.UTC()
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// listen wakes the relay on every NOTIFY for this schema's outbox, on its own
// connection, reconnecting after a failure; the poll covers the gaps.
func (r *Relay) listen(ctx context.Context) {
	for {
		err := r.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("outbox listener lost; polling until it reconnects", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.opts.PollInterval):
		}
	}
}

func (r *Relay) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, r.pool.Config().ConnConfig)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var channel string
	if err := conn.QueryRow(ctx, `SELECT `+notifyChannel).Scan(&channel); err != nil {
		return fmt.Errorf("outbox channel: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	r.nudge() // for rows committed while no one listened
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		r.nudge()
	}
}
