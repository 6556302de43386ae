package orders_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/inventory"
	inventorypg "github.com/shopgraph/shopgraph/subgraphs/inventory/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
	"github.com/shopgraph/shopgraph/subgraphs/orders"
	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
	"github.com/shopgraph/shopgraph/subgraphs/payments"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
	paymentspg "github.com/shopgraph/shopgraph/subgraphs/payments/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/payments/sandbox"
	shippingsvc "github.com/shopgraph/shopgraph/subgraphs/shipping"
	shippingpg "github.com/shopgraph/shopgraph/subgraphs/shipping/postgres"
)

// settle bounds every wait for the saga: a stuck pipeline, not a latency
// assertion.
const settle = 3 * time.Minute

var admin = auth.WithIdentity(context.Background(), auth.Identity{UserID: "test-admin", Role: auth.RoleAdmin})

// anyCatalog knows every SKU, for inventory's admin checks.
type anyCatalog struct{}

func (anyCatalog) KnownSKUs(_ context.Context, skus []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, s := range skus {
		out[s] = true
	}
	return out, nil
}

// world is the checkout: the orders service (fake catalog and shipping
// rates) with the real inventory and payments services, each on its own
// PostgreSQL schema, meeting on one Redis prefix.
type world struct {
	*env
	t        *testing.T
	ordersCf func(*orders.Config)
	invPool  *pgxpool.Pool
	payPool  *pgxpool.Pool
	inv      *inventory.Service
	pay      *payments.Service
	sandbox  *sandbox.Sandbox
	// ship is the shipping service, if withShipping was called.
	shipPool *pgxpool.Pool
	ship     *shippingsvc.Service
}

