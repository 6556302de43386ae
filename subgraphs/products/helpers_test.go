package products_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/products"
)

// clock is a settable time source; each reading advances it by a second, so
// that products created one after another have distinct creation times.
type clock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

// env is a products service behind an HTTP server, with tokens.
type env struct {
	t        *testing.T
	url      string
	admin    string
	customer string
	// service is a service token for products with scope variants:read;
	// key signed every token.
	service string
	key     jwk.Key
	clock   *clock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	key, verifier := testenv.SigningKey(t)
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), step: time.Second}
	svc, err := products.New(context.Background(), products.Config{
		DB:       testenv.Mongo(t, "products"),
		Verifier: verifier,
		Log:      testenv.Logger(),
		Now:      clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(svc.Handler)
	t.Cleanup(srv.Close)
	return &env{
		t:        t,
		url:      srv.URL + "/graphql",
		admin:    testenv.Token(t, key, "admin-1", "ADMIN"),
		customer: testenv.Token(t, key, "customer-1", "CUSTOMER"),
		service:  testenv.ServiceToken(t, key, "orders", "products", time.Hour, auth.ScopeVariantsRead),
		key:      key,
		clock:    clk,
	}
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
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// do posts a GraphQL request with token ("" for none).
func (e *env) do(t *testing.T, token, query string, vars map[string]any) response {
	t.Helper()
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return e.post(t, h, query, vars)
}

// doWith posts a GraphQL request with the given headers.
func (e *env) doWith(t *testing.T, headers map[string]string, query string, vars map[string]any) response {
	t.Helper()
	return e.post(t, headers, query, vars)
}

// asService is the headers of a service acting for the user of token.
func (e *env) asService(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + e.service, auth.ForwardedAuthorization: "Bearer " + token}
}

func (e *env) post(t *testing.T, headers map[string]string, query string, vars map[string]any) response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
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
	out.Status = res.StatusCode
	return out
}

// ok posts a request that must succeed and decodes its data into out.
func (e *env) ok(t *testing.T, token, query string, vars map[string]any, out any) {
	t.Helper()
	res := e.do(t, token, query, vars)
	if len(res.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v", res.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(res.Data, out); err != nil {
			t.Fatalf("decode data %s: %v", res.Data, err)
		}
	}
}

// fails posts a request that must fail with code (and, if given, the input
// field) and returns its message.
func (e *env) fails(t *testing.T, token, query string, vars map[string]any, code, field string) string {
	t.Helper()
	res := e.do(t, token, query, vars)
	if len(res.Errors) == 0 {
		t.Fatalf("want error %s, got data %s", code, res.Data)
	}
	got := res.Errors[0]
	if got.Extensions.Code != code {
		t.Fatalf("want code %s, got %+v", code, res.Errors)
	}
	if field != "" && got.Extensions.Field != field {
		t.Fatalf("want field %q, got %q (%s)", field, got.Extensions.Field, got.Message)
	}
	return got.Message
}

const productFields = `id slug name description status
	categories { id slug }
	attributes { name value }
	images { url alt }
	variants { id sku name options { name value } price { amount currency formatted } product { id } }
	priceRange { min { amount currency } max { amount currency } }
	createdAt updatedAt`

type money struct {
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Formatted string `json:"formatted"`
}

type variant struct {
	ID      string `json:"id"`
	SKU     string `json:"sku"`
	Name    string `json:"name"`
	Options []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"options"`
	Price   money `json:"price"`
	Product struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"product"`
}

type product struct {
	ID          string `json:"id"`
	Slug        string `json:"slug"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Status      string `json:"status"`
	Categories  []struct {
		ID   string `json:"id"`
		Slug string `json:"slug"`
	} `json:"categories"`
	Attributes []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"attributes"`
	Images []struct {
		URL string `json:"url"`
		Alt string `json:"alt"`
	} `json:"images"`
	Variants   []variant `json:"variants"`
	PriceRange *struct {
		Min money `json:"min"`
		Max money `json:"max"`
	} `json:"priceRange"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

const createProduct = `mutation($in: CreateProductInput!) { createProduct(input: $in) { ` + productFields + ` } }`

// create creates a product as admin and returns it.
func (e *env) create(t *testing.T, in map[string]any) product {
	t.Helper()
	var out struct{ CreateProduct product }
	e.ok(t, e.admin, createProduct, map[string]any{"in": in}, &out)
	return out.CreateProduct
}

// category creates a category as admin and returns its ID.
func (e *env) category(t *testing.T, name, slug, parent string) string {
	t.Helper()
	in := map[string]any{"name": name}
	if slug != "" {
		in["slug"] = slug
	}
	if parent != "" {
		in["parentId"] = parent
	}
	var out struct{ CreateCategory struct{ ID string } }
	e.ok(t, e.admin, `mutation($in: CreateCategoryInput!) { createCategory(input: $in) { id } }`,
		map[string]any{"in": in}, &out)
	return out.CreateCategory.ID
}

// v is a variant input.
func v(sku string, amount int64, currency string, opts ...string) map[string]any {
	options := []map[string]any{}
	for i := 0; i+1 < len(opts); i += 2 {
		options = append(options, map[string]any{"name": opts[i], "value": opts[i+1]})
	}
	return map[string]any{"sku": sku, "name": sku, "options": options,
		"price": map[string]any{"amount": amount, "currency": currency}}
}

// p is a product input.
func p(name, status string, cats []string, variants ...map[string]any) map[string]any {
	if cats == nil {
		cats = []string{}
	}
	return map[string]any{"name": name, "status": status, "categoryIds": cats, "variants": variants}
}

// productCount returns how many products exist, in any state.
func (e *env) productCount(t *testing.T) int {
	t.Helper()
	var out struct{ Products struct{ TotalCount int } }
	e.ok(t, e.admin, `{ products(first: 0) { totalCount } }`, nil, &out)
	return out.Products.TotalCount
}

func localKey(t *testing.T, id string) string {
	t.Helper()
	_, key, err := gid.Decode(id)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
