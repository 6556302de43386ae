package payments_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
	"github.com/shopgraph/shopgraph/subgraphs/payments/sandbox"
)

// saga plays the orders service: it sends payment commands through an
// outbox and Redis and reads the answers on the payment events stream.
type saga struct {
	e       *env
	answers chan events.Message
}

func startSaga(t *testing.T, e *env) *saga {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 2)
	go func() { ran <- e.svc.Run(ctx) }()
	s := &saga{e: e, answers: make(chan events.Message, 100)}
	c := events.NewConsumer(e.rdb, events.ConsumerOptions{
		Stream: contract.PaymentEvents, Group: "test-saga", Prefix: e.prefix, Log: nil,
	})
	go func() {
		ran <- c.Run(ctx, func(_ context.Context, m events.Message) error {
			s.answers <- m
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-ran; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	})
	return s
}

// send publishes m on the payment commands stream, as the orders service's
// outbox and relay would (here through the payments schema's outbox).
func (s *saga) send(t *testing.T, m events.Message) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), s.e.pool, func(tx pgx.Tx) error {
		return events.Add(context.Background(), tx, contract.PaymentCommands, m)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// next returns the next answer, failing the test if none comes in a long
// while (a bound for a stuck pipeline, not a latency assertion).
func (s *saga) next(t *testing.T) (events.Message, contract.PaymentResult) {
	t.Helper()
	select {
	case m := <-s.answers:
		res, err := events.Decode[contract.PaymentResult](m)
		if err != nil {
			t.Fatal(err)
		}
		return m, res
	case <-time.After(60 * time.Second):
		t.Fatal("no answer on the payment events stream")
	}
	panic("unreachable")
}

func TestSagaThroughRedis(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := startSaga(t, e)
	orderID := uuid.NewString()
	amount := money.Money{Amount: 12345, Currency: "EUR"}
	authorize, err := events.New(contract.TypeAuthorizePayment, orderID, contract.AuthorizePayment{
		OrderID: orderID, CustomerID: uuid.NewString(), Amount: amount,
		PaymentToken: sandbox.TokenVisa, IdempotencyKey: uuid.NewString(),
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	authorize.Metadata[events.MetaCorrelationID] = "checkout-" + orderID

	// Delivered twice (at-least-once): answered twice, charged once.
	s.send(t, authorize)
	s.send(t, authorize)
	var paymentID string
	for i := range 2 {
		m, res := s.next(t)
		if m.Type != contract.TypePaymentAuthorized || m.Key != orderID || res.OrderID != orderID || res.Amount != amount || res.PaymentID == "" {
			t.Fatalf("answer %d = %s %s %+v", i, m.Type, m.Key, res)
		}
		if m.CorrelationID() != "checkout-"+orderID || m.Metadata[events.MetaCausationID] != authorize.ID {
			t.Errorf("answer %d metadata = %v", i, m.Metadata)
		}
		if paymentID == "" {
			paymentID = res.PaymentID
		} else if res.PaymentID != paymentID {
			t.Errorf("answers name payments %s and %s", paymentID, res.PaymentID)
		}
	}
	if e.sandbox.Holds() != 1 || e.sandbox.Calls(payment.ProviderKey(&payment.Payment{ID: paymentID})) != 1 {
		t.Errorf("holds %d, provider calls %d; want 1, 1", e.sandbox.Holds(), e.sandbox.Calls(payment.ProviderKey(&payment.Payment{ID: paymentID})))
	}

	// Capture, twice: PaymentCaptured both times.
	capture, err := events.New(contract.TypeCapturePayment, orderID, contract.PaymentCommand{OrderID: orderID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.send(t, capture)
	s.send(t, capture)
	for i := range 2 {
		m, res := s.next(t)
		if m.Type != contract.TypePaymentCaptured || res.PaymentID != paymentID || res.Amount != amount {
			t.Fatalf("capture answer %d = %s %+v", i, m.Type, res)
		}
	}
	p, err := e.svc.Payments.Payments(adminCtx(), []string{paymentID})
	if err != nil || p[paymentID] == nil || p[paymentID].Status != payment.StatusCaptured {
		t.Errorf("payment after capture = %+v, %v", p[paymentID], err)
	}
}

func TestSagaDeclineAndVoid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := startSaga(t, e)
	send := func(typ, orderID string, payload any) {
		m, err := events.New(typ, orderID, payload, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		s.send(t, m)
	}
	amount := money.Money{Amount: 500, Currency: "USD"}
	declined, authorized := uuid.NewString(), uuid.NewString()
	send(contract.TypeAuthorizePayment, declined, contract.AuthorizePayment{
		OrderID: declined, CustomerID: "c", Amount: amount, PaymentToken: sandbox.TokenInsufficientFunds, IdempotencyKey: declined,
	})
	m, res := s.next(t)
	if m.Type != contract.TypePaymentDeclined || res.OrderID != declined || res.DeclineCode != "insufficient_funds" || res.Reason != "Your card has insufficient funds." {
		t.Fatalf("answer = %s %+v", m.Type, res)
	}
	send(contract.TypeAuthorizePayment, authorized, contract.AuthorizePayment{
		OrderID: authorized, CustomerID: "c", Amount: amount, PaymentToken: sandbox.TokenProcessingError, IdempotencyKey: authorized,
	})
	if m, res := s.next(t); m.Type != contract.TypePaymentAuthorized || res.OrderID != authorized {
		t.Fatalf("answer = %s %+v", m.Type, res)
	}
	send(contract.TypeVoidPayment, authorized, contract.PaymentCommand{OrderID: authorized, Reason: "cancelled by customer"})
	if m, res := s.next(t); m.Type != contract.TypePaymentVoided || res.OrderID != authorized || res.Reason != "cancelled by customer" {
		t.Fatalf("answer = %s %+v", m.Type, res)
	}
	// A malformed command is answered with PaymentFailed so that the saga
	// can compensate at once.
	bad := uuid.NewString()
	send(contract.TypeAuthorizePayment, bad, contract.AuthorizePayment{OrderID: bad, CustomerID: "c", Amount: money.Money{Amount: -1, Currency: "USD"}, PaymentToken: sandbox.TokenVisa, IdempotencyKey: bad})
	if m, res := s.next(t); m.Type != contract.TypePaymentFailed || res.OrderID != bad {
		t.Fatalf("answer = %s %+v", m.Type, res)
	}
}
