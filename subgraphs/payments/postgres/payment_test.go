package postgres_test

import (
	"context"
	"encoding/json"
	"reflect"
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
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
	paymentspg "github.com/shopgraph/shopgraph/subgraphs/payments/postgres"
)

var t0 = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

func usd(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }

func newStore(t *testing.T) (*paymentspg.Store, *pgxpool.Pool) {
	t.Helper()
	pool := testenv.Postgres(t, "payments", paymentspg.Migrations)
	if err := events.Migrate(context.Background(), pool, testenv.Logger()); err != nil {
		t.Fatal(err)
	}
	return paymentspg.NewStore(pool, func() time.Time { return t0 }), pool
}

// create appends a new PENDING payment and returns it.
func create(t *testing.T, s *paymentspg.Store, orderID, customerID, key string, at time.Time) *payment.Payment {
	t.Helper()
	evs, err := payment.Request(uuid.NewString(), payment.RequestInput{
		OrderID: orderID, CustomerID: customerID, Amount: usd(5000), IdempotencyKey: key, Provider: "sandbox",
	}, at)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), nil, evs); err != nil {
		t.Fatal(err)
	}
	return payment.Fold(evs)
}

// step decides events with cmd on p, appends them and returns the result.
func step(t *testing.T, s *paymentspg.Store, p *payment.Payment, cmd func(*payment.Payment) ([]payment.Event, error), notices ...payment.Notice) *payment.Payment {
	t.Helper()
	evs, err := cmd(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), p, evs, notices...); err != nil {
		t.Fatal(err)
	}
	return p.With(evs...)
}

type outboxRow struct {
	Type, Key string
	Result    contract.PaymentResult
	Metadata  map[string]string
	Stream    string
}

func outbox(t *testing.T, pool *pgxpool.Pool) []outboxRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT stream, type, key, payload::text, metadata FROM events_outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		var payload string
		if err := rows.Scan(&r.Stream, &r.Type, &r.Key, &payload, &r.Metadata); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(payload), &r.Result); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestProjectionEqualsFold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	p := create(t, s, "order-1", "cust-1", "key-1", t0)
	p = step(t, s, p, func(p *payment.Payment) ([]payment.Event, error) { return p.Authorize("ch_1", t0.Add(time.Second)) })
	p = step(t, s, p, func(p *payment.Payment) ([]payment.Event, error) { return p.Capture(t0.Add(2 * time.Second)) })
	part := usd(1250)
	p = step(t, s, p, func(p *payment.Payment) ([]payment.Event, error) {
		return p.Refund(uuid.NewString(), &part, "damaged box", t0.Add(3*time.Second))
	})
	p = step(t, s, p, func(p *payment.Payment) ([]payment.Event, error) {
		return p.Refund(uuid.NewString(), nil, "returned", t0.Add(4*time.Second))
	})

	loaded, err := s.Load(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, p) {
		t.Fatalf("fold of stored events =\n%+v\nwant\n%+v", loaded, p)
	}
	if loaded.Status != payment.StatusRefunded || loaded.Version != 5 || loaded.Refunded != usd(5000) {
		t.Errorf("loaded %s version %d refunded %s", loaded.Status, loaded.Version, loaded.Refunded)
	}

	projs, err := s.Payments(ctx, []string{p.ID, uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	if len(projs) != 1 {
		t.Fatalf("got %d projections, want 1", len(projs))
	}
	want := *loaded
	want.Refunds = nil // kept apart, in the refunds projection
	if !reflect.DeepEqual(projs[p.ID], &want) {
		t.Fatalf("projection =\n%+v\nwant the fold\n%+v", projs[p.ID], &want)
	}
	refunds, err := s.Refunds(ctx, []string{p.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(refunds[p.ID], loaded.Refunds) {
		t.Fatalf("refunds projection = %+v, want %+v", refunds[p.ID], loaded.Refunds)
	}
	byID, err := s.RefundsByIDs(ctx, []string{loaded.Refunds[1].ID})
	if err != nil || !reflect.DeepEqual(byID[loaded.Refunds[1].ID], loaded.Refunds[1]) {
		t.Fatalf("refund by ID = %+v, %v", byID, err)
	}

	evs, err := s.Events(ctx, []string{p.ID})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs[p.ID] {
		types = append(types, e.Type())
	}
	wantTypes := []string{"PaymentRequested", "PaymentAuthorized", "PaymentCaptured", "PaymentRefunded", "PaymentRefunded"}
	if !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("events = %v, want %v", types, wantTypes)
	}

	for name, load := range map[string]func() (*payment.Payment, error){
		"by idempotency key": func() (*payment.Payment, error) { return s.LoadByIdempotencyKey(ctx, "cust-1", "key-1") },
		"latest for order":   func() (*payment.Payment, error) { return s.LoadLatestForOrder(ctx, "order-1") },
	} {
		got, err := load()
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("load %s = %+v, %v", name, got, err)
		}
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	create(t, s, "order-1", "cust-1", "key-1", t0)
	tests := map[string]func() error{
		"load":                 func() error { _, err := s.Load(ctx, uuid.NewString()); return err },
		"idempotency key":      func() error { _, err := s.LoadByIdempotencyKey(ctx, "cust-1", "key-2"); return err },
		"other customer's key": func() error { _, err := s.LoadByIdempotencyKey(ctx, "cust-2", "key-1"); return err },
		"order":                func() error { _, err := s.LoadLatestForOrder(ctx, "order-2"); return err },
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			if err := f(); apperr.Code(err) != apperr.NotFound {
				t.Errorf("err = %v, want NOT_FOUND", err)
			}
		})
	}
}

func TestConcurrentAppendsOneWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	p := create(t, s, "order-1", "cust-1", "key-1", t0)
	p = step(t, s, p, func(p *payment.Payment) ([]payment.Event, error) { return p.Authorize("ch_1", t0) })

	// Every writer decided on the same version; only one append may land.
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			var evs []payment.Event
			var notice payment.Notice
			if i%2 == 0 {
				evs, _ = p.Capture(t0.Add(time.Minute))
				notice = payment.Notice{Type: contract.TypePaymentCaptured, Result: contract.PaymentResult{OrderID: p.OrderID, PaymentID: p.ID}}
			} else {
				evs, _ = p.Void("cancelled", t0.Add(time.Minute))
				notice = payment.Notice{Type: contract.TypePaymentVoided, Result: contract.PaymentResult{OrderID: p.OrderID, PaymentID: p.ID}}
			}
			<-start
			errs[i] = s.Append(ctx, p, evs, notice)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch apperr.Code(err) {
		case "":
			won++
		case apperr.Conflict:
		default:
			t.Errorf("writer %d: %v, want nil or CONFLICT", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d appends won, want exactly 1 (errors: %v)", won, errs)
	}
	loaded, err := s.Load(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Version != 3 {
		t.Errorf("stream version = %d, want 3", loaded.Version)
	}
	proj, err := s.Payments(ctx, []string{p.ID})
	if err != nil {
		t.Fatal(err)
	}
	if proj[p.ID].Status != loaded.Status || proj[p.ID].Version != 3 {
		t.Errorf("projection %s v%d, fold %s v3", proj[p.ID].Status, proj[p.ID].Version, loaded.Status)
	}
	// Only the winner's answer reached the outbox.
	rows := outbox(t, pool)
	if len(rows) != 1 || rows[0].Type != "Payment"+map[payment.Status]string{payment.StatusCaptured: "Captured", payment.StatusVoided: "Voided"}[loaded.Status] {
		t.Errorf("outbox = %+v for a %s payment", rows, loaded.Status)
	}
}

func TestStaleAppendChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	p := create(t, s, "order-1", "cust-1", "key-1", t0)
	authorized := step(t, s, p, func(p *payment.Payment) ([]payment.Event, error) { return p.Authorize("ch_1", t0) })

	// Decided on version 1, which is gone.
	evs, err := p.Decline("card_declined", "Your card was declined.", t0)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Append(ctx, p, evs, payment.Notice{Type: contract.TypePaymentDeclined, Result: contract.PaymentResult{OrderID: "order-1"}})
	if apperr.Code(err) != apperr.Conflict {
		t.Fatalf("err = %v, want CONFLICT", err)
	}
	loaded, err := s.Load(ctx, p.ID)
	if err != nil || !reflect.DeepEqual(loaded, authorized) {
		t.Fatalf("after a stale append: %+v, %v", loaded, err)
	}
	if rows := outbox(t, pool); len(rows) != 0 {
		t.Errorf("outbox = %+v, want empty", rows)
	}
}

