package postgres_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/testenv"
	shippingpg "github.com/shopgraph/shopgraph/subgraphs/shipping/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

// newStore returns a store on a fresh schema, its pool, and a function
// that runs a count query on it.
func newStore(t *testing.T) (*shippingpg.Store, *pgxpool.Pool, func(sql string, args ...any) int) {
	t.Helper()
	pool := testenv.Postgres(t, "shipping", shippingpg.Migrations)
	if err := events.Migrate(context.Background(), pool, testenv.Logger()); err != nil {
		t.Fatal(err)
	}
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return shippingpg.NewStore(pool, nil), pool, count
}

func pendingShipment(orderID string, at time.Time) shipment.Shipment {
	s := shipment.Shipment{
		ID: uuid.NewString(), OrderID: orderID, CustomerID: "c1", Method: "STANDARD", Status: shipment.StatusPending,
		Address:   shipment.Address{Recipient: "R", Line1: "L", City: "Oslo", PostalCode: "0150", Country: "NO"},
		Lines:     []shipment.Line{{SKU: "MUG", Quantity: 1}},
		CreatedAt: at, UpdatedAt: at,
	}
	s.Events = []shipment.TrackingEvent{{Status: shipment.StatusPending, Description: "requested", At: at}}
	return s
}

func TestOpenOncePerOrder(t *testing.T) {
	t.Parallel()
	store, _, count := newStore(t)
	ctx := context.Background()
	orderID := uuid.NewString()
	const n = 8
	var wg sync.WaitGroup
	ids := make([]string, n)
	created := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			var sh *shipment.Shipment
			sh, created[i], _, errs[i] = store.Open(ctx, pendingShipment(orderID, time.Now().UTC()))
			if sh != nil {
				ids[i] = sh.ID
			}
		})
	}
	wg.Wait()
	nCreated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if created[i] {
			nCreated++
		}
		if ids[i] != ids[0] {
			t.Errorf("Open %d returned shipment %s, Open 0 %s", i, ids[i], ids[0])
		}
	}
	if nCreated != 1 || count(`SELECT count(*) FROM shipments WHERE order_id = $1`, orderID) != 1 ||
		count(`SELECT count(*) FROM tracking_events`) != 1 {
		t.Errorf("created by %d calls; want one shipment with one event", nCreated)
	}
}

// TestCancelOrderRacesOpen checks that an order cancelled while its
// shipment is being opened ends with either a cancelled shipment or a
// recorded cancellation and no shipment, never a live shipment.
func TestCancelOrderRacesOpen(t *testing.T) {
	t.Parallel()
	store, _, count := newStore(t)
	ctx := context.Background()
	cancel := func(sh *shipment.Shipment) ([]shipment.Notice, error) {
		if sh == nil {
			return nil, nil
		}
		n, err := sh.Cancel("raced", time.Now().UTC())
		return []shipment.Notice{n}, err
	}
	for range 20 {
		orderID := uuid.NewString()
		var wg sync.WaitGroup
		var openErr, cancelErr error
		wg.Go(func() { _, _, _, openErr = store.Open(ctx, pendingShipment(orderID, time.Now().UTC())) })
		wg.Go(func() {
			_, cancelErr = store.CancelOrder(ctx, shipment.Cancellation{OrderID: orderID, Reason: "raced", At: time.Now().UTC()}, cancel)
		})
		wg.Wait()
		if openErr != nil || cancelErr != nil {
			t.Fatal(openErr, cancelErr)
		}
		live := count(`SELECT count(*) FROM shipments WHERE order_id = $1 AND status <> 'CANCELLED'`, orderID)
		if live != 0 {
			t.Fatalf("order %s has a live shipment after it was cancelled", orderID)
		}
	}
}

func TestStepDueSkipsLocked(t *testing.T) {
	t.Parallel()
	store, pool, _ := newStore(t)
	ctx := context.Background()
	long := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	var ids []string
	for range 2 {
		sh, _, _, err := store.Open(ctx, pendingShipment(uuid.NewString(), long))
		if err != nil {
			t.Fatal(err)
		}
		_, err = store.Update(ctx, sh.ID, func(s *shipment.Shipment) ([]shipment.Notice, error) {
			n, err := s.Labelled("sandbox", "SBX"+s.ID[:8], long)
			return []shipment.Notice{n}, err
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sh.ID)
	}
	step := func(s *shipment.Shipment) ([]shipment.Notice, error) { return s.Step(time.Now().UTC()) }

	// Another replica holds the first.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM shipments WHERE id = $1 FOR UPDATE`, ids[0]); err != nil {
		t.Fatal(err)
	}
	n, err := store.StepDue(ctx, time.Now().UTC(), 10, step)
	if err != nil || n != 1 {
		t.Fatalf("stepped %d, %v; want the one not held", n, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	shs, err := store.Shipments(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shs {
		want := shipment.StatusLabelCreated
		if s.ID == ids[1] {
			want = shipment.StatusInTransit
		}
		if s.Status != want {
			t.Errorf("shipment %d is %s, want %s", slices.Index(ids, s.ID), s.Status, want)
		}
	}
	// Released: now it steps; the other one just changed, so it is not due.
	n, err = store.StepDue(ctx, time.Now().UTC().Add(-time.Minute), 10, step)
	if err != nil || n != 1 {
		t.Fatalf("stepped %d, %v; want the released one", n, err)
	}
}
