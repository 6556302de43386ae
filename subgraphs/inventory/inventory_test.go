package inventory_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/inventory"
	inventorypg "github.com/shopgraph/shopgraph/subgraphs/inventory/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

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

type noCatalog struct{}

func (noCatalog) KnownSKUs(context.Context, []string) (map[string]bool, error) { return nil, nil }

// saga plays the orders service: it sends commands to inventory through its
// own outbox and relay, and reads inventory's events from Redis.
type saga struct {
	pool   *pgxpool.Pool
	events chan events.Message
}

func (s *saga) send(t *testing.T, msgs ...events.Message) {
	t.Helper()
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if err := events.Add(t.Context(), tx, contract.InventoryCommands, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// next returns the next inventory event; the test's deadline bounds the wait.
func (s *saga) next(t *testing.T) events.Message {
	t.Helper()
	select {
	case m := <-s.events:
		return m
	case <-t.Context().Done():
		t.Fatal("no inventory event before the test ended")
		return events.Message{}
	}
}

func command(t *testing.T, c *clock, typ, orderID string, payload any) events.Message {
	t.Helper()
	m, err := events.New(typ, orderID, payload, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.Metadata[events.MetaCorrelationID] = "checkout-" + orderID
	return m
}

func TestSagaThroughRedis(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rdb, prefix := testenv.Redis(t)
	clk := &clock{t: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}

	pool := testenv.Postgres(t, "inventory", inventorypg.Migrations)
	svc, err := inventory.New(ctx, inventory.Config{
		DB: pool, Redis: rdb, StreamPrefix: prefix, Catalog: noCatalog{},
		ReservationSweep: 20 * time.Millisecond, Log: testenv.Logger(), Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()

	// The orders side: an outbox in its own schema, relayed to the same Redis.
	orders := &saga{pool: testenv.Postgres(t, "orders", nil), events: make(chan events.Message, 100)}
	if err := events.Migrate(ctx, orders.pool, nil); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	run := func(name string, f func() error) {
		wg.Go(func() {
			if err := f(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	run("inventory", func() error { return svc.Run(ctx) })
	run("orders relay", func() error {
		return events.NewRelay(orders.pool, rdb, events.RelayOptions{Prefix: prefix, PollInterval: 50 * time.Millisecond}).Run(ctx)
	})
	run("orders consumer", func() error {
		c := events.NewConsumer(rdb, events.ConsumerOptions{Stream: contract.InventoryEvents, Group: "orders.saga", Prefix: prefix})
		return c.Run(ctx, func(ctx context.Context, m events.Message) error {
			orders.events <- m
			return nil
		})
	})

	// Stock arrives through the service (an admin's adjustment in production).
	for sku, n := range map[string]int{"MUG": 5, "CAP": 1} {
		if _, err := inventorypg.NewStore(pool).Adjust(ctx, stock.Adjustment{SKU: sku, Delta: n, Reason: "delivery", Actor: "test", Now: clk.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	level := func(sku string) stock.Item {
		t.Helper()
		items, err := svc.Stock.Stock(ctx, []string{sku})
		if err != nil {
			t.Fatal(err)
		}
		return items[0]
	}

	// ReserveStock → StockReserved, following up on the command. The same
	// message delivered twice (a relay retry) is applied once.
	reserve := command(t, clk, contract.TypeReserveStock, "o1", contract.ReserveStock{
		OrderID: "o1", Lines: []contract.Line{{SKU: "MUG", Quantity: 2}}, ExpiresAt: clk.Now().Add(10 * time.Minute),
	})
	orders.send(t, reserve)
	orders.send(t, reserve)
	m := orders.next(t)
	if m.Type != contract.TypeStockReserved || m.Key != "o1" {
		t.Fatalf("got %s %s, want StockReserved for o1", m.Type, m.Key)
	}
	if m.CorrelationID() != "checkout-o1" || m.Metadata[events.MetaCausationID] != reserve.ID {
		t.Errorf("metadata %v: want the command's correlation ID and the command as cause", m.Metadata)
	}
	r, err := events.Decode[contract.StockResult](m)
	if err != nil || r.OrderID != "o1" || !r.ExpiresAt.Equal(clk.Now().Add(10*time.Minute)) {
		t.Errorf("payload %+v, %v", r, err)
	}

	// A rejection reports the shortages.
	orders.send(t, command(t, clk, contract.TypeReserveStock, "o2", contract.ReserveStock{
		OrderID: "o2", Lines: []contract.Line{{SKU: "CAP", Quantity: 2}, {SKU: "MUG", Quantity: 1}},
	}))
	m = orders.next(t)
	if m.Type != contract.TypeStockRejected {
		t.Fatalf("got %s, want StockRejected (the duplicate ReserveStock must not have been answered again)", m.Type)
	}
	if r, _ := events.Decode[contract.StockResult](m); r.OrderID != "o2" || !slices.Equal(r.Shortages, []contract.Shortage{{SKU: "CAP", Requested: 2, Available: 1}}) {
		t.Errorf("rejection %+v", r)
	}
	if got := level("MUG"); got.Reserved != 2 {
		t.Errorf("MUG reserved %d, want 2 (o1 once, nothing for o2)", got.Reserved)
	}

	// CommitStock → StockCommitted; on hand goes down.
	orders.send(t, command(t, clk, contract.TypeCommitStock, "o1", contract.CommitStock{OrderID: "o1"}))
	if m = orders.next(t); m.Type != contract.TypeStockCommitted || m.Key != "o1" {
		t.Fatalf("got %s %s, want StockCommitted for o1", m.Type, m.Key)
	}
	if got := level("MUG"); got.OnHand != 3 || got.Reserved != 0 {
		t.Errorf("MUG after commit: %+v", got)
	}

	// A reservation that is not committed in time expires: ReservationExpired.
	orders.send(t, command(t, clk, contract.TypeReserveStock, "o3", contract.ReserveStock{
		OrderID: "o3", Lines: []contract.Line{{SKU: "CAP", Quantity: 1}}, ExpiresAt: clk.Now().Add(time.Minute),
	}))
	if m = orders.next(t); m.Type != contract.TypeStockReserved || m.Key != "o3" {
		t.Fatalf("got %s %s, want StockReserved for o3", m.Type, m.Key)
	}
	clk.Advance(2 * time.Minute)
	if m = orders.next(t); m.Type != contract.TypeReservationExpired || m.Key != "o3" {
		t.Fatalf("got %s %s, want ReservationExpired for o3", m.Type, m.Key)
	}
	if got := level("CAP"); got.OnHand != 1 || got.Reserved != 0 {
		t.Errorf("CAP after expiry: %+v", got)
	}

	// A command inventory does not know goes to the dead-letter stream, and the
	// consumer goes on.
	orders.send(t, command(t, clk, "TeleportStock", "o4", map[string]string{"orderId": "o4"}))
	orders.send(t, command(t, clk, contract.TypeReleaseStock, "o4", contract.ReleaseStock{OrderID: "o4", Reason: "cancelled"}))
	if m = orders.next(t); m.Type != contract.TypeStockReleased || m.Key != "o4" {
		t.Fatalf("got %s %s, want StockReleased for o4", m.Type, m.Key)
	}
	dead, err := rdb.XRange(ctx, prefix+contract.InventoryCommands+".dead-letter", "-", "+").Result()
	if err != nil || len(dead) != 1 {
		t.Errorf("dead-letter stream: %d entries (%v), want the unknown command", len(dead), err)
	}
}