func TestIdempotencyKeyIsUniquePerCustomer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	first := create(t, s, "order-1", "cust-1", "key-1", t0)

	evs, err := payment.Request(uuid.NewString(), payment.RequestInput{
		OrderID: "order-1", CustomerID: "cust-1", Amount: usd(5000), IdempotencyKey: "key-1", Provider: "sandbox",
	}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, nil, evs); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("second payment with the key: %v, want CONFLICT", err)
	}
	if _, err := s.Load(ctx, evs[0].PaymentID); apperr.Code(err) != apperr.NotFound {
		t.Errorf("the refused payment's events were kept: %v", err)
	}
	got, err := s.LoadByIdempotencyKey(ctx, "cust-1", "key-1")
	if err != nil || got.ID != first.ID {
		t.Errorf("by key = %+v, %v; want the first payment", got, err)
	}
	// Another customer may use the same key.
	create(t, s, "order-2", "cust-2", "key-1", t0)
}

func TestLatestPayments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	create(t, s, "order-1", "cust-1", "key-1", t0)
	second := create(t, s, "order-1", "cust-1", "key-2", t0.Add(time.Hour))
	other := create(t, s, "order-2", "cust-1", "key-3", t0)

	got, err := s.LatestPayments(ctx, []string{"order-1", "order-2", "order-3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["order-1"].ID != second.ID || got["order-2"].ID != other.ID {
		t.Errorf("latest = %+v", got)
	}
	p, err := s.LoadLatestForOrder(ctx, "order-1")
	if err != nil || p.ID != second.ID {
		t.Errorf("load latest = %+v, %v", p, err)
	}
}

func TestOutboxAnswersTheCommand(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t)
	cmd, err := events.New(contract.TypeAuthorizePayment, "order-1", contract.AuthorizePayment{OrderID: "order-1"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Metadata[events.MetaCorrelationID] = "checkout-1"
	ctx := paymentspg.WithCause(context.Background(), cmd)

	p := create(t, s, "order-1", "cust-1", "key-1", t0)
	res := contract.PaymentResult{OrderID: "order-1", PaymentID: p.ID, Amount: usd(5000)}
	step(t, s, p, func(p *payment.Payment) ([]payment.Event, error) { return p.Authorize("ch_1", t0) },
		payment.Notice{Type: contract.TypePaymentAuthorized, Result: res})
	if err := s.Publish(ctx, payment.Notice{Type: contract.TypePaymentAuthorized, Result: res}); err != nil {
		t.Fatal(err)
	}
	rows := outbox(t, pool)
	if len(rows) != 2 {
		t.Fatalf("outbox has %d rows, want 2", len(rows))
	}
	for i, r := range rows {
		if r.Stream != contract.PaymentEvents || r.Type != contract.TypePaymentAuthorized || r.Key != "order-1" || r.Result != res {
			t.Errorf("row %d = %+v", i, r)
		}
	}
	// The second was written under the command: it carries its correlation.
	if rows[1].Metadata[events.MetaCorrelationID] != "checkout-1" || rows[1].Metadata[events.MetaCausationID] != cmd.ID {
		t.Errorf("metadata = %v", rows[1].Metadata)
	}
}
