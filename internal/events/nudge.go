package events

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// In-process nudge, written by hand (neither pgx nor Watermill has one).
//
// A commit wakes the relays through NOTIFY, which PostgreSQL delivers to the
// relay's listening connection a round trip or more after the commit. When
// the producer runs in the same process as a relay on the same pool, there
// is a shorter way: after the commit, the producer wakes that relay directly.
// [BeginFunc] does this: the [Add]s made in its transaction skip pg_notify
// when a relay of the pool runs in this process, and once the transaction
// has committed BeginFunc nudges it. Relays in other processes are not woken
// then: any one relay publishes the schema's whole outbox, and theirs poll.
//
// The guarantees do not change: the row is committed before anyone is
// woken, and a nudge that finds no relay (it stopped between Add and the
// commit) falls back to NOTIFY.

// localRelays are the relays running in this process, by pool.
var localRelays = struct {
	sync.RWMutex
	m map[*pgxpool.Pool][]*Relay
}{m: map[*pgxpool.Pool][]*Relay{}}

func registerRelay(r *Relay) (unregister func()) {
	localRelays.Lock()
	localRelays.m[r.pool] = append(localRelays.m[r.pool], r)
	localRelays.Unlock()
	return func() {
		localRelays.Lock()
		defer localRelays.Unlock()
		rs := localRelays.m[r.pool]
		for i, x := range rs {
			if x == r {
				rs = append(rs[:i:i], rs[i+1:]...)
				break
			}
		}
		if len(rs) == 0 {
			delete(localRelays.m, r.pool)
		} else {
			localRelays.m[r.pool] = rs
		}
	}
}

func hasLocalRelay(pool *pgxpool.Pool) bool {
	localRelays.RLock()
	defer localRelays.RUnlock()
	return len(localRelays.m[pool]) > 0
}

// Notify wakes the relays of pool that run in this process, so that they
// publish what was just committed without waiting for NOTIFY or a poll, and
// reports whether there was one. It never blocks. Code that commits its own
// transactions (rather than through [BeginFunc]) may call it after a commit
// that added messages; their Adds still sent NOTIFY.
func Notify(pool *pgxpool.Pool) bool {
	localRelays.RLock()
	defer localRelays.RUnlock()
	rs := localRelays.m[pool]
	for _, r := range rs {
		r.nudge()
	}
	return len(rs) > 0
}

// pendingNudge is what a BeginFunc transaction owes its relay after commit.
type pendingNudge struct {
	pool    *pgxpool.Pool
	skipped atomic.Bool // an Add left out pg_notify
}

// openTxs maps the connection of each transaction that BeginFunc runs to its
// pendingNudge. A connection serves one transaction at a time, and a
// savepoint (tx.Begin) shares its outer transaction's connection, so an Add
// in a savepoint finds its outer transaction here too.
var openTxs sync.Map // *pgx.Conn → *pendingNudge

// pendingFor returns the pendingNudge of tx, if BeginFunc runs it and a relay
// of its pool runs in this process.
func pendingFor(tx pgx.Tx) *pendingNudge {
	if !inProcessNudge.Load() {
		return nil
	}
	v, ok := openTxs.Load(tx.Conn())
	if !ok {
		return nil
	}
	p := v.(*pendingNudge)
	if !hasLocalRelay(p.pool) {
		return nil
	}
	return p
}

// inProcessNudge switches the in-process nudge; off, Add always sends
// NOTIFY (BenchmarkCommitToHandler measures both).
var inProcessNudge atomic.Bool

func init() { inProcessNudge.Store(true) }

// BeginFunc runs fn in a transaction on pool and commits it if fn returns
// nil, like pgx.BeginFunc; once committed, it wakes the in-process relay of
// pool, if one runs, for the messages fn added with [Add]. Producers and
// consumers that write to the outbox commit through it.
func BeginFunc(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return BeginTxFunc(ctx, pool, pgx.TxOptions{}, fn)
}

// BeginTxFunc is [BeginFunc] with transaction options.
func BeginTxFunc(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	p := &pendingNudge{pool: pool}
	err := pgx.BeginTxFunc(ctx, pool, opts, func(tx pgx.Tx) error {
		conn := tx.Conn()
		openTxs.Store(conn, p)
		defer openTxs.Delete(conn)
		return fn(tx)
	})
	if err != nil || !p.skipped.Load() {
		return err
	}
	if !Notify(pool) {
		// The relay stopped since Add: wake the others the usual way. The
		// transaction has committed whatever happens here; if this fails
		// too, their poll publishes the messages.
		_, _ = pool.Exec(context.WithoutCancel(ctx), `SELECT pg_notify(`+notifyChannel+`, '')`)
	}
	return nil
}
