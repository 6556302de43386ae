package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	nautilus "github.com/nautilus/gateway"
	"github.com/nautilus/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// subgraphSchema is a gqlgen federation subgraph's schema, as nautilus
// reads it, owning the given entity.
func subgraphSchema(t *testing.T, entity string) *ast.Schema {
	t.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: entity, Input: `
		directive @key(fields: FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
		directive @shareable on OBJECT | FIELD_DEFINITION
		directive @link(url: String!, import: [link__Import]) repeatable on SCHEMA
		directive @entityResolver(multi: Boolean) on OBJECT
		scalar FieldSet
		scalar link__Import
		scalar _Any
		type _Service { sdl: String }
		interface Node { id: ID! }
		type ` + entity + ` implements Node @key(fields: "id") { id: ID! name: String! }
		union _Entity = ` + entity + `
		type Query {
			node(id: ID!): Node @shareable
			` + strings.ToLower(entity) + `s: [` + entity + `!]!
			_entities(representations: [_Any!]!): [_Entity]!
			_service: _Service!
		}`})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStripFederation: nautilus cannot merge two gqlgen federation
// subgraphs until the federation plumbing is gone.
func TestStripFederation(t *testing.T) {
	t.Parallel()
	raw := []*graphql.RemoteSchema{{URL: "http://a", Schema: subgraphSchema(t, "Product")}, {URL: "http://b", Schema: subgraphSchema(t, "Review")}}
	if _, err := nautilus.New(raw); err == nil || !strings.Contains(err.Error(), "_Entity") {
		t.Fatalf("nautilus merged raw federation subgraphs (err %v); the stripping may no longer be needed", err)
	}
	var stripped []*graphql.RemoteSchema
	for _, name := range []string{"Product", "Review"} {
		s := subgraphSchema(t, name)
		stripFederation(s)
		for _, gone := range []string{"_Entity", "_Any", "_Service", "FieldSet", "link__Import"} {
			if s.Types[gone] != nil {
				t.Errorf("%s: type %s left", name, gone)
			}
		}
		for _, gone := range []string{"key", "shareable", "link", "entityResolver", "deprecated"} {
			if s.Directives[gone] != nil {
				t.Errorf("%s: directive @%s left", name, gone)
			}
		}
		if s.Query.Fields.ForName("_entities") != nil || s.Query.Fields.ForName("_service") != nil {
			t.Errorf("%s: Query still has _entities or _service", name)
		}
		if s.Query.Fields.ForName("node") == nil || s.Types[name] == nil || len(s.PossibleTypes["Node"]) == 0 {
			t.Errorf("%s: stripped more than the plumbing", name)
		}
		if _, ok := s.PossibleTypes["_Entity"]; ok {
			t.Errorf("%s: _Entity still has possible types", name)
		}
		stripped = append(stripped, &graphql.RemoteSchema{URL: "http://" + name, Schema: s})
	}
	if _, err := nautilus.New(stripped); err != nil {
		t.Fatalf("nautilus does not merge the stripped subgraphs: %v", err)
	}
}

// TestKnownLocationsOnly: introspection reaches nautilus without the
// directive locations it cannot read; other responses pass unchanged.
func TestKnownLocationsOnly(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/other" {
			io.WriteString(w, `{"data":{"x":1}}`)
			return
		}
		io.WriteString(w, `{"data":{"__schema":{"queryType":{"name":"Query"},"directives":[
			{"name":"deprecated","locations":["FIELD_DEFINITION","DIRECTIVE_DEFINITION","ENUM_VALUE"],"args":[]}]}}}`)
	}))
	defer srv.Close()
	c := &http.Client{Transport: knownLocationsOnly{http.DefaultTransport}}
	get := func(path string) string {
		res, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	var got struct {
		Data struct {
			Schema graphql.IntrospectionQuerySchema `json:"__schema"`
		}
	}
	if err := json.Unmarshal([]byte(get("/")), &got); err != nil {
		t.Fatal(err)
	}
	if l := got.Data.Schema.Directives[0].Locations; strings.Join(l, ",") != "FIELD_DEFINITION,ENUM_VALUE" {
		t.Errorf("locations = %v, want FIELD_DEFINITION, ENUM_VALUE", l)
	}
	if got.Data.Schema.QueryType.Name != "Query" {
		t.Errorf("the rest of the schema was lost: %+v", got.Data.Schema)
	}
	if b := get("/other"); b != `{"data":{"x":1}}` {
		t.Errorf("other response changed: %s", b)
	}
}

func TestForwardAuthorization(t *testing.T) {
	t.Parallel()
	for _, auth := range []string{"Bearer abc", ""} {
		var upstream *http.Request
		h := withAuthorization(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			upstream, _ = http.NewRequestWithContext(r.Context(), http.MethodPost, "http://subgraph/graphql", nil)
			if err := forwardAuthorization(upstream); err != nil {
				t.Fatal(err)
			}
		}))
		in := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		if auth != "" {
			in.Header.Set("Authorization", auth)
		}
		h.ServeHTTP(httptest.NewRecorder(), in)
		if got := upstream.Header.Get("Authorization"); got != auth {
			t.Errorf("upstream Authorization = %q, want %q", got, auth)
		}
	}
}

func TestCountingProxy(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path+" "+r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	p, err := startProxy("s", srv.URL+"/graphql", http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !strings.HasSuffix(p.URL, "/graphql") {
		t.Errorf("proxy URL %s does not keep the path", p.URL)
	}
	for range 3 {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, p.URL, nil)
		req.Header.Set("Authorization", "Bearer x")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != "/graphql Bearer x" {
			t.Errorf("subgraph saw %q", b)
		}
	}
	if p.Count() != 3 {
		t.Errorf("Count = %d, want 3", p.Count())
	}
}
