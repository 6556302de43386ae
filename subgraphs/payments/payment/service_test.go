package payment_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
	paymentspg "github.com/shopgraph/shopgraph/subgraphs/payments/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/payments/sandbox"
)

func usd(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }

// counting counts the calls made to a provider.
type counting struct {
	payment.Provider
	mu    sync.Mutex
	calls map[string]int
}

func (c *counting) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
}

func (c *counting) n(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

func (c *counting) Authorize(ctx context.Context, req payment.AuthorizeRequest) (payment.AuthorizeResult, error) {
	c.count("authorize")
	return c.Provider.Authorize(ctx, req)
}

func (c *counting) Capture(ctx context.Context, ref string, amount money.Money) error {
	c.count("capture")
	return c.Provider.Capture(ctx, ref, amount)
}

func (c *counting) Void(ctx context.Context, ref string) error {
	c.count("void")
	return c.Provider.Void(ctx, ref)
}

func (c *counting) Refund(ctx context.Context, ref string, amount money.Money, key string) error {
	c.count("refund")
	return c.Provider.Refund(ctx, ref, amount, key)
}

type env struct {
	svc      *payment.Service
	store    *paymentspg.Store
	pool     *pgxpool.Pool
	sandbox  *sandbox.Sandbox
	provider *counting
}

func newEnv(t *testing.T, opts ...sandbox.Option) *env {
	t.Helper()
	pool := testenv.Postgres(t, "payments", paymentspg.Migrations)
	if err := events.Migrate(context.Background(), pool, testenv.Logger()); err != nil {
		t.Fatal(err)
	}
	sb := sandbox.New(opts...)
	prov := &counting{Provider: sb, calls: map[string]int{}}
	store := paymentspg.NewStore(pool, nil)
	svc := payment.NewService(payment.Config{
		Store: store, Provider: prov, ProviderName: "sandbox", Log: testenv.Logger(),
		Attempts: 4, RetryBase: time.Millisecond,
	})
	return &env{svc: svc, store: store, pool: pool, sandbox: sb, provider: prov}
}

func command(token string) payment.AuthorizeCommand {
	return payment.AuthorizeCommand{
		OrderID: uuid.NewString(), CustomerID: uuid.NewString(), Amount: usd(4999),
		PaymentToken: token, IdempotencyKey: uuid.NewString(),
	}
}

type answer struct {
	Type   string
	Key    string
	Result contract.PaymentResult
}

// answers returns what the service wrote to the outbox, oldest first.
func (e *env) answers(t *testing.T) []answer {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT type, key, payload::text FROM events_outbox WHERE stream = $1 ORDER BY seq`, contract.PaymentEvents)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []answer
	for rows.Next() {
		var a answer
		var payload string
		if err := rows.Scan(&a.Type, &a.Key, &payload); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(payload), &a.Result); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// authorized returns an AUTHORIZED payment.
func (e *env) authorized(t *testing.T) *payment.Payment {
	t.Helper()
	p, err := e.svc.Authorize(context.Background(), command(sandbox.TokenVisa))
	if err != nil || p.Status != payment.StatusAuthorized {
		t.Fatalf("authorize: %v, %v", p, err)
	}
	return p
}

// captured returns a CAPTURED payment.
func (e *env) captured(t *testing.T) *payment.Payment {
	t.Helper()
	p, err := e.svc.Capture(context.Background(), e.authorized(t).OrderID)
	if err != nil || p.Status != payment.StatusCaptured {
		t.Fatalf("capture: %v, %v", p, err)
	}
	return p
}

func admin() context.Context {
	return auth.WithIdentity(context.Background(), auth.Identity{UserID: uuid.NewString(), Role: auth.RoleAdmin})
}

func customer(id string) context.Context {
	return auth.WithIdentity(context.Background(), auth.Identity{UserID: id, Role: auth.RoleCustomer})
}

func TestAuthorizeTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		token      string
		status     payment.Status
		answer     string
		code       string
		reason     string
		authorizes int // provider calls
	}{
		{sandbox.TokenVisa, payment.StatusAuthorized, contract.TypePaymentAuthorized, "", "", 1},
		{sandbox.TokenDeclined, payment.StatusDeclined, contract.TypePaymentDeclined, "card_declined", "Your card was declined.", 1},
		{sandbox.TokenInsufficientFunds, payment.StatusDeclined, contract.TypePaymentDeclined, "insufficient_funds", "Your card has insufficient funds.", 1},
		{"tok_bogus", payment.StatusDeclined, contract.TypePaymentDeclined, "invalid_token", "The payment token is not valid.", 1},
		// Fails twice, is retried, then approves.
		{sandbox.TokenProcessingError, payment.StatusAuthorized, contract.TypePaymentAuthorized, "", "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			cmd := command(tt.token)
			p, err := e.svc.Authorize(context.Background(), cmd)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != tt.status || p.DeclineCode != tt.code || p.DeclineReason != tt.reason {
				t.Errorf("payment %s %q %q, want %s %q %q", p.Status, p.DeclineCode, p.DeclineReason, tt.status, tt.code, tt.reason)
			}
			if p.OrderID != cmd.OrderID || p.CustomerID != cmd.CustomerID || p.Amount != cmd.Amount || p.Provider != "sandbox" {
				t.Errorf("payment = %+v for %+v", p, cmd)
			}
			if (p.Reference != "") != (tt.status == payment.StatusAuthorized) {
				t.Errorf("reference = %q", p.Reference)
			}
			if n := e.provider.n("authorize"); n != tt.authorizes {
				t.Errorf("provider asked %d times, want %d", n, tt.authorizes)
			}
			got := e.answers(t)
			want := answer{Type: tt.answer, Key: cmd.OrderID, Result: contract.PaymentResult{
				OrderID: cmd.OrderID, PaymentID: p.ID, Amount: cmd.Amount, Reason: tt.reason, DeclineCode: tt.code,
			}}
			if len(got) != 1 || got[0] != want {
				t.Errorf("answers = %+v, want [%+v]", got, want)
			}
			// The projection serves queries with the same state.
			ps, err := e.svc.Payments(admin(), []string{p.ID})
			if err != nil || ps[p.ID] == nil || ps[p.ID].Status != tt.status || ps[p.ID].Version != 2 {
				t.Errorf("projection = %+v, %v", ps[p.ID], err)
			}
		})
	}
}

func TestAuthorizeTwiceChargesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	cmd := command(sandbox.TokenVisa)
	first, err := e.svc.Authorize(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.svc.Authorize(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != first.ID || second.Reference != first.Reference || second.Version != 2 {
		t.Errorf("second = %+v, want the first payment %+v", second, first)
	}
	if n := e.provider.n("authorize"); n != 1 {
		t.Errorf("provider asked %d times, want once", n)
	}
	if e.sandbox.Holds() != 1 {
		t.Errorf("%d holds, want 1", e.sandbox.Holds())
	}
	got := e.answers(t)
	if len(got) != 2 || got[0] != got[1] || got[1].Type != contract.TypePaymentAuthorized || got[1].Result.PaymentID != first.ID {
		t.Errorf("answers = %+v, want PaymentAuthorized twice", got)
	}
}

func TestConcurrentAuthorizeChargesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	cmd := command(sandbox.TokenVisa)
	const deliveries = 4
	var wg sync.WaitGroup
	ps := make([]*payment.Payment, deliveries)
	errs := make([]error, deliveries)
	for i := range deliveries {
		wg.Go(func() { ps[i], errs[i] = e.svc.Authorize(ctx, cmd) })
	}
	wg.Wait()
	for i := range deliveries {
		if errs[i] != nil || ps[i].ID != ps[0].ID || ps[i].Status != payment.StatusAuthorized {
			t.Fatalf("delivery %d: %+v, %v", i, ps[i], errs[i])
		}
	}
	if e.sandbox.Holds() != 1 {
		t.Errorf("%d holds, want 1", e.sandbox.Holds())
	}
	evs, err := e.store.Events(ctx, []string{ps[0].ID})
	if err != nil || len(evs[ps[0].ID]) != 2 {
		t.Errorf("stream = %+v, %v; want PaymentRequested, PaymentAuthorized", evs, err)
	}
}

func TestTransientForeverFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, sandbox.WithTransientFailures(1000))
	cmd := command(sandbox.TokenProcessingError)
	p, err := e.svc.Authorize(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != payment.StatusFailed || p.FailureReason == "" {
		t.Errorf("payment %s %q, want FAILED with a reason", p.Status, p.FailureReason)
	}
	if n := e.provider.n("authorize"); n != 4 {
		t.Errorf("provider asked %d times, want the 4 attempts", n)
	}
	// A repeated command answers the recorded outcome; the provider is not
	// asked again.
	if _, err := e.svc.Authorize(ctx, cmd); err != nil {
		t.Fatal(err)
	}
	if n := e.provider.n("authorize"); n != 4 {
		t.Errorf("provider asked %d times after the repeat, want 4", n)
	}
	got := e.answers(t)
	if len(got) != 2 || got[0].Type != contract.TypePaymentFailed || got[1] != got[0] || got[0].Result.Reason != p.FailureReason {
		t.Errorf("answers = %+v, want PaymentFailed twice", got)
	}
}

func TestAuthorizeAfterCrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	cmd := command(sandbox.TokenVisa)
	// The request was recorded and the provider authorized, but the
	// process died before the outcome was recorded.
	id := uuid.NewString()
	evs, err := payment.Request(id, payment.RequestInput{OrderID: cmd.OrderID, CustomerID: cmd.CustomerID, Amount: cmd.Amount, IdempotencyKey: cmd.IdempotencyKey, Provider: "sandbox"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Append(ctx, nil, evs); err != nil {
		t.Fatal(err)
	}
	before, err := e.sandbox.Authorize(ctx, payment.AuthorizeRequest{Token: cmd.PaymentToken, Amount: cmd.Amount, IdempotencyKey: payment.ProviderKey(payment.Fold(evs))})
	if err != nil {
		t.Fatal(err)
	}
	// The command is delivered again.
	p, err := e.svc.Authorize(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != id || p.Status != payment.StatusAuthorized || p.Reference != before.Reference {
		t.Errorf("payment = %+v, want %s AUTHORIZED with reference %s", p, id, before.Reference)
	}
	if e.sandbox.Holds() != 1 {
		t.Errorf("%d holds, want 1", e.sandbox.Holds())
	}
}

func TestAuthorizeRefusesBadCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		edit  func(*payment.AuthorizeCommand)
		field string
	}{
		{"zero amount", func(c *payment.AuthorizeCommand) { c.Amount = usd(0) }, "amount"},
		{"unknown currency", func(c *payment.AuthorizeCommand) { c.Amount.Currency = "ABC" }, "amount"},
		{"no token", func(c *payment.AuthorizeCommand) { c.PaymentToken = "" }, "paymentToken"},
		{"no idempotency key", func(c *payment.AuthorizeCommand) { c.IdempotencyKey = "" }, "idempotencyKey"},
		{"no customer", func(c *payment.AuthorizeCommand) { c.CustomerID = "" }, "customerId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			cmd := command(sandbox.TokenVisa)
			tt.edit(&cmd)
			_, err := e.svc.Authorize(ctx, cmd)
			if ae, ok := apperr.As(err); !ok || ae.Code != apperr.InvalidInput || ae.Field != tt.field {
				t.Fatalf("err = %v, want INVALID_INPUT on %s", err, tt.field)
			}
			if e.provider.n("authorize") != 0 {
				t.Error("the provider was asked")
			}
			if _, err := e.store.LoadLatestForOrder(ctx, cmd.OrderID); apperr.Code(err) != apperr.NotFound {
				t.Errorf("a payment was recorded: %v", err)
			}
			// The saga is told at once, so that it can compensate.
			got := e.answers(t)
			if len(got) != 1 || got[0].Type != contract.TypePaymentFailed || got[0].Key != cmd.OrderID {
				t.Errorf("answers = %+v, want one PaymentFailed", got)
			}
		})
	}
}

func TestIdempotencyKeyReusedForAnotherOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	first := command(sandbox.TokenVisa)
	p, err := e.svc.Authorize(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	second := first
	second.OrderID = uuid.NewString()
	if _, err := e.svc.Authorize(ctx, second); apperr.Code(err) != apperr.Conflict {
		t.Fatalf("err = %v, want CONFLICT", err)
	}
	got := e.answers(t)
	if len(got) != 2 || got[1].Type != contract.TypePaymentDeclined || got[1].Key != second.OrderID || got[1].Result.DeclineCode != "idempotency_key_reused" {
		t.Errorf("answers = %+v", got)
	}
	if e.provider.n("authorize") != 1 {
		t.Errorf("provider asked %d times", e.provider.n("authorize"))
	}
	again, err := e.store.Load(ctx, p.ID)
	if err != nil || again.Version != 2 || again.OrderID != first.OrderID {
		t.Errorf("first payment changed: %+v, %v", again, err)
	}
}

func TestCaptureAndVoid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	capture := func(e *env, p *payment.Payment) (*payment.Payment, error) { return e.svc.Capture(ctx, p.OrderID) }
	void := func(e *env, p *payment.Payment) (*payment.Payment, error) {
		return e.svc.Void(ctx, p.OrderID, "order cancelled")
	}
	declined := func(e *env, t *testing.T) *payment.Payment {
		p, err := e.svc.Authorize(ctx, command(sandbox.TokenDeclined))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	voided := func(e *env, t *testing.T) *payment.Payment {
		p, err := void(e, e.authorized(t))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name   string
		given  func(*env, *testing.T) *payment.Payment
		do     func(*env, *payment.Payment) (*payment.Payment, error)
		code   string         // error code, or "" for success
		status payment.Status // after
		answer string         // the last answer, if any
		calls  string         // the provider call made, if any
	}{
		{"capture authorized", (*env).authorized, capture, "", payment.StatusCaptured, contract.TypePaymentCaptured, "capture"},
		{"capture captured again", (*env).captured, capture, "", payment.StatusCaptured, contract.TypePaymentCaptured, ""},
		{"capture voided", voided, capture, apperr.Conflict, payment.StatusVoided, "", ""},
		{"capture declined", declined, capture, apperr.Conflict, payment.StatusDeclined, "", ""},
		{"void authorized", (*env).authorized, void, "", payment.StatusVoided, contract.TypePaymentVoided, "void"},
		{"void voided again", voided, void, "", payment.StatusVoided, contract.TypePaymentVoided, ""},
		{"void captured", (*env).captured, void, apperr.Conflict, payment.StatusCaptured, "", ""},
		{"void declined: nothing held", declined, void, "", payment.StatusDeclined, contract.TypePaymentVoided, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			p := tt.given(e, t)
			before := len(e.answers(t))
			calls := map[string]int{"capture": e.provider.n("capture"), "void": e.provider.n("void")}
			_, err := tt.do(e, p)
			if apperr.Code(err) != tt.code {
				t.Fatalf("err = %v, want %q", err, tt.code)
			}
			after, err := e.store.Load(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if after.Status != tt.status {
				t.Errorf("status = %s, want %s", after.Status, tt.status)
			}
			got := e.answers(t)[before:]
			if tt.answer == "" {
				if len(got) != 0 {
					t.Errorf("answered %+v, want nothing", got)
				}
			} else if len(got) != 1 || got[0].Type != tt.answer || got[0].Key != p.OrderID || got[0].Result.PaymentID != p.ID {
				t.Errorf("answers = %+v, want one %s", got, tt.answer)
			}
			for op, n := range calls {
				want := n
				if op == tt.calls {
					want++
				}
				if e.provider.n(op) != want {
					t.Errorf("provider %s calls = %d, want %d", op, e.provider.n(op), want)
				}
			}
		})
	}
}

func TestCaptureUnknownOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.svc.Capture(context.Background(), uuid.NewString()); apperr.Code(err) != apperr.NotFound {
		t.Errorf("err = %v, want NOT_FOUND", err)
	}
	// Void is a compensation: with no payment there is nothing to release.
	order := uuid.NewString()
	if _, err := e.svc.Void(context.Background(), order, "timed out"); err != nil {
		t.Fatal(err)
	}
	if got := e.answers(t); len(got) != 1 || got[0].Type != contract.TypePaymentVoided || got[0].Key != order {
		t.Errorf("answers = %+v", got)
	}
}

func TestConcurrentCapturesRecordOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	p := e.authorized(t)
	const deliveries = 4
	var wg sync.WaitGroup
	errs := make([]error, deliveries)
	for i := range deliveries {
		wg.Go(func() { _, errs[i] = e.svc.Capture(ctx, p.OrderID) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("delivery %d: %v", i, err)
		}
	}
	evs, err := e.store.Events(ctx, []string{p.ID})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(evs[p.ID]); n != 3 {
		t.Errorf("stream has %d events, want 3 (one PaymentCaptured)", n)
	}
}

func TestRefund(t *testing.T) {
	t.Parallel()
	usdPtr := func(n int64) *money.Money { m := usd(n); return &m }
	tests := []struct {
		name     string
		ctx      func(p *payment.Payment) context.Context
		given    func(*env, *testing.T) *payment.Payment
		amount   *money.Money
		reason   string
		code     string
		status   payment.Status
		refunded int64
	}{
		{"all that is left", func(*payment.Payment) context.Context { return admin() }, (*env).captured, nil, "returned", "", payment.StatusRefunded, 4999},
		{"part", func(*payment.Payment) context.Context { return admin() }, (*env).captured, usdPtr(999), "scratched", "", payment.StatusPartiallyRefunded, 999},
		{"more than captured", func(*payment.Payment) context.Context { return admin() }, (*env).captured, usdPtr(5000), "x", apperr.InvalidInput, payment.StatusCaptured, 0},
		{"another currency", func(*payment.Payment) context.Context { return admin() }, (*env).captured, &money.Money{Amount: 1, Currency: "EUR"}, "x", apperr.InvalidInput, payment.StatusCaptured, 0},
		{"no reason", func(*payment.Payment) context.Context { return admin() }, (*env).captured, nil, " ", apperr.InvalidInput, payment.StatusCaptured, 0},
		{"not captured", func(*payment.Payment) context.Context { return admin() }, (*env).authorized, nil, "x", apperr.Conflict, payment.StatusAuthorized, 0},
		{"by its customer", func(p *payment.Payment) context.Context { return customer(p.CustomerID) }, (*env).captured, nil, "x", apperr.Forbidden, payment.StatusCaptured, 0},
		{"anonymous", func(*payment.Payment) context.Context { return context.Background() }, (*env).captured, nil, "x", apperr.Unauthenticated, payment.StatusCaptured, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			p := tt.given(e, t)
			before := len(e.answers(t))
			got, err := e.svc.Refund(tt.ctx(p), p.ID, tt.amount, tt.reason)
			if apperr.Code(err) != tt.code {
				t.Fatalf("err = %v, want %q", err, tt.code)
			}
			after, lerr := e.store.Load(context.Background(), p.ID)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if after.Status != tt.status || after.Refunded.Amount != tt.refunded {
				t.Errorf("after: %s refunded %s, want %s %d", after.Status, after.Refunded, tt.status, tt.refunded)
			}
			answers := e.answers(t)[before:]
			if tt.code != "" {
				if len(answers) != 0 || e.provider.n("refund") != 0 || after.Version != p.Version {
					t.Errorf("a refused refund changed something: answers %+v, %d provider calls, version %d", answers, e.provider.n("refund"), after.Version)
				}
				return
			}
			if got.Status != tt.status || len(got.Refunds) != 1 || got.Refunds[0].Reason != tt.reason || got.Refunds[0].Amount.Amount != tt.refunded {
				t.Errorf("refunded payment = %+v", got)
			}
			if len(answers) != 1 || answers[0].Type != contract.TypePaymentRefunded || answers[0].Result.Amount.Amount != tt.refunded {
				t.Errorf("answers = %+v, want one PaymentRefunded", answers)
			}
		})
	}
}

func TestRefundUnknownPayment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		if _, err := e.svc.Refund(admin(), id, nil, "x"); apperr.Code(err) != apperr.NotFound {
			t.Errorf("refund %q: %v, want NOT_FOUND", id, err)
		}
	}
}

func TestWhoSeesWhat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mine := e.captured(t)
	if _, err := e.svc.Refund(admin(), mine.ID, nil, "returned"); err != nil {
		t.Fatal(err)
	}
	theirs := e.authorized(t)
	refunds, err := e.svc.Refunds(context.Background(), []string{mine.ID})
	if err != nil || len(refunds[mine.ID]) != 1 {
		t.Fatalf("refunds = %+v, %v", refunds, err)
	}
	refundID := refunds[mine.ID][0].ID
	tests := []struct {
		name      string
		ctx       context.Context
		code      string
		payments  []string // visible payment IDs
		refundVis bool
	}{
		{"customer", customer(mine.CustomerID), "", []string{mine.ID}, true},
		{"other customer", customer(uuid.NewString()), "", nil, false},
		{"admin", admin(), "", []string{mine.ID, theirs.ID}, true},
		{"anonymous", context.Background(), apperr.Unauthenticated, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ps, err := e.svc.Payments(tt.ctx, []string{mine.ID, theirs.ID, "junk"})
			if apperr.Code(err) != tt.code {
				t.Fatalf("payments: %v, want %q", err, tt.code)
			}
			if len(ps) != len(tt.payments) {
				t.Errorf("sees %d payments, want %v", len(ps), tt.payments)
			}
			for _, id := range tt.payments {
				if ps[id] == nil {
					t.Errorf("does not see %s", id)
				}
			}
			latest, err := e.svc.LatestPayments(tt.ctx, []string{mine.OrderID, theirs.OrderID})
			if apperr.Code(err) != tt.code || len(latest) != len(tt.payments) {
				t.Errorf("latest = %d payments, %v", len(latest), err)
			}
			rs, err := e.svc.RefundsByIDs(tt.ctx, []string{refundID})
			if apperr.Code(err) != tt.code || (len(rs) == 1) != tt.refundVis {
				t.Errorf("refund visible = %v, %v; want %v", len(rs) == 1, err, tt.refundVis)
			}
			_, err = e.svc.Payment(tt.ctx, theirs.ID)
			wantOne := tt.code
			if wantOne == "" && tt.name != "admin" {
				wantOne = apperr.NotFound
			}
			if apperr.Code(err) != wantOne {
				t.Errorf("their payment: %v, want %q", err, wantOne)
			}
		})
	}
}
