package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/config"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

const registerMutation = `mutation($i: RegisterInput!) { register(input: $i) { accessToken refreshToken tokenType user { id email name role } } }`
const loginMutation = `mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken user { id role } } }`

func register(t *testing.T, s *system, email, name string) (access, refresh, userID string) {
	t.Helper()
	d := s.client("").must(registerMutation, map[string]any{"i": map[string]any{"email": email, "password": "Sturdy-Pass-2026", "name": name}})
	return str(d, "register", "accessToken"), str(d, "register", "refreshToken"), str(d, "register", "user", "id")
}

func adminToken(t *testing.T, s *system) string {
	t.Helper()
	d := s.client("").must(loginMutation, map[string]any{"i": map[string]any{"email": adminEmail, "password": adminPassword}})
	if str(d, "login", "user", "role") != "ADMIN" {
		t.Fatalf("configured admin has role %v", path(d, "login", "user", "role"))
	}
	return str(d, "login", "accessToken")
}

// TestAccountLifecycle: register, log in, me, refresh, log out, all through
// the gateway only.
func TestAccountLifecycle(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	anon := s.client("")
	email := "ada-" + testenv.ID() + "@example.com"
	access, refresh, userID := register(t, s, email, "Ada Lovelace")
	if access == "" || refresh == "" || userID == "" {
		t.Fatal("register returned no tokens or user")
	}

	d := anon.must(loginMutation, map[string]any{"i": map[string]any{"email": strings.ToUpper(email), "password": "Sturdy-Pass-2026"}})
	access, refresh = str(d, "login", "accessToken"), str(d, "login", "refreshToken")
	if str(d, "login", "user", "id") != userID || str(d, "login", "user", "role") != "CUSTOMER" {
		t.Fatalf("login: %v", d)
	}

	me := s.client(access).must(`{ me { id email name } }`, nil)
	if str(me, "me", "email") != email || str(me, "me", "name") != "Ada Lovelace" {
		t.Fatalf("me = %v", me)
	}
	if r := anon.do(`{ me { id } }`, nil); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("anonymous me: %s", r.Raw)
	}

	d = anon.must(`mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken refreshToken } }`, map[string]any{"r": refresh})
	newAccess, newRefresh := str(d, "refreshToken", "accessToken"), str(d, "refreshToken", "refreshToken")
	if newRefresh == "" || newRefresh == refresh {
		t.Fatal("refresh did not rotate the refresh token")
	}
	if str(s.client(newAccess).must(`{ me { id } }`, nil), "me", "id") != userID {
		t.Fatal("refreshed access token does not identify the user")
	}
	if r := anon.do(`mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }`, map[string]any{"r": refresh}); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("the rotated refresh token still works: %s", r.Raw)
	}

	// The reuse above revoked the family; log in again and log out.
	d = anon.must(loginMutation, map[string]any{"i": map[string]any{"email": email, "password": "Sturdy-Pass-2026"}})
	refresh = str(d, "login", "refreshToken")
	if out := anon.must(`mutation($r: String!) { logout(refreshToken: $r) }`, map[string]any{"r": refresh}); path(out, "logout") != true {
		t.Fatalf("logout = %v", out)
	}
	if r := anon.do(`mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }`, map[string]any{"r": refresh}); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("refresh after logout: %s", r.Raw)
	}
}

const createProduct = `mutation($i: CreateProductInput!) { createProduct(input: $i) { id slug variants { id sku } } }`

func productInput(name string, category string, prices map[string]int) map[string]any {
	var variants []any
	for sku, p := range prices {
		variants = append(variants, map[string]any{"sku": sku, "name": sku, "options": []any{map[string]any{"name": "size", "value": sku[len(sku)-1:]}}, "price": map[string]any{"amount": p, "currency": "USD"}})
	}
	in := map[string]any{"name": name, "description": "A " + strings.ToLower(name) + " for testing.", "status": "ACTIVE", "variants": variants}
	if category != "" {
		in["categoryIds"] = []any{category}
	}
	return in
}

