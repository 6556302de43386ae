package users_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/users"
	userspg "github.com/shopgraph/shopgraph/subgraphs/users/postgres"
)

// env is one PostgreSQL schema, Redis prefix and signing key, shared by the
// servers of one test (migrating a schema per subtest would serialize on
// goose's lock).
type env struct {
	pool   *pgxpool.Pool
	rdb    *redis.Client
	prefix string
	key    jwk.Key
	ver    *auth.Verifier
	jwks   jwk.Set
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool := testenv.Postgres(t, "users", userspg.Migrations)
	rdb, prefix := testenv.Redis(t)
	key, ver := testenv.SigningKey(t)
	jwks, err := auth.PublicSet(key)
	if err != nil {
		t.Fatal(err)
	}
	return &env{pool: pool, rdb: rdb, prefix: prefix, key: key, ver: ver, jwks: jwks}
}

// config returns a users.Config on the env with generous login and
// registration limits.
func (e *env) config(t *testing.T) users.Config {
	t.Helper()
	signer, err := auth.NewSigner(e.key, 15*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	return users.Config{
		DB: e.pool, Redis: e.rdb, RedisPrefix: e.prefix + testenv.ID() + ":",
		Signer: signer, Verifier: e.ver, JWKS: e.jwks,
		RefreshTTL:           24 * time.Hour,
		LoginLimitPerAccount: 100, LoginLimitPerAddress: 100, LoginLimitWindow: time.Minute,
		RegisterLimitPerAddress: 100000,
		Log:                     testenv.Logger(),
	}
}

// server starts a users service with c and returns a client for it.
func server(t *testing.T, c users.Config) *client {
	t.Helper()
	svc, err := users.New(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler)
	t.Cleanup(func() { srv.Close(); svc.Close() })
	return &client{url: srv.URL, addr: randomAddr()}
}

// client posts GraphQL to a users service from one client address (sent as
// X-Forwarded-For, so that parallel tests do not share rate limits).
type client struct {
	url  string
	addr string
}

// from returns a client that sends addr as its address.
func (c *client) from(addr string) *client { return &client{url: c.url, addr: addr} }

func randomAddr() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return fmt.Sprintf("198.18.%d.%d", b[0], b[1])
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
	Status int
	Data   map[string]json.RawMessage `json:"data"`
	Errors []gqlError                 `json:"errors"`
}

// do posts query with vars, as the holder of token if it is not empty.
func (c *client) do(t *testing.T, token, query string, vars map[string]any) response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, c.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.addr != "" {
		req.Header.Set("X-Forwarded-For", c.addr)
	}
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
	r.Status = res.StatusCode
	return r
}

// ok posts and fails the test on any error; it decodes data.<field> into out.
func (c *client) ok(t *testing.T, token, query string, vars map[string]any, field string, out any) {
	t.Helper()
	r := c.do(t, token, query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v", r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data[field], out); err != nil {
			t.Fatalf("decode data.%s (%s): %v", field, r.Data[field], err)
		}
	}
}

// fails posts and checks that it fails with one error of code (and, if not
// empty, on field) and that data.<dataField> is null.
func (c *client) fails(t *testing.T, token, query string, vars map[string]any, code, field string) gqlError {
	t.Helper()
	r := c.do(t, token, query, vars)
	if len(r.Errors) != 1 {
		t.Fatalf("got %d errors %+v (data %s); want one %s", len(r.Errors), r.Errors, r.Data, code)
	}
	e := r.Errors[0]
	if e.Extensions.Code != code || (field != "" && e.Extensions.Field != field) {
		t.Fatalf("error %+v; want code %s field %q", e, code, field)
	}
	for k, v := range r.Data {
		if string(v) != "null" {
			t.Fatalf("data.%s = %s despite the error", k, v)
		}
	}
	return e
}

type userJSON struct {
	ID             string        `json:"id"`
	Email          string        `json:"email"`
	Name           string        `json:"name"`
	Phone          *string       `json:"phone"`
	Role           string        `json:"role"`
	CreatedAt      time.Time     `json:"createdAt"`
	Addresses      []addressJSON `json:"addresses"`
	DefaultAddress *addressJSON  `json:"defaultAddress"`
}

type addressJSON struct {
	ID         string  `json:"id"`
	Recipient  string  `json:"recipient"`
	Line1      string  `json:"line1"`
	Line2      *string `json:"line2"`
	City       string  `json:"city"`
	Region     *string `json:"region"`
	PostalCode string  `json:"postalCode"`
	Country    string  `json:"country"`
	Phone      *string `json:"phone"`
	IsDefault  bool    `json:"isDefault"`
}

type authPayload struct {
	AccessToken  string    `json:"accessToken"`
	RefreshToken string    `json:"refreshToken"`
	TokenType    string    `json:"tokenType"`
	ExpiresAt    time.Time `json:"expiresAt"`
	User         userJSON  `json:"user"`
}

const userFields = `id email name phone role createdAt`
const addressFields = `id recipient line1 line2 city region postalCode country phone isDefault`

const registerMutation = `mutation($in: RegisterInput!) { register(input: $in) {
	accessToken refreshToken tokenType expiresAt user { ` + userFields + ` } } }`
const loginMutation = `mutation($in: LoginInput!) { login(input: $in) {
	accessToken refreshToken tokenType expiresAt user { ` + userFields + ` } } }`
const refreshMutation = `mutation($t: String!) { refreshToken(refreshToken: $t) {
	accessToken refreshToken tokenType expiresAt user { ` + userFields + ` } } }`
const meQuery = `{ me { ` + userFields + ` addresses { ` + addressFields + ` } defaultAddress { id } } }`

func (c *client) register(t *testing.T, email, password, name string) authPayload {
	t.Helper()
	var p authPayload
	c.ok(t, "", registerMutation, map[string]any{"in": map[string]any{"email": email, "password": password, "name": name}}, "register", &p)
	return p
}

func (c *client) login(t *testing.T, email, password string) authPayload {
	t.Helper()
	var p authPayload
	c.ok(t, "", loginMutation, map[string]any{"in": map[string]any{"email": email, "password": password}}, "login", &p)
	return p
}

func (c *client) me(t *testing.T, token string) userJSON {
	t.Helper()
	var u userJSON
	c.ok(t, token, meQuery, nil, "me", &u)
	return u
}

// uniqueEmail returns a fresh address for a test's user.
func uniqueEmail(name string) string {
	return strings.ToLower(fmt.Sprintf("%s.%s@example.com", name, testenv.ID()))
}

// count runs a count query on the env's database.
func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
