package shipping_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/shipping"
	shippingpg "github.com/shopgraph/shopgraph/subgraphs/shipping/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/sandbox"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

// env is one shipping service on its own PostgreSQL schema and Redis
// prefix, with a sandbox carrier and a signing key, shared by the subtests
// of one test (migrating a schema per subtest would be slow).
type env struct {
	svc     *shipping.Service
	pool    *pgxpool.Pool
	carrier *sandbox.Sandbox
	rdb     *redis.Client
	prefix  string
	key     jwk.Key
	url     string
	// skew is added to the service's clock (see skip).
	skew atomic.Int64
}

// now is the service's clock: the time plus the skew.
func (e *env) now() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }

// skip moves the service's clock d ahead.
func (e *env) skip(d time.Duration) { e.skew.Add(int64(d)) }

// newEnv starts a shipping service whose schedule steps every step (0: only
// by the admin). Run is not started; see startSaga.
func newEnv(t *testing.T, step time.Duration) *env {
	t.Helper()
	pool := testenv.Postgres(t, "shipping", shippingpg.Migrations)
	rdb, prefix := testenv.Redis(t)
	key, ver := testenv.SigningKey(t)
	e := &env{pool: pool, carrier: sandbox.New(), rdb: rdb, prefix: prefix, key: key}
	svc, err := shipping.New(context.Background(), shipping.Config{
		DB: pool, Redis: rdb, StreamPrefix: prefix, Carrier: e.carrier, StepInterval: step,
		Verifier: ver, Log: testenv.Logger(), Now: e.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler)
	t.Cleanup(func() { srv.Close(); svc.Close() })
	e.svc, e.url = svc, srv.URL
	return e
}

// customer returns a new customer's ID and token.
func (e *env) customer(t *testing.T) (string, string) {
	t.Helper()
	id := uuid.NewString()
	return id, testenv.Token(t, e.key, id, auth.RoleCustomer)
}

// tokenFor returns a token of the customer customerID.
func (e *env) tokenFor(t *testing.T, customerID string) string {
	t.Helper()
	return testenv.Token(t, e.key, customerID, auth.RoleCustomer)
}

// admin returns an admin's token.
func (e *env) admin(t *testing.T) string {
	t.Helper()
	return testenv.Token(t, e.key, uuid.NewString(), auth.RoleAdmin)
}

// adminCtx is the context of an admin, for calls to the domain service.
func adminCtx() context.Context {
	return auth.WithIdentity(context.Background(), auth.Identity{UserID: uuid.NewString(), Role: auth.RoleAdmin})
}

// createCmd is a valid CreateShipment command for a new order of customerID.
func createCmd(customerID string) contract.CreateShipment {
	return contract.CreateShipment{
		OrderID: uuid.NewString(), CustomerID: customerID, Method: "EXPRESS",
		Address: contract.Address{
			Recipient: "Ada Lovelace", Line1: "12 St James's Square", City: "London",
			PostalCode: "SW1Y 4JH", Country: "GB", Phone: "+44 20 7946 0000",
		},
		Lines: []contract.Line{{SKU: "MUG-BLUE", Quantity: 2}, {SKU: "CAP-RED", Quantity: 1}},
	}
}

// ship creates, through the domain service as the saga's command would, a
// shipment for a new order of customerID and moves it on steps statuses
// past LABEL_CREATED as an admin would.
func (e *env) ship(t *testing.T, customerID string, steps int) *shipment.Shipment {
	t.Helper()
	sh, err := e.svc.Shipping.Create(context.Background(), createCmd(customerID))
	if err != nil {
		t.Fatal(err)
	}
	for range steps {
		if sh, err = e.svc.Shipping.Advance(adminCtx(), sh.ID); err != nil {
			t.Fatal(err)
		}
	}
	return sh
}

func shipmentID(s *shipment.Shipment) string { return gid.Encode("Shipment", s.ID) }
func orderID(s *shipment.Shipment) string    { return gid.Encode("Order", s.OrderID) }

// shipments returns how many shipments the order has in the database.
func (e *env) shipments(t *testing.T, orderID string) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM shipments WHERE order_id = $1`, orderID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

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
		t.Fatalf("decode %s (%s): %v; errors %+v", name, r.Data[name], err, r.Errors)
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

// saga plays the orders service: it sends shipping commands through an
// outbox and Redis, and reads what arrives on the shipping events stream.
type saga struct {
	e      *env
	events chan events.Message
}

// startSaga runs the service (consumer, relay, schedule) and a reader of
// its events stream until the test ends.
func startSaga(t *testing.T, e *env) *saga {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 2)
	go func() { ran <- e.svc.Run(ctx) }()
	s := &saga{e: e, events: make(chan events.Message, 100)}
	c := events.NewConsumer(e.rdb, events.ConsumerOptions{
		Stream: contract.ShippingEvents, Group: "test-saga", Prefix: e.prefix,
	})
	go func() {
		ran <- c.Run(ctx, func(_ context.Context, m events.Message) error {
			s.events <- m
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

// send publishes m on the shipping commands stream, as the orders service's
// outbox and relay would (here through the shipping schema's outbox).
func (s *saga) send(t *testing.T, m events.Message) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), s.e.pool, func(tx pgx.Tx) error {
		return events.Add(context.Background(), tx, contract.ShippingCommands, m)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// command returns a new command message of type typ for orderID.
func command(t *testing.T, typ, orderID string, payload any) events.Message {
	t.Helper()
	m, err := events.New(typ, orderID, payload, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// next returns the next event on the shipping events stream, failing the
// test if none comes in a long while (a bound for a stuck pipeline, not a
// latency assertion).
func (s *saga) next(t *testing.T) (events.Message, contract.ShipmentResult) {
	t.Helper()
	select {
	case m := <-s.events:
		res, err := events.Decode[contract.ShipmentResult](m)
		if err != nil {
			t.Fatal(err)
		}
		return m, res
	case <-time.After(60 * time.Second):
		t.Fatal("no event on the shipping events stream")
	}
	panic("unreachable")
}

// eventually fails the test if cond does not hold within a long while (a
// bound for a stuck pipeline, not a latency assertion).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