// TestCatalogThroughGateway: an admin fills the catalog; a customer pages
// through it with a filter and a sort, fetches by slug, and a query joins
// products and inventory through node.
func TestCatalogThroughGateway(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	admin := s.client(adminToken(t, s))
	cat := admin.must(`mutation { createCategory(input: {name: "Shirts", slug: "shirts"}) { id } }`, nil)
	shirts := str(cat, "createCategory", "id")
	skuPrefix := "E2E" + strings.ToUpper(testenv.ID()[:4])
	var productIDs []string
	for i, price := range []int{2500, 1500, 3500, 500, 4500} {
		sku := fmt.Sprintf("%s-%d-M", skuPrefix, i)
		d := admin.must(createProduct, map[string]any{"i": productInput(fmt.Sprintf("Shirt %d", i), shirts, map[string]int{sku: price})})
		productIDs = append(productIDs, str(d, "createProduct", "id"))
		admin.must(`mutation($s: String!) { adjustStock(sku: $s, delta: 7, reason: "initial stock") { onHand } }`, map[string]any{"s": sku})
	}
	admin.must(createProduct, map[string]any{"i": productInput("Mug", "", map[string]int{skuPrefix + "-MUG-L": 900})})

	access, _, _ := register(t, s, "shopper-"+testenv.ID()+"@example.com", "Shopper")
	customer := s.client(access)
	const page = `query($after: String) { products(first: 2, after: $after, filter: {categorySlug: "shirts", minPrice: 1000, currency: "USD"}, sort: PRICE_ASC) {
		totalCount pageInfo { hasNextPage endCursor } edges { node { name priceRange { min { amount } } } } } }`
	var prices []int
	var after any
	for pages := 0; ; pages++ {
		d := customer.must(page, map[string]any{"after": after})
		if num(d, "products", "totalCount") != 4 {
			t.Fatalf("totalCount = %v, want 4 shirts from 10.00", path(d, "products", "totalCount"))
		}
		for _, e := range list(d, "products", "edges") {
			prices = append(prices, num(e, "node", "priceRange", "min", "amount"))
		}
		if path(d, "products", "pageInfo", "hasNextPage") != true {
			break
		}
		after = path(d, "products", "pageInfo", "endCursor")
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if fmt.Sprint(prices) != "[1500 2500 3500 4500]" {
		t.Fatalf("prices across pages = %v, want [1500 2500 3500 4500]", prices)
	}

	d := customer.must(`{ product(slug: "shirt-3") { name variants { sku price { amount currency formatted } } } }`, nil)
	if str(d, "product", "name") != "Shirt 3" || str(d, "product", "variants", 0, "price", "formatted") != "USD 5.00" {
		t.Fatalf("product by slug = %v", d)
	}

	// products → inventory: stock is owned by inventory and joined by node.
	d = customer.must(`query($id: ID!) { node(id: $id) { id __typename ... on Product { name variants { sku stock { available onHand } } } } }`, map[string]any{"id": productIDs[0]})
	if str(d, "node", "name") != "Shirt 0" || num(d, "node", "variants", 0, "stock", "available") != 7 {
		t.Fatalf("node(Product) with stock = %v", d)
	}
}

// TestBadInput: each bad request gets a clear error code and changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	s := startSystem(t, "-login-limit-account=3")
	anon := s.client("")
	admin := s.client(adminToken(t, s))
	email := "taken-" + testenv.ID() + "@example.com"
	access, _, _ := register(t, s, email, "Taken")
	customer := s.client(access)

	key, err := auth.LoadOrCreateKeyFile(filepath.Join(s.DataDir, "jwt-signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	past, _ := auth.NewSigner(key, time.Minute, func() time.Time { return time.Now().Add(-time.Hour) })
	expired, _, _ := past.Issue(auth.Identity{UserID: "x", Role: auth.RoleAdmin})
	otherKey, _ := testenv.SigningKey(t)
	forged := testenv.Token(t, otherKey, "x", auth.RoleAdmin)
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"iss":"shopgraph","sub":"x","role":"ADMIN","exp":%d}`, time.Now().Add(time.Hour).Unix()))) + "."

	sku := "BAD" + strings.ToUpper(testenv.ID()[:5])
	admin.must(createProduct, map[string]any{"i": productInput("Original", "", map[string]int{sku: 100})})
	reg := func(email, password string) map[string]any {
		return map[string]any{"i": map[string]any{"email": email, "password": password, "name": "X"}}
	}
	variant := func(amount any, currency string) map[string]any {
		return map[string]any{"i": map[string]any{"name": "Bad " + testenv.ID(), "variants": []any{map[string]any{"sku": "NEW" + strings.ToUpper(testenv.ID()[:6]), "name": "v", "options": []any{}, "price": map[string]any{"amount": amount, "currency": currency}}}}}
	}
	tests := []struct {
		name   string
		c      *client
		query  string
		vars   map[string]any
		code   string
		status int
	}{
		{"duplicate email", anon, registerMutation, reg(email, "Sturdy-Pass-2026"), "CONFLICT", 200},
		{"malformed email", anon, registerMutation, reg("not-an-email", "Sturdy-Pass-2026"), "INVALID_INPUT", 200},
		{"weak password", anon, registerMutation, reg("weak-"+testenv.ID()+"@example.com", "short"), "INVALID_INPUT", 200},
		{"wrong password", anon, loginMutation, map[string]any{"i": map[string]any{"email": email, "password": "Wrong-Pass-2026"}}, "UNAUTHENTICATED", 200},
		{"expired token", s.client(expired), `{ me { id } }`, nil, "UNAUTHENTICATED", 401},
		{"token signed with another key", s.client(forged), `{ me { id } }`, nil, "UNAUTHENTICATED", 401},
		{"token with alg none", s.client(none), `{ me { id } }`, nil, "UNAUTHENTICATED", 401},
		{"customer calls an admin mutation", customer, createProduct, variant(100, "USD"), "FORBIDDEN", 200},
		{"negative price", admin, createProduct, variant(-5, "USD"), "INVALID_INPUT", 200},
		{"non-integer price", admin, createProduct, variant(12.5, "USD"), "GRAPHQL_VALIDATION_FAILED", 400},
		{"unknown currency", admin, createProduct, variant(100, "ABC"), "INVALID_INPUT", 200},
		{"duplicate SKU", admin, createProduct, map[string]any{"i": productInput("Copy", "", map[string]int{sku: 100})}, "CONFLICT", 200},
		{"unknown field", anon, `{ products(first: 1) { edges { node { colour } } } }`, nil, "GRAPHQL_VALIDATION_FAILED", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.do(tt.query, tt.vars)
			if r.Code() != tt.code {
				t.Fatalf("code = %q, want %q: %s", r.Code(), tt.code, r.Raw)
			}
			if r.Status != tt.status && !(tt.status == 400 && r.Status == 422) {
				t.Errorf("HTTP status = %d, want %d", r.Status, tt.status)
			}
			if msg, _ := r.Errors[0]["message"].(string); msg == "" || strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "http://") {
				t.Errorf("message %q is empty or leaks an address", msg)
			}
		})
	}

	// Nothing was stored by the refused mutations.
	d := admin.must(`{ products(first: 100) { edges { node { name } } } }`, nil)
	for _, e := range list(d, "products", "edges") {
		if n := str(e, "node", "name"); strings.HasPrefix(n, "Bad ") || n == "Copy" {
			t.Errorf("a refused product was stored: %s", n)
		}
	}
	if r := anon.do(loginMutation, map[string]any{"i": map[string]any{"email": "not-an-email", "password": "Sturdy-Pass-2026"}}); r.Code() != "UNAUTHENTICATED" && r.Code() != "INVALID_INPUT" {
		t.Errorf("malformed email was registered: %s", r.Raw)
	}

	t.Run("too many login attempts", func(t *testing.T) {
		victim := "victim-" + testenv.ID() + "@example.com"
		register(t, s, victim, "Victim")
		var last gqlResponse
		for range 4 {
			last = anon.do(loginMutation, map[string]any{"i": map[string]any{"email": victim, "password": "Wrong-Pass-2026"}})
		}
		if last.Code() != "RATE_LIMITED" {
			t.Fatalf("4th failed login: %s", last.Raw)
		}
		// Even the right password is refused while the account is locked.
		if r := anon.do(loginMutation, map[string]any{"i": map[string]any{"email": victim, "password": "Sturdy-Pass-2026"}}); r.Code() != "RATE_LIMITED" {
			t.Fatalf("locked account accepted the right password: %s", r.Raw)
		}
	})

	t.Run("malformed JSON body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, s.URL, strings.NewReader(`{"query": "{ __typename }"`))
		req.Header.Set("Content-Type", "application/json")
		r := anon.send(req)
		if r.Status != 400 || r.Code() != "BAD_REQUEST" {
			t.Fatalf("malformed JSON: %d %s", r.Status, r.Raw)
		}
	})

	t.Run("mutation sent with GET", func(t *testing.T) {
		q := url.Values{"query": {`mutation { logout(refreshToken: "x") }`}}
		req, _ := http.NewRequest(http.MethodGet, s.URL+"?"+q.Encode(), nil)
		r := anon.send(req)
		if r.Status != 405 || r.Code() != "METHOD_NOT_ALLOWED" {
			t.Fatalf("mutation via GET: %d %s", r.Status, r.Raw)
		}
	})
}

// TestGraphiQLAndHealth: a developer opening the gateway in a browser gets
// GraphiQL; operators get health and readiness.
func TestGraphiQLAndHealth(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	for _, p := range []string{"/", "/healthz", "/readyz"} {
		res, err := http.Get(s.Base + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("GET %s = %d", p, res.StatusCode)
		}
		if p == "/" && !strings.Contains(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET / is %s, not GraphiQL's HTML", res.Header.Get("Content-Type"))
		}
	}
	// Shutdown is clean: run returns nil once its context is cancelled.
	if err := s.Stop(); err != nil {
		t.Fatalf("run returned %v on shutdown", err)
	}
	if _, err := http.Get(s.Base + "/healthz"); err == nil {
		t.Error("the gateway still answers after shutdown")
	}
}

// TestEveryTargetIsWired: each service -target accepts has a builder.
func TestEveryTargetIsWired(t *testing.T) {
	t.Parallel()
	wired := map[string]bool{}
	for _, s := range services {
		wired[s.name] = true
	}
	for _, name := range config.Services {
		if !wired[name] {
			t.Errorf("-target=%s is accepted but not wired in app.go", name)
		}
	}
	if len(wired) != len(config.Services) {
		t.Errorf("app.go wires %d services, config knows %d", len(wired), len(config.Services))
	}
}