// withShipping adds the real shipping service, whose sandbox carrier moves
// each shipment one status on every step.
func (w *world) withShipping(step time.Duration) {
	w.t.Helper()
	w.shipPool = testenv.Postgres(w.t, "shipping", shippingpg.Migrations)
	var err error
	w.ship, err = shippingsvc.New(context.Background(), shippingsvc.Config{
		DB: w.shipPool, Redis: w.rdb, StreamPrefix: w.prefix, StepInterval: step, Log: testenv.Logger(),
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

func newWorld(t *testing.T, catalog *fakeCatalog, edit func(*orders.Config)) *world {
	t.Helper()
	w := &world{t: t, ordersCf: edit, sandbox: sandbox.New()}
	w.env = newEnv(t, catalog, edit)
	w.invPool = testenv.Postgres(t, "inventory", inventorypg.Migrations)
	w.payPool = testenv.Postgres(t, "payments", paymentspg.Migrations)
	w.rebuild()
	return w
}

// rebuild makes new instances of the three services on the same schemas,
// as a restarted process would.
func (w *world) rebuild() {
	t := w.t
	t.Helper()
	ctx := context.Background()
	var err error
	w.inv, err = inventory.New(ctx, inventory.Config{
		DB: w.invPool, Redis: w.rdb, StreamPrefix: w.prefix, Catalog: anyCatalog{},
		ReservationSweep: 100 * time.Millisecond, Log: testenv.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.pay, err = payments.New(ctx, payments.Config{
		DB: w.payPool, Redis: w.rdb, StreamPrefix: w.prefix, Provider: w.sandbox,
		RetryBase: time.Millisecond, Log: testenv.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := orders.Config{
		DB: w.pool, Redis: w.rdb, Prefix: w.prefix, Catalog: w.catalog, ShippingRates: fakeRates{},
		Verifier: w.verifier, Log: testenv.Logger(),
	}
	if w.ordersCf != nil {
		w.ordersCf(&cfg)
	}
	svc, err := orders.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.env.svc = svc
	w.env.serving.Store(svc)
}

// start runs the named services ("orders", "inventory", "payments") until
// the returned stop is called (or the test ends).
func (w *world) start(names ...string) (stop func()) {
	t := w.t
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	runs := map[string]func(context.Context) error{"orders": w.env.svc.Run, "inventory": w.inv.Run, "payments": w.pay.Run}
	if w.ship != nil {
		runs["shipping"] = w.ship.Run
	}
	for _, n := range names {
		run := runs[n]
		wg.Go(func() {
			if err := run(ctx); err != nil {
				t.Errorf("%s: %v", n, err)
			}
		})
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// stock sets the units on hand of sku to n.
func (w *world) stock(sku string, n int) {
	w.t.Helper()
	_, err := inventorypg.NewStore(w.invPool).Adjust(context.Background(), stock.Adjustment{
		SKU: sku, Delta: n, Reason: "delivery", Actor: "test", Now: time.Now(),
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) level(sku string) stock.Item {
	w.t.Helper()
	items, err := w.inv.Stock.Stock(context.Background(), []string{sku})
	if err != nil {
		w.t.Fatal(err)
	}
	return items[0]
}

// payment returns the latest payment of the order with global ID id.
func (w *world) payment(id string) *payment.Payment {
	w.t.Helper()
	key, _ := gid.DecodeAs(id, "Order")
	ps, err := w.pay.Payments.LatestPayments(admin, []string{key})
	if err != nil {
		w.t.Fatal(err)
	}
	return ps[key]
}

// load returns the order with global ID id, folded from its events.
func (w *world) load(id string) *order.Order {
	w.t.Helper()
	key, _ := gid.DecodeAs(id, "Order")
	o, err := w.env.svc.Orders.Order(admin, key)
	if err != nil {
		w.t.Fatal(err)
	}
	return o
}

// eventually waits until cond holds, failing the test with what() if it
// does not within settle.
func eventually(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStatus waits until the order with global ID id has status, and
// returns it.
func (w *world) waitStatus(id string, status order.Status) *order.Order {
	w.t.Helper()
	var o *order.Order
	eventually(w.t, func() bool { o = w.load(id); return o.Status == status },
		func() string {
			return fmt.Sprintf("order %s is %s (%s), want %s", id, o.Status, o.StatusReason, status)
		})
	return o
}

func terminal(s order.Status) bool {
	return s == order.StatusConfirmed || s == order.StatusCancelled || s == order.StatusRejected
}

// buy fills the cart of customer with items and places the order with key
// and the payment token, and returns the order.
func (w *world) buy(customer, key, paymentToken string, items map[string]int) orderJSON {
	w.t.Helper()
	tok := w.token(w.t, customer, "CUSTOMER")
	w.fill(w.t, tok, items)
	var o orderJSON
	w.do(w.t, tok, placeOrder, map[string]any{"in": checkout(key, paymentToken)}).into(w.t, "placeOrder", &o)
	return o
}

func kinds(o *order.Order, w *world) []string {
	tl, err := w.env.svc.Orders.Timelines(admin, []string{o.ID})
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, e := range tl[o.ID] {
		out = append(out, string(e.Kind)+"/"+string(e.Status))
	}
	return out
}

func TestSaga(t *testing.T) {
	t.Parallel()
	catalog := newCatalog(
		variant("MUG", usd(1250)), variant("CAP", usd(2000)), variant("TEE", usd(1500)),
		variant("SOCK", usd(300)), variant("HAT", usd(2500)), variant("BAG", usd(4000)), variant("PEN", usd(200)),
		variant("SCARF", usd(1800)),
	)
	w := newWorld(t, catalog, func(c *orders.Config) { c.StepTimeout = time.Minute })
	for sku, n := range map[string]int{"MUG": 10, "CAP": 5, "TEE": 4, "SOCK": 3, "HAT": 6, "BAG": 8, "PEN": 20, "SCARF": 6} {
		w.stock(sku, n)
	}
	w.start("orders", "inventory", "payments")

	t.Run("happy path", func(t *testing.T) {
		t.Parallel()
		sub := w.rdb.Subscribe(context.Background(), w.prefix+orders.StatusChannel)
		defer sub.Close()
		if _, err := sub.Receive(context.Background()); err != nil { // subscribed
			t.Fatal(err)
		}
		placed := w.buy("happy", "key-happy-0001", sandbox.TokenVisa, map[string]int{"MUG": 2, "CAP": 1})
		o := w.waitStatus(placed.ID, order.StatusConfirmed)
		if got := w.level("MUG"); got.OnHand != 8 || got.Reserved != 0 {
			t.Errorf("MUG %+v, want 8 on hand, 0 reserved", got)
		}
		if got := w.level("CAP"); got.OnHand != 4 || got.Reserved != 0 {
			t.Errorf("CAP %+v, want 4 on hand, 0 reserved", got)
		}
		p := w.payment(placed.ID)
		if p == nil || p.Status != payment.StatusAuthorized || p.Amount != o.Total || p.Amount != usd(2*1250+2000+500) || p.IdempotencyKey != "key-happy-0001" {
			t.Errorf("payment %+v", p)
		}
		want := []string{"PLACED/PENDING", "STOCK_RESERVED/AWAITING_PAYMENT", "PAYMENT_AUTHORIZED/AWAITING_PAYMENT", "STOCK_COMMITTED/CONFIRMED"}
		if got := kinds(o, w); !slices.Equal(got, want) {
			t.Errorf("timeline %v, want %v", got, want)
		}
		// Each status change was published once committed, in order.
		key, _ := gid.DecodeAs(placed.ID, "Order")
		var seen []string
		for len(seen) < 3 {
			select {
			case m := <-sub.Channel():
				var c contract.OrderStatusChanged
				if err := json.Unmarshal([]byte(m.Payload), &c); err != nil {
					t.Fatal(err)
				}
				if c.OrderID == key && (len(seen) == 0 || seen[len(seen)-1] != c.Previous+">"+c.Status) {
					seen = append(seen, c.Previous+">"+c.Status)
					if c.Email != "happy@example.com" || c.Total != o.Total {
						t.Errorf("status change %+v", c)
					}
				}
			case <-time.After(settle):
				t.Fatalf("published status changes: %v", seen)
			}
		}
		if want := []string{">PENDING", "PENDING>AWAITING_PAYMENT", "AWAITING_PAYMENT>CONFIRMED"}; !slices.Equal(seen, want) {
			t.Errorf("published %v, want %v", seen, want)
		}
	})

	t.Run("declined", func(t *testing.T) {
		t.Parallel()
		placed := w.buy("declined", "key-declined-1", sandbox.TokenInsufficientFunds, map[string]int{"TEE": 3})
		o := w.waitStatus(placed.ID, order.StatusCancelled)
		if o.StatusReason != "Payment declined: Your card has insufficient funds." {
			t.Errorf("reason %q", o.StatusReason)
		}
		eventually(t, func() bool { return w.level("TEE").Reserved == 0 }, func() string { return fmt.Sprintf("TEE %+v", w.level("TEE")) })
		if got := w.level("TEE"); got.OnHand != 4 {
			t.Errorf("TEE %+v, want all 4 back", got)
		}
		if p := w.payment(placed.ID); p == nil || p.Status != payment.StatusDeclined {
			t.Errorf("payment %+v", p)
		}
		eventually(t, func() bool { return slices.Contains(kinds(w.load(placed.ID), w), "STOCK_RELEASED/CANCELLED") },
			func() string { return fmt.Sprint(kinds(w.load(placed.ID), w)) })
	})

	t.Run("one line short", func(t *testing.T) {
		t.Parallel()
		placed := w.buy("short", "key-short-0001", sandbox.TokenVisa, map[string]int{"SOCK": 4, "SCARF": 1})
		o := w.waitStatus(placed.ID, order.StatusRejected)
		if o.StatusReason != "Rejected: not enough stock for SOCK (4 requested, 3 available)." {
			t.Errorf("reason %q", o.StatusReason)
		}
		for sku, onHand := range map[string]int{"SOCK": 3, "SCARF": 6} {
			if got := w.level(sku); got.OnHand != onHand || got.Reserved != 0 {
				t.Errorf("%s %+v: want nothing reserved", sku, got)
			}
		}
		if p := w.payment(placed.ID); p != nil {
			t.Errorf("a rejected order was charged: %+v", p)
		}
	})

	t.Run("processing error, then approved", func(t *testing.T) {
		t.Parallel()
		placed := w.buy("flaky", "key-flaky-0001", sandbox.TokenProcessingError, map[string]int{"BAG": 1})
		w.waitStatus(placed.ID, order.StatusConfirmed)
		if p := w.payment(placed.ID); p == nil || p.Status != payment.StatusAuthorized {
			t.Errorf("payment %+v", p)
		}
	})

	t.Run("cancel a confirmed order", func(t *testing.T) {
		t.Parallel()
		placed := w.buy("regret", "key-regret-001", sandbox.TokenVisa, map[string]int{"HAT": 2})
		w.waitStatus(placed.ID, order.StatusConfirmed)
		if got := w.level("HAT"); got.OnHand != 4 {
			t.Fatalf("HAT %+v after the confirmation, want 4 on hand", got)
		}
		var c orderJSON
		w.do(t, w.token(t, "regret", "CUSTOMER"), `mutation($id: ID!) { cancelOrder(id: $id, reason: "found it cheaper") { id status statusReason } }`,
			map[string]any{"id": placed.ID}).into(t, "cancelOrder", &c)
		if c.Status != "CANCELLED" {
			t.Fatalf("cancel: %+v", c)
		}
		eventually(t, func() bool { p := w.payment(placed.ID); return p != nil && p.Status == payment.StatusVoided },
			func() string { return fmt.Sprintf("payment %+v", w.payment(placed.ID)) })
		eventually(t, func() bool { return w.level("HAT").OnHand == 6 }, func() string { return fmt.Sprintf("HAT %+v", w.level("HAT")) })
		if got := w.level("HAT"); got.Reserved != 0 {
			t.Errorf("HAT %+v", got)
		}
		// Nothing more happens to it: a second cancel is refused nothing and
		// changes nothing, and it cannot be confirmed again.
		if o := w.load(placed.ID); o.Status != order.StatusCancelled {
			t.Errorf("status %s", o.Status)
		}
	})

	t.Run("retried placeOrder", func(t *testing.T) {
		t.Parallel()
		tok := w.token(t, "retrier", "CUSTOMER")
		w.fill(t, tok, map[string]int{"PEN": 3})
		var ids sync.Map
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				var o orderJSON
				w.do(t, tok, placeOrder, map[string]any{"in": checkout("key-retry-0001", sandbox.TokenVisa)}).into(t, "placeOrder", &o)
				ids.Store(o.ID, true)
			})
		}
		wg.Wait()
		var id string
		n := 0
		ids.Range(func(k, _ any) bool { id = k.(string); n++; return true })
		if n != 1 {
			t.Fatalf("%d orders from one idempotency key", n)
		}
		w.waitStatus(id, order.StatusConfirmed)
		// And once more after the fact.
		var again orderJSON
		w.do(t, tok, placeOrder, map[string]any{"in": checkout("key-retry-0001", sandbox.TokenVisa)}).into(t, "placeOrder", &again)
		if again.ID != id || again.Status != "CONFIRMED" {
			t.Errorf("late retry: %s %s", again.ID, again.Status)
		}
		var payments int
		if err := w.payPool.QueryRow(context.Background(), `SELECT count(*) FROM payments WHERE customer_id = 'retrier'`).Scan(&payments); err != nil || payments != 1 {
			t.Errorf("%d payments, %v; want 1", payments, err)
		}
		if got := w.level("PEN"); got.OnHand != 17 || got.Reserved != 0 {
			t.Errorf("PEN %+v, want 3 taken once", got)
		}
	})
}

func TestSagaRace(t *testing.T) {
	t.Parallel()
	w := newWorld(t, newCatalog(variant("LAST-TEN", usd(999))), func(c *orders.Config) { c.StepTimeout = 2 * time.Minute })
	w.stock("LAST-TEN", 10)
	w.start("orders", "inventory", "payments")

	const customers = 100
	ids := make([]string, customers)
	var wg sync.WaitGroup
	for i := range customers {
		wg.Go(func() {
			ids[i] = w.buy(fmt.Sprintf("racer-%03d", i), fmt.Sprintf("key-race-%03d", i), sandbox.TokenVisa, map[string]int{"LAST-TEN": 1}).ID
		})
	}
	wg.Wait()
	count := func() map[order.Status]int {
		n := map[order.Status]int{}
		for _, id := range ids {
			n[w.load(id).Status]++
		}
		return n
	}
	var n map[order.Status]int
	eventually(t, func() bool { n = count(); return n[order.StatusConfirmed]+n[order.StatusRejected] == customers },
		func() string { return fmt.Sprint(n) })
	if n[order.StatusConfirmed] != 10 || n[order.StatusRejected] != 90 {
		t.Errorf("outcomes %v, want 10 CONFIRMED and 90 REJECTED", n)
	}
	if got := w.level("LAST-TEN"); got.OnHand != 0 || got.Reserved != 0 {
		t.Errorf("stock %+v, want 0 on hand, 0 reserved", got)
	}
	ledger, err := w.inv.Stock.Ledgers(admin, []string{"LAST-TEN"}, stock.LedgerQuery{First: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ledger["LAST-TEN"].Entries {
		if e.OnHandAfter < 0 || e.ReservedAfter < 0 || e.ReservedAfter > e.OnHandAfter {
			t.Errorf("ledger entry %+v: stock went below zero or oversold", e)
		}
	}
	var charged int
	if err := w.payPool.QueryRow(context.Background(), `SELECT count(*) FROM payments WHERE status = 'AUTHORIZED'`).Scan(&charged); err != nil || charged != 10 {
		t.Errorf("%d authorized payments, %v; want 10", charged, err)
	}
}

func TestSagaTimeoutBeforeThePivot(t *testing.T) {
	t.Parallel()
	w := newWorld(t, newCatalog(variant("SLOW", usd(700))), func(c *orders.Config) {
		c.StepTimeout = 2 * time.Second
		c.SweepInterval = 100 * time.Millisecond
	})
	w.stock("SLOW", 5)
	// Payments is down: the payment step times out.
	w.start("orders", "inventory")
	placed := w.buy("waiter", "key-waiter-001", sandbox.TokenVisa, map[string]int{"SLOW": 2})
	o := w.waitStatus(placed.ID, order.StatusCancelled)
	if o.StatusReason != "Cancelled: timed out waiting for the payment authorization." {
		t.Errorf("reason %q", o.StatusReason)
	}
	eventually(t, func() bool { return w.level("SLOW").Reserved == 0 }, func() string { return fmt.Sprintf("SLOW %+v", w.level("SLOW")) })
	// Payments comes back and authorizes the old request: the saga voids it.
	w.start("payments")
	eventually(t, func() bool { p := w.payment(placed.ID); return p != nil && p.Status == payment.StatusVoided },
		func() string { return fmt.Sprintf("payment %+v", w.payment(placed.ID)) })
	if got := w.level("SLOW"); got.OnHand != 5 || got.Reserved != 0 {
		t.Errorf("SLOW %+v", got)
	}
	if o := w.load(placed.ID); o.Status != order.StatusCancelled {
		t.Errorf("the late authorization changed the order: %s", o.Status)
	}
}

// TestSagaWaitsForItsCommandToLeave: while the orders service's relay is
// down, an order's ReserveStock stays in the outbox; its step's deadline
// passes but the order is not cancelled, and it goes through once the relay
// is back.
func TestSagaWaitsForItsCommandToLeave(t *testing.T) {
	t.Parallel()
	w := newWorld(t, newCatalog(variant("QUEUED", usd(900))), func(c *orders.Config) {
		c.StepTimeout = time.Second
		c.SweepInterval = 100 * time.Millisecond
	})
	w.stock("QUEUED", 3)
	// The participants run; orders (its relay, consumers, sweeper) does not.
	w.start("inventory", "payments")
	placed := w.buy("queued", "key-queued-01", sandbox.TokenVisa, map[string]int{"QUEUED": 1})
	time.Sleep(1200 * time.Millisecond) // past the step's deadline
	if n, err := w.env.svc.Orders.Sweep(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep: %d due orders, %v; want 1", n, err)
	}
	if o := w.load(placed.ID); o.Status != order.StatusPending {
		t.Fatalf("after its deadline with the command unsent: %s (%s); want PENDING, waiting again", o.Status, o.StatusReason)
	}
	if n, err := w.env.svc.Orders.Sweep(context.Background()); err != nil || n != 0 {
		t.Fatalf("sweep again: %d due orders, %v; want none (a new deadline)", n, err)
	}
	w.start("orders")
	w.waitStatus(placed.ID, order.StatusConfirmed)
	if got := w.level("QUEUED"); got.OnHand != 2 || got.Reserved != 0 {
		t.Errorf("QUEUED %+v, want 2 on hand, 0 reserved", got)
	}
}

func TestSagaRestart(t *testing.T) {
	t.Parallel()
	catalog := newCatalog(variant("R1", usd(1000)), variant("R2", usd(2000)), variant("R3", usd(3000)))
	w := newWorld(t, catalog, func(c *orders.Config) { c.StepTimeout = 2 * time.Minute; c.ClaimIdle = 2 * time.Second })
	w.stock("R1", 20)
	w.stock("R2", 20)
	w.stock("R3", 1)

	type bought struct {
		id   string
		want order.Status
		qty  map[string]int
	}
	var all []bought
	buy := func(i int, token string, items map[string]int, want order.Status) {
		o := w.buy(fmt.Sprintf("restart-%02d", i), fmt.Sprintf("key-restart-%02d", i), token, items)
		all = append(all, bought{o.ID, want, items})
	}
	place := func(from int) {
		buy(from, sandbox.TokenVisa, map[string]int{"R1": 1, "R2": 1}, order.StatusConfirmed)
		buy(from+1, sandbox.TokenProcessingError, map[string]int{"R1": 2}, order.StatusConfirmed)
		buy(from+2, sandbox.TokenDeclined, map[string]int{"R2": 3}, order.StatusCancelled)
		buy(from+3, sandbox.TokenVisa, map[string]int{"R3": 5}, order.StatusRejected)
	}

	// Before the restart, payments is down: orders reserve their stock and
	// wait for their payments.
	stop := w.start("orders", "inventory")
	place(0)
	place(4)
	eventually(t, func() bool {
		for _, b := range all {
			if s := w.load(b.id).Status; s != order.StatusAwaitingPayment && s != order.StatusRejected {
				return false
			}
		}
		return true
	}, func() string { return "orders still waiting for stock" })
	stop()
	// internal/events' Run returns while the stopped subscribers' last
	// XREADGROUP (blocking up to 100 ms) may still be in flight: a message
	// published just then is delivered to the stopped consumer and waits
	// for ClaimIdle (inventory's is a minute) before the new one claims it.
	// Let those reads lapse, so that the test does not wait a minute.
	time.Sleep(300 * time.Millisecond)
	// Placed while every service is down.
	place(8)

	// New instances on the same schemas.
	w.rebuild()
	w.start("orders", "inventory", "payments")
	eventually(t, func() bool {
		for _, b := range all {
			if !terminal(w.load(b.id).Status) {
				return false
			}
		}
		return true
	}, func() string {
		var s []string
		for _, b := range all {
			s = append(s, string(w.load(b.id).Status))
		}
		return fmt.Sprint(s)
	})
	taken := map[string]int{}
	for _, b := range all {
		o := w.load(b.id)
		if o.Status != b.want {
			t.Errorf("order %s is %s (%s), want %s", b.id, o.Status, o.StatusReason, b.want)
		}
		if o.Status == order.StatusConfirmed {
			for sku, n := range b.qty {
				taken[sku] += n
			}
			if p := w.payment(b.id); p == nil || p.Status != payment.StatusAuthorized {
				t.Errorf("payment of confirmed order %s: %+v", b.id, p)
			}
		}
	}
	eventually(t, func() bool {
		return w.level("R1").Reserved+w.level("R2").Reserved+w.level("R3").Reserved == 0
	}, func() string { return fmt.Sprint(w.level("R1"), w.level("R2"), w.level("R3")) })
	for sku, start := range map[string]int{"R1": 20, "R2": 20, "R3": 1} {
		if got := w.level(sku); got.OnHand != start-taken[sku] {
			t.Errorf("%s %+v, want %d on hand", sku, got, start-taken[sku])
		}
	}
}

func TestSagaThroughDelivery(t *testing.T) {
	t.Parallel()
	// The real shipping service prices shipping (through the orders
	// service's HTTP client) and ships the order.
	var shippingURL string
	w := newWorld(t, newCatalog(variant("LAMP", usd(4500))), func(c *orders.Config) {
		c.StepTimeout = time.Minute
		if shippingURL != "" {
			c.ShippingRates, c.ShippingURL = nil, shippingURL
		}
	})
	w.withShipping(100 * time.Millisecond)
	srv := httptest.NewServer(w.ship.Handler)
	t.Cleanup(srv.Close)
	shippingURL = srv.URL + "/graphql"
	w.rebuild()
	w.stock("LAMP", 3)
	w.start("orders", "inventory", "payments", "shipping")

	placed := w.buy("lamp-lover", "key-lamp-00001", sandbox.TokenVisa, map[string]int{"LAMP": 1})
	if placed.ShippingCost != usd(599) || placed.ShippingMethodName != "Standard" || placed.Total != usd(5099) {
		t.Errorf("priced %v + %v (%s) = %v, want the shipping service's STANDARD rate", placed.Subtotal, placed.ShippingCost, placed.ShippingMethodName, placed.Total)
	}
	o := w.waitStatus(placed.ID, order.StatusDelivered)
	eventually(t, func() bool { p := w.payment(placed.ID); return p != nil && p.Status == payment.StatusCaptured },
		func() string { return fmt.Sprintf("payment %+v", w.payment(placed.ID)) })
	if p := w.payment(placed.ID); p.Captured != usd(5099) {
		t.Errorf("captured %v", p.Captured)
	}
	got := kinds(o, w)
	for _, want := range []string{"SHIPMENT_CREATED/CONFIRMED", "SHIPPED/SHIPPED", "PAYMENT_CAPTURED/SHIPPED", "DELIVERED/DELIVERED"} {
		if !slices.Contains(got, want) {
			t.Errorf("timeline %v lacks %s", got, want)
		}
	}
	tl, err := w.env.svc.Orders.Timelines(admin, []string{o.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tl[o.ID] {
		if e.Kind == order.KindShipped && !strings.Contains(e.Description, "tracking number") {
			t.Errorf("shipped: %q, want the tracking number", e.Description)
		}
	}
	if got := w.level("LAMP"); got.OnHand != 2 || got.Reserved != 0 {
		t.Errorf("LAMP %+v", got)
	}
	// Notifications learn of the shipment, with its tracking number, on
	// the order events stream.
	var statuses []string
	relayed := func() []string {
		entries, err := w.rdb.XRange(context.Background(), w.prefix+contract.OrderEvents, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range entries {
			var m struct {
				Type    string                      `json:"type"`
				Payload contract.OrderStatusChanged `json:"payload"`
			}
			if err := json.Unmarshal([]byte(fmt.Sprint(x.Values["payload"])), &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m.Payload.Status)
			if m.Payload.Status == "SHIPPED" && (m.Payload.TrackingNumber == "" || m.Payload.Carrier == "") {
				t.Errorf("SHIPPED without tracking: %+v", m.Payload)
			}
		}
		return out
	}
	eventually(t, func() bool { statuses = relayed(); return len(statuses) >= 5 }, func() string { return fmt.Sprint(statuses) })
	if want := []string{"PENDING", "AWAITING_PAYMENT", "CONFIRMED", "SHIPPED", "DELIVERED"}; !slices.Equal(statuses, want) {
		t.Errorf("order events %v, want %v", statuses, want)
	}
}
