package gateway_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/shopgraph/shopgraph/gateway"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

func TestQuerySpansServices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.query(t, `query Catalog { products { id name price { amount currency } reviews { body stars } } }`, nil)
	if res.Status != 200 || len(res.Errors) > 0 {
		t.Fatalf("status %d: %s", res.Status, res.Raw)
	}
	var data struct {
		Products []struct {
			ID, Name string
			Price    struct {
				Amount   int
				Currency string
			}
			Reviews []struct {
				Body  string
				Stars int
			}
		}
	}
	res.dataAs(t, &data)
	if len(data.Products) != 3 {
		t.Fatalf("got %d products, want 3: %s", len(data.Products), res.Raw)
	}
	p1 := data.Products[0]
	if p1.ID != productID("p1") || p1.Name != "Phone" || p1.Price.Amount != 49900 || p1.Price.Currency != "USD" {
		t.Errorf("first product = %+v", p1)
	}
	if len(p1.Reviews) != 2 || p1.Reviews[0].Body != "Great phone" || p1.Reviews[0].Stars != 5 {
		t.Errorf("Phone's reviews (from the reviews service) = %+v", p1.Reviews)
	}
	if len(data.Products[2].Reviews) != 0 {
		t.Errorf("Mug has reviews %+v, want none", data.Products[2].Reviews)
	}
	// One request for the products, then one for the reviews of all
	// three: aliased node(id:) fields in one document.
	if n := len(e.catalog.Requests()); n != 1 {
		t.Errorf("catalog got %d requests, want 1", n)
	}
	if n := len(e.reviews.Requests()); n != 1 {
		t.Fatalf("reviews got %d requests, want 1 (one batch for all products)", n)
	}
	if body := e.reviews.Requests()[0].Body; strings.Count(body, ": node(id: $") != 3 {
		t.Errorf("reviews request is not a batch of three node fields: %s", body)
	}
}

func TestQueryFromReviewsToCatalog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.query(t, `{ reviews { body product { name } } }`, nil)
	var data struct {
		Reviews []struct {
			Body    string
			Product struct{ Name string }
		}
	}
	res.dataAs(t, &data)
	if len(res.Errors) > 0 || len(data.Reviews) != 3 || data.Reviews[2].Product.Name != "Laptop" {
		t.Fatalf("got %s", res.Raw)
	}
}

func TestGETQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.get(t, url.Values{
		"query":         {`query One($id: ID!) { product(id: $id) { name } }`},
		"variables":     {`{"id": "` + productID("p2") + `"}`},
		"operationName": {"One"},
	})
	if res.Status != 200 || string(res.Data) != `{"product":{"name":"Laptop"}}` {
		t.Fatalf("status %d: %s", res.Status, res.Raw)
	}
}

func TestMutationAndOperationName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	doc := `query Name($id: ID!) { product(id: $id) { name } }
		mutation Rename($id: ID!) { renameProduct(id: $id, name: "Smartphone") { name } }`
	body, _ := json.Marshal(map[string]any{"query": doc, "operationName": "Rename", "variables": map[string]any{"id": productID("p1")}})
	res := e.post(t, string(body))
	if string(res.Data) != `{"renameProduct":{"name":"Smartphone"}}` {
		t.Fatalf("rename: %s", res.Raw)
	}
	body, _ = json.Marshal(map[string]any{"query": doc, "operationName": "Name", "variables": map[string]any{"id": productID("p1")}})
	res = e.post(t, string(body))
	if string(res.Data) != `{"product":{"name":"Smartphone"}}` {
		t.Fatalf("read back: %s", res.Raw)
	}
}

func TestPublicSchemaHidesFederation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.query(t, `{ __schema {
		queryType { fields { name } }
		types { name fields { name } }
		directives { name }
	} }`, nil)
	var data struct {
		Schema struct {
			QueryType struct{ Fields []struct{ Name string } }
			Types     []struct {
				Name   string
				Fields []struct{ Name string }
			}
			Directives []struct{ Name string }
		} `json:"__schema"`
	}
	res.dataAs(t, &data)
	var queryFields, types, directives []string
	fields := map[string][]string{}
	for _, f := range data.Schema.QueryType.Fields {
		queryFields = append(queryFields, f.Name)
	}
	for _, ty := range data.Schema.Types {
		types = append(types, ty.Name)
		for _, f := range ty.Fields {
			fields[ty.Name] = append(fields[ty.Name], f.Name)
		}
	}
	for _, d := range data.Schema.Directives {
		directives = append(directives, d.Name)
	}
	for _, hidden := range []string{"_entities", "_service"} {
		if slices.Contains(queryFields, hidden) {
			t.Errorf("Query.%s is public", hidden)
		}
	}
	for _, name := range types {
		if strings.HasPrefix(name, "_") && !strings.HasPrefix(name, "__") || name == "FieldSet" || name == "Entity" ||
			strings.HasPrefix(name, "link__") || strings.HasPrefix(name, "federation__") {
			t.Errorf("type %s is public", name)
		}
	}
	for _, d := range directives {
		if !slices.Contains([]string{"include", "skip", "deprecated", "specifiedBy", "oneOf"}, d) {
			t.Errorf("directive @%s is public", d)
		}
	}
	for _, want := range []string{"node", "product", "products", "reviews"} {
		if !slices.Contains(queryFields, want) {
			t.Errorf("Query.%s missing; Query has %v", want, queryFields)
		}
	}
	if got := fields["Product"]; !slices.Contains(got, "name") || !slices.Contains(got, "reviews") {
		t.Errorf("Product has fields %v, want those of both services", got)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	_, v := testenv.SigningKey(t)
	tests := []struct {
		name string
		cfg  gateway.Config
		want string
	}{
		{"no services", gateway.Config{Verifier: v}, "no services"},
		{"bad URL", gateway.Config{Verifier: v, Services: []gateway.Service{{Name: "users", URL: "localhost:4001"}}}, `service users: "localhost:4001" is not an http(s) URL`},
		{"no name", gateway.Config{Verifier: v, Services: []gateway.Service{{URL: "http://localhost:1/graphql"}}}, "service 1 has no name"},
		{"twice", gateway.Config{Verifier: v, Services: []gateway.Service{{Name: "a", URL: "http://localhost:1/graphql"}, {Name: "a", URL: "http://localhost:2/graphql"}}}, "service a is configured twice"},
		{"no verifier", gateway.Config{Services: []gateway.Service{{Name: "a", URL: "http://localhost:1/graphql"}}}, "no token verifier"},
		{"negative timeout", gateway.Config{Verifier: v, UpstreamTimeout: -1, Services: []gateway.Service{{Name: "a", URL: "http://localhost:1/graphql"}}}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := gateway.New(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
