package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/shopgraph/shopgraph/gateway"
)

// graphiqlIntrospection is the introspection query GraphiQL sends
// (graphql-js's getIntrospectionQuery with descriptions, specifiedByURL,
// isRepeatable and input value deprecation), with nine levels of ofType.
const graphiqlIntrospection = `query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } }
}`

// TestDefaultLimitsLetGraphiQLWork: GraphiQL's introspection query and the
// tests' queries pass the default limits.
func TestDefaultLimitsLetGraphiQLWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.query(t, graphiqlIntrospection, nil)
	if len(res.Errors) > 0 || !strings.Contains(string(res.Data), `"name":"Product"`) {
		t.Fatalf("GraphiQL's introspection: %.500s", res.Raw)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *gateway.Config) {
		c.MaxDepth = 4
		c.MaxAliases = 2
		c.MaxCost = 500
		c.MaxQueryBytes = 200
		c.DisableIntrospection = true
	})
	tests := []struct {
		name, query string
		status      int
		code        string // "" for a query that passes
		message     string
	}{
		{"depth at the limit", `{ reviews { product { reviews { body } } } }`, 200, "", ""},
		{"too deep", `{ reviews { product { reviews { product { name } } } } }`, 400, "MAX_DEPTH_EXCEEDED",
			"the operation nests fields 5 deep; at most 4 levels are allowed"},
		{"too deep through fragments", `{ ...Q } fragment Q on Query { reviews { ...R } } fragment R on Review { product { reviews { product { name } } } }`,
			400, "MAX_DEPTH_EXCEEDED", "5 deep"},
		{"aliases at the limit", `{ a: products { name } b: reviews { body } }`, 200, "", ""},
		{"too many aliases", `{ a: products { n: name } b: reviews { body } }`, 400, "MAX_ALIASES_EXCEEDED",
			"the operation has 3 aliases; at most 2 are allowed"},
		// 1 + 10 × (1 + 1 × (1 + 10 × 1)): lists count 10 items.
		{"cost within", `{ reviews { product { reviews { body } } } }`, 200, "", ""},
		{"too costly", `{ reviews { product { reviews { body stars id } } } products { reviews { body stars id } } }`, 400, "MAX_COST_EXCEEDED",
			"the operation's estimated cost is 632; at most 500 is allowed"},
		{"introspection off", `{ __schema { types { name } } }`, 400, "INTROSPECTION_DISABLED",
			"introspection is disabled: __schema cannot be queried"},
		{"__type in a fragment", `{ ...Q } fragment Q on Query { __type(name: "Product") { name } }`, 400, "INTROSPECTION_DISABLED", "__type"},
		{"__typename allowed", `{ __typename products { __typename } }`, 200, "", ""},
		{"too long", `{ products { name } }` + strings.Repeat(" ", 200), 413, "QUERY_TOO_LARGE",
			"the query is 221 bytes long; at most 200 are allowed"},
	}
	t.Run("queries", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				check(t, e, tt.query, tt.status, tt.code, tt.message)
			})
		}
	})
	if n := e.upstreamRequests(); n != 5 {
		t.Errorf("%d requests reached the services, want 5 (from the queries that pass)", n)
	}
}

// check sends query and checks it passes (code "") or is refused with one
// error of that code and a message containing message.
func check(t *testing.T, e *env, query string, status int, code, message string) {
	t.Helper()
	res := e.query(t, query, nil)
	if code == "" {
		if res.Status != 200 || len(res.Errors) > 0 {
			t.Fatalf("got %d %s", res.Status, res.Raw)
		}
		return
	}
	if res.Status != status || len(res.Errors) != 1 || res.code(0) != code ||
		!strings.Contains(res.Errors[0].Message, message) || res.HasData {
		t.Fatalf("got %d %s\nwant %d %s %q", res.Status, res.Raw, status, code, message)
	}
}

func TestBatchedRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *gateway.Config) { c.MaxBatchSize = 3 })
	p1 := productID("p1")
	t.Run("answered in order", func(t *testing.T) {
		body := fmt.Sprintf(`[
			{"query": "mutation { renameProduct(id: \"%s\", name: \"Batched\") { name } }"},
			{"query": "query One($id: ID!) { product(id: $id) { name } }", "variables": {"id": %q}, "operationName": "One"},
			{"query": "{ products { colour } }"}
		]`, p1, p1)
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out []json.RawMessage
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 || len(out) != 3 {
			t.Fatalf("status %d, %d results, %v", res.StatusCode, len(out), err)
		}
		want := []string{
			`{"data":{"renameProduct":{"name":"Batched"}}}`,
			`{"data":{"product":{"name":"Batched"}}}`,
		}
		for i, w := range want {
			if string(out[i]) != w {
				t.Errorf("result %d = %s, want %s", i, out[i], w)
			}
		}
		if !strings.Contains(string(out[2]), "GRAPHQL_VALIDATION_FAILED") || strings.Contains(string(out[2]), `"data"`) {
			t.Errorf("result 2 = %s, want its validation error alone", out[2])
		}
	})
	t.Run("too large", func(t *testing.T) {
		res := e.post(t, `[{"query":"{ products { name } }"},{"query":"{ products { name } }"},{"query":"{ products { name } }"},{"query":"{ products { name } }"}]`)
		if res.Status != 400 || res.code(0) != "BATCH_TOO_LARGE" || !strings.Contains(res.Errors[0].Message, "the batch has 4 operations; at most 3 are allowed") {
			t.Errorf("got %d %s", res.Status, res.Raw)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if res := e.post(t, `[]`); res.Status != 400 || res.code(0) != "BAD_REQUEST" {
			t.Errorf("got %d %s", res.Status, res.Raw)
		}
	})
}
