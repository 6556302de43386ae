package orders_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/orders"
	"github.com/shopgraph/shopgraph/subgraphs/orders/cart"
	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
)

func usd(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }

// fakeCatalog is the product catalog, settable by the test.
type fakeCatalog struct {
	mu       sync.Mutex
	variants map[string]cart.Variant
	down     bool
	// lookups counts the calls of Variants.
	lookups int
}

func newCatalog(vs ...cart.Variant) *fakeCatalog {
	c := &fakeCatalog{variants: map[string]cart.Variant{}}
	for _, v := range vs {
		c.set(v)
	}
	return c
}

func (c *fakeCatalog) set(v cart.Variant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.variants[v.SKU] = v
}

func (c *fakeCatalog) Variants(_ context.Context, skus []string) (map[string]cart.Variant, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lookups++
	if c.down {
		return nil, apperr.Errorf(apperr.Unavailable, "the product catalog cannot be reached; try again")
	}
	out := map[string]cart.Variant{}
	for _, s := range skus {
		if v, ok := c.variants[s]; ok {
			out[s] = v
		}
	}
	return out, nil
}

// calls returns how many times Variants was called so far.
func (c *fakeCatalog) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lookups
}

// variant returns an ACTIVE variant priced at price.
func variant(sku string, price money.Money) cart.Variant {
	return cart.Variant{SKU: sku, Name: "Variant " + sku, Price: price, ProductID: "p-" + sku, ProductName: "Product " + sku, ProductStatus: "ACTIVE"}
}

// fakeRates offers STANDARD (5.00) and EXPRESS (15.00) in every currency.
type fakeRates struct{}

func (fakeRates) Methods(_ context.Context, currency string) ([]order.ShippingMethod, error) {
	return []order.ShippingMethod{
		{Code: "STANDARD", Name: "Standard", Price: money.Money{Amount: 500, Currency: currency}},
		{Code: "EXPRESS", Name: "Express", Price: money.Money{Amount: 1500, Currency: currency}},
	}, nil
}

// env is one orders service on its own PostgreSQL schema and Redis prefix,
// behind an HTTP server.
type env struct {
	svc      *orders.Service
	serving  atomic.Pointer[orders.Service]
	pool     *pgxpool.Pool
	rdb      *redis.Client
	prefix   string
	key      jwk.Key
	verifier *auth.Verifier
	url      string
	catalog  *fakeCatalog
}

func newEnv(t *testing.T, catalog *fakeCatalog, edit func(*orders.Config)) *env {
	t.Helper()
	pool := testenv.Postgres(t, "orders", orders.Migrations)
	rdb, prefix := testenv.Redis(t)
	key, ver := testenv.SigningKey(t)
	cfg := orders.Config{
		DB: pool, Redis: rdb, Prefix: prefix, Catalog: catalog, ShippingRates: fakeRates{}, Verifier: ver,
		Log: testenv.Logger(),
	}
	if edit != nil {
		edit(&cfg)
	}
	svc, err := orders.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{svc: svc, pool: pool, rdb: rdb, prefix: prefix, key: key, verifier: ver, catalog: catalog}
	e.serving.Store(svc)
	// Requests go to the current instance (see world.rebuild).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.serving.Load().Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.Close(); svc.Close() })
	e.url = srv.URL
	return e
}

// run runs the service's saga until the test ends.
func (e *env) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("orders Run: %v", err)
		}
	})
}

// token returns an access token of userID (with the e-mail
// <userID>@example.com) in role.
func (e *env) token(t *testing.T, userID, role string) string {
	t.Helper()
	s, err := auth.NewSigner(e.key, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Issue(auth.Identity{UserID: userID, Email: userID + "@example.com", Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type gqlError struct {
	Message    string `json:"message"`
	Path       []any  `json:"path"`
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
	if len(r.Errors) > 0 {
		t.Fatalf("%s: errors %+v", name, r.Errors)
	}
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
	var out response
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return out
}

// count returns the number of rows of a table in the orders schema.
func (e *env) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

type cartJSON struct {
	ID    string `json:"id"`
	Items []struct {
		SKU         string `json:"sku"`
		Variant     struct{ ID string }
		ProductName string      `json:"productName"`
		VariantName string      `json:"variantName"`
		Quantity    int         `json:"quantity"`
		UnitPrice   money.Money `json:"unitPrice"`
		LineTotal   money.Money `json:"lineTotal"`
		Available   bool        `json:"available"`
	} `json:"items"`
	ItemCount int          `json:"itemCount"`
	Subtotal  *money.Money `json:"subtotal"`
	UpdatedAt *time.Time   `json:"updatedAt"`
}

const cartFields = `id items { sku variant { id } productName variantName quantity unitPrice { amount currency } lineTotal { amount currency } available } itemCount subtotal { amount currency } updatedAt`

type orderJSON struct {
	ID           string `json:"id"`
	Number       string `json:"number"`
	Customer     struct{ ID string }
	Status       string  `json:"status"`
	StatusReason *string `json:"statusReason"`
	Lines        []struct {
		SKU         string      `json:"sku"`
		ProductName string      `json:"productName"`
		VariantName string      `json:"variantName"`
		Quantity    int         `json:"quantity"`
		UnitPrice   money.Money `json:"unitPrice"`
		LineTotal   money.Money `json:"lineTotal"`
	} `json:"lines"`
	Subtotal        money.Money `json:"subtotal"`
	ShippingCost    money.Money `json:"shippingCost"`
	Total           money.Money `json:"total"`
	ShippingAddress struct {
		Recipient, Line1, City, PostalCode, Country string
		Line2, Region, Phone                        *string
	} `json:"shippingAddress"`
	ShippingMethod     string `json:"shippingMethod"`
	ShippingMethodName string `json:"shippingMethodName"`
	Timeline           []struct {
		Type        string    `json:"type"`
		Status      string    `json:"status"`
		At          time.Time `json:"at"`
		Description string    `json:"description"`
	} `json:"timeline"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

const orderFields = `id number customer { id } status statusReason
	lines { sku productName variantName quantity unitPrice { amount currency } lineTotal { amount currency } }
	subtotal { amount currency } shippingCost { amount currency } total { amount currency }
	shippingAddress { recipient line1 line2 city region postalCode country phone }
	shippingMethod shippingMethodName timeline { type status at description } createdAt updatedAt`

const addToCart = `mutation($in: AddToCartInput!) { addToCart(input: $in) { ` + cartFields + ` } }`

const placeOrder = `mutation($in: PlaceOrderInput!) { placeOrder(input: $in) { ` + orderFields + ` } }`

// checkout returns a valid placeOrder input with key and token.
func checkout(key, token string) map[string]any {
	return map[string]any{
		"shippingAddress": map[string]any{
			"recipient": "Ann Lee", "line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US",
		},
		"shippingMethod": "STANDARD", "paymentToken": token, "idempotencyKey": key,
	}
}
