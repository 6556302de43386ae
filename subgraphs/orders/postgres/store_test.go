package postgres_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
	orderspg "github.com/shopgraph/shopgraph/subgraphs/orders/postgres"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func newStore(t *testing.T) (*orderspg.Store, *pgxpool.Pool) {
	t.Helper()
	pool := testenv.Postgres(t, "orders", orderspg.Migrations)
	if err := events.Migrate(context.Background(), pool, nil); err != nil {
		t.Fatal(err)
	}
	return orderspg.NewStore(pool), pool
}

// create records a new order of customer with key, placed at at.
func create(t *testing.T, s *orderspg.Store, customer, key string, at time.Time) *order.Order {
	t.Helper()
	o, evs := newOrder(t, s, customer, key, at)
	saga := order.Saga{Step: order.StepReserveStock, Deadline: at.Add(time.Minute), PaymentToken: "tok_visa"}
	msg := order.Message{Stream: contract.InventoryCommands, Type: contract.TypeReserveStock, Payload: contract.ReserveStock{OrderID: o.ID}}
	if err := s.Create(context.Background(), o, evs, saga, []order.Message{msg}); err != nil {
		t.Fatal(err)
	}
	o.Saga = saga
	return o
}

func newOrder(t *testing.T, s *orderspg.Store, customer, key string, at time.Time) (*order.Order, []order.Event) {
	t.Helper()
	n, err := s.NextNumber(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	usd := func(a int64) money.Money { return money.Money{Amount: a, Currency: "USD"} }
	evs := []order.Event{{OrderID: uuid.NewString(), Version: 1, At: at, Data: order.Placed{
		Number: n, CustomerID: customer, IdempotencyKey: key,
		Lines: []order.Line{
			{SKU: "MUG", ProductName: "Mug", VariantName: "Blue", Quantity: 2, UnitPrice: usd(1000)},
			{SKU: "CAP", ProductName: "Cap", VariantName: "One size", Quantity: 1, UnitPrice: usd(1500)},
		},
		Subtotal: usd(3500), ShippingCost: usd(500), Total: usd(4000),
		Address:      order.Address{Recipient: "Ann", Line1: "1 Main St", City: "Springfield", PostalCode: "12345", Country: "US"},
		ShippingCode: "STANDARD", ShippingName: "Standard",
	}}}
	return order.Fold(evs), evs
}

func outboxCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM events_outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateAndLoad(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := context.Background()
	o := create(t, s, "c1", "key-00000001", t0)

	got, err := s.Load(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != order.StatusPending || got.Version != 1 || got.Total != o.Total || got.Saga.Step != order.StepReserveStock ||
		!got.Saga.Deadline.Equal(t0.Add(time.Minute)) || got.Saga.PaymentToken != "tok_visa" || got.DisplayNumber() == "" {
		t.Errorf("loaded %+v", got)
	}
	byKey, err := s.LoadByIdempotencyKey(ctx, "c1", "key-00000001")
	if err != nil || byKey.ID != o.ID {
		t.Errorf("by key: %v, %v", byKey, err)
	}
	if _, err := s.LoadByIdempotencyKey(ctx, "c2", "key-00000001"); apperr.Code(err) != apperr.NotFound {
		t.Errorf("another customer's key: %v, want NOT_FOUND", err)
	}
	lines, err := s.Lines(ctx, []string{o.ID})
	if err != nil || len(lines[o.ID]) != 2 || lines[o.ID][0].SKU != "MUG" || lines[o.ID][1].Total().Amount != 1500 {
		t.Errorf("lines %+v, %v", lines, err)
	}
	if n := outboxCount(t, pool); n != 1 {
		t.Errorf("outbox has %d messages, want the ReserveStock", n)
	}

	// The same customer and key again: CONFLICT, and nothing recorded.
	dup, evs := newOrder(t, s, "c1", "key-00000001", t0)
	if err := s.Create(ctx, dup, evs, order.Saga{}, []order.Message{{Stream: "x", Type: "y", Payload: 1}}); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("duplicate key: %v, want CONFLICT", err)
	}
	if _, err := s.Load(ctx, dup.ID); apperr.Code(err) != apperr.NotFound {
		t.Errorf("the duplicate was recorded: %v", err)
	}
	if n := outboxCount(t, pool); n != 1 {
		t.Errorf("outbox has %d messages after the refused duplicate, want 1", n)
	}
}

func TestOptimisticConcurrency(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := context.Background()
	o := create(t, s, "c1", "key-00000001", t0)
	reserved := order.Change{At: t0.Add(time.Second), Events: []order.EventData{order.StockReserved{}},
		Messages: []order.Message{{Stream: contract.PaymentCommands, Type: contract.TypeAuthorizePayment, Payload: contract.AuthorizePayment{OrderID: o.ID}}}}
	rejected := order.Change{At: t0.Add(time.Second), Events: []order.EventData{order.StockRejected{Reason: "no"}},
		Messages: []order.Message{{Stream: contract.OrderEvents, Type: contract.TypeOrderStatusChanged, Payload: contract.OrderStatusChanged{OrderID: o.ID}}}}

	next, err := s.Append(ctx, o, reserved)
	if err != nil {
		t.Fatal(err)
	}
	if next.Version != 2 || next.Status != order.StatusAwaitingPayment {
		t.Errorf("after append: version %d, status %s", next.Version, next.Status)
	}
	// A writer that decided on the stale version 1 is refused, and nothing
	// of its change is recorded.
	if _, err := s.Append(ctx, o, rejected); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("stale append: %v, want CONFLICT", err)
	}
	got, err := s.Load(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Status != order.StatusAwaitingPayment {
		t.Errorf("after the refused append: version %d, status %s", got.Version, got.Status)
	}
	if n := outboxCount(t, pool); n != 2 {
		t.Errorf("outbox has %d messages, want ReserveStock and AuthorizePayment", n)
	}

	// Racing writers on one version: exactly one wins.
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			_, err := s.Append(ctx, got, order.Change{At: t0.Add(2 * time.Second), Events: []order.EventData{order.PaymentAuthorized{PaymentID: "p"}}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch apperr.Code(err) {
		case "":
			won++
		case apperr.Conflict:
		default:
			t.Errorf("racing append: %v", err)
		}
	}
	final, err := s.Load(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, []string{o.ID})
	if err != nil {
		t.Fatal(err)
	}
	if won != 1 || final.Version != 3 || len(evs[o.ID]) != 3 {
		t.Errorf("%d writers won, version %d, %d events; want 1, 3, 3", won, final.Version, len(evs[o.ID]))
	}
	// The projection agrees with the stream.
	proj, err := s.Orders(ctx, []string{o.ID})
	if err != nil || proj[o.ID].Version != 3 || proj[o.ID].Status != final.Status {
		t.Errorf("projection %+v, %v", proj[o.ID], err)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	o := create(t, s, "c1", "key-00000001", t0)

	if _, err := s.Update(ctx, uuid.NewString(), func(*order.Order) (order.Change, error) { return order.Change{}, nil }); apperr.Code(err) != apperr.NotFound {
		t.Errorf("unknown order: %v, want NOT_FOUND", err)
	}
	// fn's error is returned and nothing is recorded.
	refused := apperr.Errorf(apperr.Conflict, "no")
	if _, err := s.Update(ctx, o.ID, func(*order.Order) (order.Change, error) { return order.Change{}, refused }); err != refused {
		t.Errorf("fn's error: %v", err)
	}
	// Concurrent updates are serialized: each sees the other's change.
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			_, err := s.Update(ctx, o.ID, func(cur *order.Order) (order.Change, error) {
				return order.Change{At: t0, Events: []order.EventData{order.Refunded{Amount: money.Money{Amount: 1, Currency: "USD"}}}}, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.Load(ctx, o.ID)
	if err != nil || got.Version != 6 || got.Progress.Refunded.Amount != 5 {
		t.Errorf("after 5 updates: version %d, refunded %v, %v", got.Version, got.Progress.Refunded, err)
	}
	// A saga-only change keeps the version and moves the deadline.
	next, err := s.Update(ctx, o.ID, func(*order.Order) (order.Change, error) {
		return order.Change{At: t0, Saga: &order.Saga{Step: order.StepCommitStock, Deadline: t0.Add(time.Hour), Attempts: 2}}, nil
	})
	if err != nil || next.Version != 6 {
		t.Fatalf("saga change: %v, version %d", err, next.Version)
	}
	got, _ = s.Load(ctx, o.ID)
	if got.Saga.Step != order.StepCommitStock || got.Saga.Attempts != 2 || !got.Saga.Deadline.Equal(t0.Add(time.Hour)) || got.Saga.PaymentToken != "" {
		t.Errorf("saga %+v", got.Saga)
	}
}

func TestUpdateDueSkipsLockedOrders(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	ctx := context.Background()
	a := create(t, s, "c1", "key-aaaaaaaa", t0)                  // due at t0+1m
	b := create(t, s, "c2", "key-bbbbbbbb", t0.Add(time.Second)) // due at t0+1m1s
	create(t, s, "c3", "key-cccccccc", t0.Add(time.Hour))        // not due

	// Another transaction holds a.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM orders WHERE id = $1 FOR UPDATE`, a.ID); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(2 * time.Minute)
	var seen []string
	handle := func(o *order.Order) (order.Change, error) {
		seen = append(seen, o.ID)
		return order.Change{At: now, Saga: &order.Saga{}}, nil
	}
	found, err := s.UpdateDue(ctx, now, handle)
	if err != nil || !found || len(seen) != 1 || seen[0] != b.ID {
		t.Fatalf("first sweep: found %v, saw %v, %v; want b", found, seen, err)
	}
	if found, err := s.UpdateDue(ctx, now, handle); err != nil || found {
		t.Fatalf("second sweep: found %v, %v; want nothing (a is locked, b is done)", found, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if found, err := s.UpdateDue(ctx, now, handle); err != nil || !found || seen[1] != a.ID {
		t.Fatalf("after the lock: found %v, saw %v, %v; want a", found, seen, err)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	var mine []*order.Order
	for i := range 5 {
		mine = append(mine, create(t, s, "c1", uuid.NewString(), t0.Add(time.Duration(i)*time.Minute)))
	}
	theirs := create(t, s, "c2", uuid.NewString(), t0.Add(time.Hour))
	if _, err := s.Append(ctx, mine[1], order.Change{At: t0.Add(2 * time.Hour), Events: []order.EventData{order.StockRejected{}}}); err != nil {
		t.Fatal(err)
	}

	ids := func(os []*order.Order) []string {
		out := make([]string, len(os))
		for i, o := range os {
			out[i] = o.ID
		}
		return out
	}
	page, err := s.List(ctx, order.ListQuery{CustomerID: "c1", First: 2})
	if err != nil {
		t.Fatal(err)
	}
	// First+1 rows, newest first.
	if got := ids(page); len(got) != 3 || got[0] != mine[4].ID || got[1] != mine[3].ID || got[2] != mine[2].ID {
		t.Fatalf("first page %v", got)
	}
	after := &order.Cursor{CreatedAt: page[1].CreatedAt, ID: page[1].ID}
	page, err = s.List(ctx, order.ListQuery{CustomerID: "c1", First: 5, After: after})
	if got := ids(page); err != nil || len(got) != 3 || got[0] != mine[2].ID || got[2] != mine[0].ID {
		t.Fatalf("second page %v, %v", got, err)
	}
	all, err := s.List(ctx, order.ListQuery{First: 10})
	if err != nil || len(all) != 6 || all[0].ID != theirs.ID {
		t.Errorf("all orders: %v, %v", ids(all), err)
	}
	rejected, err := s.List(ctx, order.ListQuery{Status: order.StatusRejected, First: 10})
	if got := ids(rejected); err != nil || len(got) != 1 || got[0] != mine[1].ID {
		t.Errorf("rejected: %v, %v", got, err)
	}
	pending, err := s.List(ctx, order.ListQuery{CustomerID: "c1", Status: order.StatusPending, First: 10})
	if err != nil || len(pending) != 4 {
		t.Errorf("c1's pending: %v, %v", ids(pending), err)
	}
}

// The address survives the projection.
func TestProjectionAddress(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	o := create(t, s, "c1", "key-00000001", t0)
	got, err := s.Orders(context.Background(), []string{o.ID, uuid.NewString()})
	if err != nil || len(got) != 1 {
		t.Fatalf("orders: %v, %v", got, err)
	}
	a, _ := json.Marshal(got[o.ID].Address)
	b, _ := json.Marshal(o.Address)
	if string(a) != string(b) || got[o.ID].ShippingMethod.Code != "STANDARD" || !got[o.ID].CreatedAt.Equal(t0) {
		t.Errorf("projection %+v", got[o.ID])
	}
}
