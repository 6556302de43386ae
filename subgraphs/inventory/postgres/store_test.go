package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/testenv"
	inventorypg "github.com/shopgraph/shopgraph/subgraphs/inventory/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	pool  *pgxpool.Pool
	store *inventorypg.Store
	svc   *stock.Service
	clock *clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool := testenv.Postgres(t, "inventory", inventorypg.Migrations)
	if err := events.Migrate(t.Context(), pool, nil); err != nil {
		t.Fatal(err)
	}
	c := newClock()
	st := inventorypg.NewStore(pool)
	return &env{pool: pool, store: st, clock: c,
		svc: stock.NewService(st, nil, stock.Options{Now: c.Now, Log: testenv.Logger()})}
}

// stockUp sets the units on hand of each SKU with adjustments.
func (e *env) stockUp(t *testing.T, onHand map[string]int) {
	t.Helper()
	for sku, n := range onHand {
		if _, err := e.store.Adjust(t.Context(), stock.Adjustment{SKU: sku, Delta: n, Reason: "received", Actor: "test", Now: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
}

// level returns the stock of sku, zero if never stocked.
func (e *env) level(t *testing.T, sku string) stock.Item {
	t.Helper()
	items, err := e.svc.Stock(t.Context(), []string{sku})
	if err != nil {
		t.Fatal(err)
	}
	return items[0]
}

func (e *env) wantLevel(t *testing.T, sku string, onHand, reserved int) {
	t.Helper()
	got := e.level(t, sku)
	if got.OnHand != onHand || got.Reserved != reserved {
		t.Errorf("%s: on hand %d, reserved %d; want %d, %d", sku, got.OnHand, got.Reserved, onHand, reserved)
	}
}

// outboxed returns the inventory events in the outbox, oldest first.
func (e *env) outboxed(t *testing.T) []events.Message {
	t.Helper()
	rows, err := e.pool.Query(t.Context(), `SELECT stream, id, type, key, payload, metadata FROM events_outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []events.Message
	for rows.Next() {
		var m events.Message
		var stream string
		var payload []byte
		if err := rows.Scan(&stream, &m.ID, &m.Type, &m.Key, &payload, &m.Metadata); err != nil {
			t.Fatal(err)
		}
		if stream != contract.InventoryEvents {
			t.Errorf("message %s on stream %q, want %q", m.Type, stream, contract.InventoryEvents)
		}
		m.Payload = payload
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func types(ms []events.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Type
	}
	return out
}

func result(t *testing.T, m events.Message) contract.StockResult {
	t.Helper()
	r, err := events.Decode[contract.StockResult](m)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ledger(t *testing.T, e *env, sku string) []stock.LedgerEntry {
	t.Helper()
	pages, err := e.store.Ledgers(t.Context(), []string{sku}, stock.LedgerQuery{First: 100})
	if err != nil {
		t.Fatal(err)
	}
	return pages[sku].Entries
}

func reserve(t *testing.T, e *env, orderID string, lines ...contract.Line) stock.Outcome {
	t.Helper()
	out, err := e.svc.Reserve(t.Context(), contract.ReserveStock{OrderID: orderID, Lines: lines, ExpiresAt: e.clock.Now().Add(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReserveAllOrNone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stockUp(t, map[string]int{"SHIRT-M": 5, "MUG": 1})

	out := reserve(t, e, "o1", contract.Line{SKU: "SHIRT-M", Quantity: 2}, contract.Line{SKU: "MUG", Quantity: 3}, contract.Line{SKU: "NEVER-STOCKED", Quantity: 1})
	if out.Reservation.Status != stock.StatusRejected {
		t.Fatalf("status %s, want REJECTED", out.Reservation.Status)
	}
	wantShort := []stock.Shortage{{SKU: "MUG", Requested: 3, Available: 1}, {SKU: "NEVER-STOCKED", Requested: 1, Available: 0}}
	if !slices.Equal(out.Reservation.Shortages, wantShort) {
		t.Errorf("shortages %+v, want %+v", out.Reservation.Shortages, wantShort)
	}
	// Nothing reserved, not even the line that was in stock.
	e.wantLevel(t, "SHIRT-M", 5, 0)
	e.wantLevel(t, "MUG", 1, 0)
	if n := len(ledger(t, e, "SHIRT-M")); n != 1 {
		t.Errorf("SHIRT-M has %d ledger entries, want only the adjustment", n)
	}
	msgs := e.outboxed(t)
	if !slices.Equal(types(msgs), []string{contract.TypeStockRejected}) {
		t.Fatalf("outbox %v, want [StockRejected]", types(msgs))
	}
	r := result(t, msgs[0])
	if r.OrderID != "o1" || msgs[0].Key != "o1" || len(r.Shortages) != 2 || r.Shortages[0] != (contract.Shortage{SKU: "MUG", Requested: 3, Available: 1}) {
		t.Errorf("StockRejected %+v (key %q)", r, msgs[0].Key)
	}

	// The recorded reservation says the same.
	got, err := e.store.Reservation(t.Context(), "o1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != stock.StatusRejected || !slices.Equal(got.Shortages, wantShort) || len(got.Lines) != 3 {
		t.Errorf("recorded %+v", got)
	}
}

func TestReserveAllLines(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stockUp(t, map[string]int{"SHIRT-M": 5, "MUG": 4})

	// Lines of one SKU are merged; SKUs are normalized.
	out := reserve(t, e, "o1", contract.Line{SKU: "mug", Quantity: 1}, contract.Line{SKU: "SHIRT-M", Quantity: 2}, contract.Line{SKU: "MUG", Quantity: 2})
	if out.Reservation.Status != stock.StatusActive || !out.Changed {
		t.Fatalf("outcome %+v, want a new ACTIVE reservation", out)
	}
	if want := []stock.Line{{SKU: "MUG", Quantity: 3}, {SKU: "SHIRT-M", Quantity: 2}}; !slices.Equal(out.Reservation.Lines, want) {
		t.Errorf("lines %+v, want %+v", out.Reservation.Lines, want)
	}
	e.wantLevel(t, "SHIRT-M", 5, 2)
	e.wantLevel(t, "MUG", 4, 3)
	if l := ledger(t, e, "MUG"); l[0].Kind != stock.KindReservation || l[0].Delta != 3 || l[0].OnHandAfter != 4 || l[0].ReservedAfter != 3 || l[0].OrderID != "o1" {
		t.Errorf("MUG ledger head %+v", l[0])
	}
	msgs := e.outboxed(t)
	if !slices.Equal(types(msgs), []string{contract.TypeStockReserved}) {
		t.Fatalf("outbox %v", types(msgs))
	}
	if r := result(t, msgs[0]); r.OrderID != "o1" || !r.ExpiresAt.Equal(e.clock.Now().Add(10*time.Minute)) {
		t.Errorf("StockReserved %+v", r)
	}
}

func TestReserveInvalidCommandsAreRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stockUp(t, map[string]int{"MUG": 4})
	now := e.clock.Now()
	tests := []struct {
		name string
		cmd  contract.ReserveStock
	}{
		{"no lines", contract.ReserveStock{}},
		{"zero quantity", contract.ReserveStock{Lines: []contract.Line{{SKU: "MUG", Quantity: 0}}}},
		{"negative quantity", contract.ReserveStock{Lines: []contract.Line{{SKU: "MUG", Quantity: -2}}}},
		{"malformed SKU", contract.ReserveStock{Lines: []contract.Line{{SKU: "no spaces", Quantity: 1}}}},
		{"expiry passed", contract.ReserveStock{Lines: []contract.Line{{SKU: "MUG", Quantity: 1}}, ExpiresAt: now.Add(-time.Second)}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cmd.OrderID = fmt.Sprintf("bad-%d", i)
			out, err := e.svc.Reserve(t.Context(), tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if out.Reservation.Status != stock.StatusRejected || out.Reservation.Reason == "" || out.Answer().Type != contract.TypeStockRejected {
				t.Errorf("outcome %+v, want REJECTED with a reason", out)
			}
		})
	}
	e.wantLevel(t, "MUG", 4, 0)

	if _, err := e.svc.Reserve(t.Context(), contract.ReserveStock{Lines: []contract.Line{{SKU: "MUG", Quantity: 1}}}); apperr.Code(err) != apperr.InvalidInput {
		t.Errorf("no order ID: err %v, want INVALID_INPUT", err)
	}
}

func TestReserveRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stockUp(t, map[string]int{"LAST-TEN": 10})

	const buyers = 100
	var wg sync.WaitGroup
	outs := make([]stock.Outcome, buyers)
	errs := make([]error, buyers)
	for i := range buyers {
		wg.Go(func() {
			outs[i], errs[i] = e.svc.Reserve(context.Background(), contract.ReserveStock{
				OrderID: fmt.Sprintf("race-%d", i), Lines: []contract.Line{{SKU: "LAST-TEN", Quantity: 1}},
				ExpiresAt: e.clock.Now().Add(time.Minute),
			})
		})
	}
	wg.Wait()
	reserved, rejected := 0, 0
	for i := range buyers {
		if errs[i] != nil {
			t.Fatalf("buyer %d: %v", i, errs[i])
		}
		switch outs[i].Reservation.Status {
		case stock.StatusActive:
			reserved++
		case stock.StatusRejected:
			rejected++
		}
	}
	if reserved != 10 || rejected != 90 {
		t.Errorf("%d reserved, %d rejected; want 10, 90", reserved, rejected)
	}
	e.wantLevel(t, "LAST-TEN", 10, 10)
	if a := e.level(t, "LAST-TEN").Available(); a != 0 {
		t.Errorf("available %d, want 0", a)
	}
	// No ledger entry ever saw a negative or oversold level.
	for _, l := range ledger(t, e, "LAST-TEN") {
		if l.OnHandAfter < 0 || l.ReservedAfter < 0 || l.ReservedAfter > l.OnHandAfter {
			t.Errorf("ledger entry %+v breaks the stock rules", l)
		}
	}
	if n := len(e.outboxed(t)); n != buyers {
		t.Errorf("%d events, want one answer per buyer (%d)", n, buyers)
	}
}

func TestCommitReleaseRestock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		steps    func(t *testing.T, e *env)
		onHand   int
		reserved int
		status   stock.Status
		events   []string
		kinds    []stock.Kind // ledger after the adjustment, oldest first
	}{
		{
			name:   "commit lowers on hand by the quantities",
			steps:  func(t *testing.T, e *env) { commit(t, e, "o1") },
			onHand: 7, reserved: 0, status: stock.StatusCommitted,
			events: []string{contract.TypeStockReserved, contract.TypeStockCommitted},
			kinds:  []stock.Kind{stock.KindReservation, stock.KindCommit},
		},
		{
			name:   "release returns the units",
			steps:  func(t *testing.T, e *env) { release(t, e, "o1", false) },
			onHand: 10, reserved: 0, status: stock.StatusReleased,
			events: []string{contract.TypeStockReserved, contract.TypeStockReleased},
			kinds:  []stock.Kind{stock.KindReservation, stock.KindRelease},
		},
		{
			name:   "restock after commit returns the units to on hand",
			steps:  func(t *testing.T, e *env) { commit(t, e, "o1"); release(t, e, "o1", true) },
			onHand: 10, reserved: 0, status: stock.StatusReleased,
			events: []string{contract.TypeStockReserved, contract.TypeStockCommitted, contract.TypeStockReleased},
			kinds:  []stock.Kind{stock.KindReservation, stock.KindCommit, stock.KindRestock},
		},
		{
			name:   "release without restock leaves a commit alone",
			steps:  func(t *testing.T, e *env) { commit(t, e, "o1"); release(t, e, "o1", false) },
			onHand: 7, reserved: 0, status: stock.StatusCommitted,
			events: []string{contract.TypeStockReserved, contract.TypeStockCommitted, contract.TypeStockRejected},
			kinds:  []stock.Kind{stock.KindReservation, stock.KindCommit},
		},
		{
			name:   "restock of an uncommitted reservation releases it",
			steps:  func(t *testing.T, e *env) { release(t, e, "o1", true) },
			onHand: 10, reserved: 0, status: stock.StatusReleased,
			events: []string{contract.TypeStockReserved, contract.TypeStockReleased},
			kinds:  []stock.Kind{stock.KindReservation, stock.KindRelease},
		},
		{
			name: "repeated commands apply once",
			steps: func(t *testing.T, e *env) {
				reserve(t, e, "o1", contract.Line{SKU: "BOOT-42", Quantity: 3})
				commit(t, e, "o1")
				commit(t, e, "o1")
				reserve(t, e, "o1", contract.Line{SKU: "BOOT-42", Quantity: 3})
				release(t, e, "o1", true)
				release(t, e, "o1", true)
				commit(t, e, "o1")
			},
			onHand: 10, reserved: 0, status: stock.StatusReleased,
			events: []string{
				contract.TypeStockReserved, contract.TypeStockReserved, contract.TypeStockCommitted,
				contract.TypeStockCommitted, contract.TypeStockCommitted, contract.TypeStockReleased,
				contract.TypeStockReleased, contract.TypeStockRejected,
			},
			kinds: []stock.Kind{stock.KindReservation, stock.KindCommit, stock.KindRestock},
		},
		{
			name: "repeated release applies once",
			steps: func(t *testing.T, e *env) {
				release(t, e, "o1", false)
				release(t, e, "o1", false)
				commit(t, e, "o1")
			},
			onHand: 10, reserved: 0, status: stock.StatusReleased,
			events: []string{contract.TypeStockReserved, contract.TypeStockReleased, contract.TypeStockReleased, contract.TypeStockRejected},
			kinds:  []stock.Kind{stock.KindReservation, stock.KindRelease},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.stockUp(t, map[string]int{"BOOT-42": 10})
			reserve(t, e, "o1", contract.Line{SKU: "BOOT-42", Quantity: 3})
			tt.steps(t, e)

			e.wantLevel(t, "BOOT-42", tt.onHand, tt.reserved)
			res, err := e.store.Reservation(t.Context(), "o1")
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status {
				t.Errorf("status %s, want %s", res.Status, tt.status)
			}
			if got := types(e.outboxed(t)); !slices.Equal(got, tt.events) {
				t.Errorf("events %v, want %v", got, tt.events)
			}
			l := ledger(t, e, "BOOT-42")
			var kinds []stock.Kind
			for i := len(l) - 2; i >= 0; i-- { // oldest first, without the adjustment
				kinds = append(kinds, l[i].Kind)
			}
			if !slices.Equal(kinds, tt.kinds) {
				t.Errorf("ledger kinds %v, want %v", kinds, tt.kinds)
			}
			// The newest entry's levels are the current ones.
			if l[0].OnHandAfter != tt.onHand || l[0].ReservedAfter != tt.reserved {
				t.Errorf("ledger head %+v disagrees with the stock", l[0])
			}
		})
	}
}

func commit(t *testing.T, e *env, orderID string) stock.Outcome {
	t.Helper()
	out, err := e.svc.Commit(t.Context(), contract.CommitStock{OrderID: orderID})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func release(t *testing.T, e *env, orderID string, restock bool) stock.Outcome {
	t.Helper()
	out, err := e.svc.Release(t.Context(), contract.ReleaseStock{OrderID: orderID, Reason: "payment declined", Restock: restock})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReleaseBeforeReserve(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stockUp(t, map[string]int{"MUG": 4})

	// The saga gave up on the order before its ReserveStock was handled.
	out := release(t, e, "late", false)
	if out.Answer().Type != contract.TypeStockReleased {
		t.Errorf("answer %s, want StockReleased", out.Answer().Type)
	}
	late := reserve(t, e, "late", contract.Line{SKU: "MUG", Quantity: 2})
	if late.Changed || late.Answer().Type != contract.TypeStockReleased {
		t.Errorf("late reserve: %+v, want nothing reserved and StockReleased", late)
	}
	e.wantLevel(t, "MUG", 4, 0)
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stockUp(t, map[string]int{"MUG": 5, "CAP": 5})
	reserve(t, e, "early", contract.Line{SKU: "MUG", Quantity: 2}, contract.Line{SKU: "CAP", Quantity: 1}) // expires at +10m
	e.clock.Advance(5 * time.Minute)
	reserve(t, e, "later", contract.Line{SKU: "CAP", Quantity: 3}) // expires at +15m

	n, err := e.svc.ExpireDue(t.Context())
	if err != nil || n != 0 {
		t.Fatalf("nothing due yet: expired %d, err %v", n, err)
	}
	e.clock.Advance(5 * time.Minute) // +10m: "early" is due
	if n, err = e.svc.ExpireDue(t.Context()); err != nil || n != 1 {
		t.Fatalf("expired %d, err %v; want 1", n, err)
	}
	e.wantLevel(t, "MUG", 5, 0)
	e.wantLevel(t, "CAP", 5, 3)
	res, err := e.store.Reservation(t.Context(), "early")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != stock.StatusExpired {
		t.Errorf("status %s, want EXPIRED", res.Status)
	}
	if l := ledger(t, e, "MUG"); l[0].Kind != stock.KindExpiry || l[0].Delta != -2 || l[0].Actor != stock.ActorExpiry || l[0].OrderID != "early" {
		t.Errorf("MUG ledger head %+v", l[0])
	}
	msgs := e.outboxed(t)
	last := msgs[len(msgs)-1]
	if last.Type != contract.TypeReservationExpired || result(t, last).OrderID != "early" {
		t.Errorf("last event %s %s, want ReservationExpired for early", last.Type, last.Payload)
	}

	// Committing it now fails and changes nothing.
	out := commit(t, e, "early")
	if out.Changed || out.Answer().Type != contract.TypeStockRejected || result2(out).Reason == "" {
		t.Errorf("commit of an expired reservation: %+v", out)
	}
	e.wantLevel(t, "MUG", 5, 0)

	// Sweeping again finds nothing more.
	if n, err = e.svc.ExpireDue(t.Context()); err != nil || n != 0 {
		t.Errorf("second sweep expired %d, err %v", n, err)
	}
}

func result2(o stock.Outcome) contract.StockResult { return o.Answer().Result }

func TestCommitPastExpiryBeforeSweep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stockUp(t, map[string]int{"MUG": 5})
	reserve(t, e, "o1", contract.Line{SKU: "MUG", Quantity: 2})
	e.clock.Advance(11 * time.Minute)

	out := commit(t, e, "o1")
	if got := []string{out.Events[0].Type, out.Answer().Type}; !slices.Equal(got, []string{contract.TypeReservationExpired, contract.TypeStockRejected}) {
		t.Errorf("events %v", got)
	}
	e.wantLevel(t, "MUG", 5, 0)
	if out.Reservation.Status != stock.StatusExpired {
		t.Errorf("status %s, want EXPIRED", out.Reservation.Status)
	}
}

func TestExpirySweepersShareTheWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stockUp(t, map[string]int{"MUG": 300, "CAP": 300})
	for i := range 150 {
		// Each holds both SKUs: the sweepers contend for the same stock rows.
		reserve(t, e, fmt.Sprintf("o%d", i), contract.Line{SKU: "MUG", Quantity: 1}, contract.Line{SKU: "CAP", Quantity: 2})
	}
	e.clock.Advance(time.Hour)
	var wg sync.WaitGroup
	counts := make([]int, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() { counts[i], errs[i] = e.svc.ExpireDue(context.Background()) })
	}
	wg.Wait()
	total := 0
	for i := range 3 {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		total += counts[i]
	}
	if total != 150 {
		t.Errorf("sweepers expired %d in all, want each of the 150 once", total)
	}
	e.wantLevel(t, "MUG", 300, 0)
	e.wantLevel(t, "CAP", 300, 0)
}

func TestAdjust(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stockUp(t, map[string]int{"MUG": 5})
	reserve(t, e, "o1", contract.Line{SKU: "MUG", Quantity: 3})

	tests := []struct {
		name  string
		sku   string
		delta int
		code  string
	}{
		{"below reserved", "MUG", -3, apperr.Conflict},
		{"below zero", "MUG", -6, apperr.Conflict},
		{"new SKU below zero", "CAP", -1, apperr.Conflict},
		{"down to reserved", "MUG", -2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.store.Adjust(t.Context(), stock.Adjustment{SKU: tt.sku, Delta: tt.delta, Reason: "count", Actor: "a", Now: e.clock.Now()})
			if apperr.Code(err) != tt.code {
				t.Errorf("err %v, want code %q", err, tt.code)
			}
		})
	}
	e.wantLevel(t, "MUG", 3, 3)
	if items, _ := e.store.Items(t.Context(), []string{"CAP"}); len(items) != 0 {
		t.Errorf("a refused adjustment created %+v", items)
	}
}

func TestCommandInConsumerTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stockUp(t, map[string]int{"MUG": 5})
	cmd, err := events.New(contract.TypeReserveStock, "o1", contract.ReserveStock{OrderID: "o1"}, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	cmd.Metadata[events.MetaCorrelationID] = "checkout-1"

	// Rolled back with the consumer's transaction: nothing happened.
	tx, err := e.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	in := e.svc.WithStore(e.store.WithTx(tx, cmd))
	if _, err := in.Reserve(t.Context(), contract.ReserveStock{OrderID: "o1", Lines: []contract.Line{{SKU: "MUG", Quantity: 2}}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.wantLevel(t, "MUG", 5, 0)
	if n := len(e.outboxed(t)); n != 0 {
		t.Fatalf("%d events after rollback", n)
	}

	// Committed with it: the change and its answer, which follows up on the command.
	tx, err = e.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	in = e.svc.WithStore(e.store.WithTx(tx, cmd))
	if _, err := in.Reserve(t.Context(), contract.ReserveStock{OrderID: "o1", Lines: []contract.Line{{SKU: "MUG", Quantity: 2}}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.wantLevel(t, "MUG", 5, 2)
	msgs := e.outboxed(t)
	if len(msgs) != 1 || msgs[0].Type != contract.TypeStockReserved {
		t.Fatalf("outbox %v", types(msgs))
	}
	if msgs[0].Metadata[events.MetaCorrelationID] != "checkout-1" || msgs[0].Metadata[events.MetaCausationID] != cmd.ID {
		t.Errorf("metadata %v, want the command's correlation ID and the command as cause", msgs[0].Metadata)
	}
	var payload map[string]any
	_ = json.Unmarshal(msgs[0].Payload, &payload)
	if payload["orderId"] != "o1" {
		t.Errorf("payload %s", msgs[0].Payload)
	}
}

func TestLedgerPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 1; i <= 5; i++ {
		e.stockUp(t, map[string]int{"MUG": i, "CAP": 1})
	}
	pages, err := e.store.Ledgers(t.Context(), []string{"MUG", "CAP", "NONE"}, stock.LedgerQuery{First: 2})
	if err != nil {
		t.Fatal(err)
	}
	mug := pages["MUG"]
	if !mug.HasNext || len(mug.Entries) != 2 || mug.Entries[0].Delta != 5 || mug.Entries[1].Delta != 4 {
		t.Errorf("MUG page %+v", mug)
	}
	if len(pages["NONE"].Entries) != 0 || pages["NONE"].HasNext {
		t.Errorf("NONE page %+v", pages["NONE"])
	}
	next, err := e.store.Ledgers(t.Context(), []string{"MUG"}, stock.LedgerQuery{First: 3, After: mug.Entries[1].ID})
	if err != nil {
		t.Fatal(err)
	}
	var deltas []int
	for _, l := range next["MUG"].Entries {
		deltas = append(deltas, l.Delta)
	}
	if !slices.Equal(deltas, []int{3, 2, 1}) || next["MUG"].HasNext {
		t.Errorf("second page deltas %v, hasNext %v", deltas, next["MUG"].HasNext)
	}
}
