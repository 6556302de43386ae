package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/gateway"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/products"
	"github.com/shopgraph/shopgraph/subgraphs/users"
	userspg "github.com/shopgraph/shopgraph/subgraphs/users/postgres"
)

// TestThroughUsersAndProducts runs the gateway in front of the real users
// (PostgreSQL, Redis) and products (MongoDB) subgraphs.
func TestThroughUsersAndProducts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, verifier := testenv.SigningKey(t)
	jwks, err := auth.PublicSet(key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(key, 15*time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	rdb, prefix := testenv.Redis(t)
	us, err := users.New(ctx, users.Config{
		DB: testenv.Postgres(t, "users", userspg.Migrations), Redis: rdb, RedisPrefix: prefix, StreamPrefix: prefix,
		Signer: signer, Verifier: verifier, JWKS: jwks, RefreshTTL: time.Hour,
		LoginLimitPerAccount: 100, LoginLimitPerAddress: 3, LoginLimitWindow: time.Minute,
		Log: testenv.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	usersSrv := httptest.NewServer(us.Handler)
	t.Cleanup(usersSrv.Close)
	ps, err := products.New(ctx, products.Config{DB: testenv.Mongo(t, "products"), Verifier: verifier, Log: testenv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	productsSrv := httptest.NewServer(ps.Handler)
	t.Cleanup(productsSrv.Close)

	g, err := gateway.New(ctx, gateway.Config{
		Services: []gateway.Service{
			{Name: "users", URL: usersSrv.URL + "/graphql"},
			{Name: "products", URL: productsSrv.URL + "/graphql"},
		},
		Verifier:       verifier,
		StartupTimeout: 10 * time.Second,
		Log:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	e := &env{srv: httptest.NewServer(g.Handler())}
	t.Cleanup(e.srv.Close)

	t.Run("register and me", func(t *testing.T) {
		res := e.query(t, `mutation($in: RegisterInput!) { register(input: $in) { accessToken tokenType } }`,
			map[string]any{"in": map[string]any{"email": "ada@example.com", "password": "analytical-engine-1843", "name": "Ada"}})
		var reg struct {
			Register struct{ AccessToken, TokenType string }
		}
		res.dataAs(t, &reg)
		if reg.Register.AccessToken == "" {
			t.Fatalf("register: %s", res.Raw)
		}
		res = e.query(t, `{ me { email name role } }`, nil, "Authorization: Bearer "+reg.Register.AccessToken)
		if string(res.Data) != `{"me":{"email":"ada@example.com","name":"Ada","role":"CUSTOMER"}}` {
			t.Errorf("me: %s", res.Raw)
		}
		res = e.query(t, `{ me { email } }`, nil)
		if string(res.Data) != `{"me":null}` {
			t.Errorf("anonymous me: %s", res.Raw)
		}
	})

	t.Run("catalog", func(t *testing.T) {
		create := `mutation($in: CreateProductInput!) { createProduct(input: $in) { id name status variants { sku price { amount currency } } } }`
		in := map[string]any{"in": map[string]any{
			"name": "Teapot", "status": "ACTIVE",
			"variants": []any{map[string]any{"sku": "TEA-1", "name": "White", "price": map[string]any{"amount": 2500, "currency": "EUR"}}},
		}}
		res := e.query(t, create, in)
		if res.code(0) != "UNAUTHENTICATED" && res.code(0) != "FORBIDDEN" {
			t.Errorf("anonymous createProduct: %s", res.Raw)
		}
		admin := testenv.Token(t, key, "admin-1", auth.RoleAdmin)
		res = e.query(t, create, in, "Authorization: Bearer "+admin)
		var created struct{ CreateProduct struct{ ID, Name string } }
		res.dataAs(t, &created)
		if created.CreateProduct.Name != "Teapot" || len(res.Errors) > 0 {
			t.Fatalf("createProduct: %s", res.Raw)
		}
		res = e.query(t, `{ products(first: 5) { totalCount edges { node { name variants { price { formatted } } } } } }`, nil)
		if !strings.Contains(string(res.Data), `"name":"Teapot"`) || !strings.Contains(string(res.Data), `"formatted":"EUR 25.00"`) {
			t.Errorf("products: %s", res.Raw)
		}
		res = e.query(t, `query($id: ID!) { node(id: $id) { id __typename ... on Product { name } } }`,
			map[string]any{"id": created.CreateProduct.ID})
		want := fmt.Sprintf(`{"node":{"id":%q,"__typename":"Product","name":"Teapot"}}`, created.CreateProduct.ID)
		if string(res.Data) != want {
			t.Errorf("node: %s, want %s", res.Raw, want)
		}
		res = e.query(t, `mutation($in: CreateProductInput!) { createProduct(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"name": "Bad", "variants": []any{}}}, "Authorization: Bearer "+admin)
		if res.code(0) != "INVALID_INPUT" || res.Errors[0].Message == "" {
			t.Errorf("invalid product: %s", res.Raw)
		}
	})

	t.Run("login limited per client address", func(t *testing.T) {
		// The users service allows 3 failed logins per address. The
		// gateway sets X-Forwarded-For itself, so a client cannot dodge the
		// limit by sending a new one each time.
		var last result
		for i := range 4 {
			last = e.query(t, `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
				map[string]any{"in": map[string]any{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong-password-1"}},
				fmt.Sprintf("X-Forwarded-For: 198.51.100.%d", i+1))
		}
		if last.code(0) != "RATE_LIMITED" {
			t.Errorf("fourth failed login from one address: %s", last.Raw)
		}
	})

	t.Run("public schema", func(t *testing.T) {
		res := e.query(t, `{ __schema { types { name } queryType { fields { name } } } }`, nil)
		for _, hidden := range []string{`"_entities"`, `"_service"`, `"_Entity"`, `"_Any"`, `"Entity"`, `"FieldSet"`, `"link__`, `"federation__`} {
			if strings.Contains(string(res.Data), hidden) {
				t.Errorf("public schema shows %s", hidden)
			}
		}
		for _, want := range []string{`"me"`, `"products"`, `"User"`, `"Variant"`} {
			if !strings.Contains(string(res.Data), want) {
				t.Errorf("public schema lacks %s", want)
			}
		}
	})
}
