package payments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/payments"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
	paymentspg "github.com/shopgraph/shopgraph/subgraphs/payments/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/payments/sandbox"
)

// env is one payments service on its own PostgreSQL schema, with a sandbox
// provider and a signing key, shared by the subtests of one test (migrating
// a schema per subtest would serialize on goose's lock).
type env struct {
	svc     *payments.Service
	pool    *pgxpool.Pool
	sandbox *sandbox.Sandbox
	rdb     *redis.Client
	prefix  string
	key     jwk.Key
	url     string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool := testenv.Postgres(t, "payments", paymentspg.Migrations)
	rdb, prefix := testenv.Redis(t)
	key, ver := testenv.SigningKey(t)
	sb := sandbox.New()
	svc, err := payments.New(context.Background(), payments.Config{
		DB: pool, Redis: rdb, StreamPrefix: prefix, Provider: sb, Verifier: ver,
		RetryBase: time.Millisecond, Log: testenv.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler)
	t.Cleanup(func() { srv.Close(); svc.Close() })
	return &env{svc: svc, pool: pool, sandbox: sb, rdb: rdb, prefix: prefix, key: key, url: srv.URL}
}

func (e *env) token(t *testing.T, userID, role string) string {
	t.Helper()
	return testenv.Token(t, e.key, userID, role)
}

// pay authorizes a payment of USD 49.99 for a new order of customerID with
// token, through the domain service as the saga's command would.
func (e *env) pay(t *testing.T, customerID, token string) *payment.Payment {
	t.Helper()
	p, err := e.svc.Payments.Authorize(context.Background(), payment.AuthorizeCommand{
		OrderID: uuid.NewString(), CustomerID: customerID, Amount: money.Money{Amount: 4999, Currency: "USD"},
		PaymentToken: token, IdempotencyKey: uuid.NewString(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// captured returns a captured payment of customerID.
func (e *env) captured(t *testing.T, customerID string) *payment.Payment {
	t.Helper()
	p, err := e.svc.Payments.Capture(context.Background(), e.pay(t, customerID, sandbox.TokenVisa).OrderID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func paymentID(p *payment.Payment) string { return gid.Encode("Payment", p.ID) }
func orderID(p *payment.Payment) string   { return gid.Encode("Order", p.OrderID) }

type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code  string `json:"code"`
		Field string `json:"field"`
	} `json:"extensions"`
}

type response struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []gqlError                 `json:"errors"`
}

// code returns the code of the first error, or "".
func (r response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Extensions.Code
}

// into decodes data field name into v.
func (r response) into(t *testing.T, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data[name], v); err != nil {
		t.Fatalf("decode %s (%s): %v", name, r.Data[name], err)
	}
}

// do posts query with vars, as the holder of token if it is not empty.
func (e *env) do(t *testing.T, token, query string, vars map[string]any) response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r response
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return r
}

// customer returns a new customer's ID and token.
func (e *env) customer(t *testing.T) (string, string) {
	t.Helper()
	id := uuid.NewString()
	return id, e.token(t, id, auth.RoleCustomer)
}

// admin returns an admin's token.
func (e *env) admin(t *testing.T) string {
	t.Helper()
	return e.token(t, uuid.NewString(), auth.RoleAdmin)
}

// adminCtx is the context of an admin, for calls to the domain service.
func adminCtx() context.Context {
	return auth.WithIdentity(context.Background(), auth.Identity{UserID: uuid.NewString(), Role: auth.RoleAdmin})
}
