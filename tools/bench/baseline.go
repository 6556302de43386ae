package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	nautilus "github.com/nautilus/gateway"
	"github.com/nautilus/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// countingProxy is a reverse proxy in front of one subgraph that counts the
// requests passing through it. Both gateways reach the subgraphs through
// these proxies, so their upstream traffic is counted the same way.
type countingProxy struct {
	Name   string
	Target string // the subgraph's GraphQL URL
	URL    string // the proxy's GraphQL URL (same path as Target)
	n      atomic.Int64
	srv    *http.Server
}

// Count is the number of requests proxied so far.
func (p *countingProxy) Count() int64 { return p.n.Load() }

// startProxy listens on a free loopback port and forwards every request to
// target's host.
func startProxy(name, target string, transport http.RoundTripper) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", name, err)
	}
	p := &countingProxy{Name: name, Target: target}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: u.Scheme, Host: u.Host})
			r.Out.Host = u.Host
		},
		Transport: transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway) // the client counts it; no log line per failure
		},
	}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.n.Add(1)
			rp.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = p.srv.Serve(ln) }()
	p.URL = "http://" + ln.Addr().String() + u.EscapedPath()
	return p, nil
}

func (p *countingProxy) Close() { _ = p.srv.Close() }

// baseline is a plain nautilus/gateway v0.5.4 over the same subgraphs, with
// its default options (no batching, no plan cache, its own HTTP client),
// served in-process on a loopback port.
type baseline struct {
	URL string
	srv *http.Server
}

// startBaseline introspects the subgraphs at urls, removes the federation
// plumbing nautilus cannot merge, and serves nautilus's GraphQL handler.
func startBaseline(ctx context.Context, urls []string) (*baseline, error) {
	// nautilus's introspection rejects directive locations it does not know
	// (gqlparser's @deprecated is allowed on DIRECTIVE_DEFINITION): the
	// introspection client drops them from the response before nautilus
	// reads it. Everything else is nautilus's own code.
	client := &http.Client{Timeout: 30 * time.Second, Transport: knownLocationsOnly{http.DefaultTransport}}
	sources, err := graphql.IntrospectRemoteSchemasWithOptions(urls,
		graphql.IntrospectWithHTTPClient(client), graphql.IntrospectWithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("nautilus: introspect: %w", err)
	}
	for _, s := range sources {
		stripFederation(s.Schema)
	}
	g, err := nautilus.New(sources, nautilus.WithMiddlewares(forwardAuthorization))
	if err != nil {
		return nil, fmt.Errorf("nautilus: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &baseline{URL: "http://" + ln.Addr().String() + "/graphql"}
	mux := http.NewServeMux()
	mux.Handle("/graphql", withAuthorization(http.HandlerFunc(g.GraphQLHandler)))
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

func (b *baseline) Close() { _ = b.srv.Close() }

type authorizationKey struct{}

// withAuthorization keeps the client's Authorization header in the request
// context, where forwardAuthorization finds it.
func withAuthorization(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			r = r.WithContext(context.WithValue(r.Context(), authorizationKey{}, a))
		}
		h.ServeHTTP(w, r)
	})
}

// forwardAuthorization copies the client's Authorization header onto every
// upstream request: nautilus passes the incoming request's context on.
var forwardAuthorization = nautilus.RequestMiddleware(func(r *http.Request) error {
	if a, ok := r.Context().Value(authorizationKey{}).(string); ok {
		r.Header.Set("Authorization", a)
	}
	return nil
})

// Federation plumbing that gqlgen adds to a subgraph and nautilus cannot
// merge ("_Entity (UNION): inconsistent values").
var (
	federationFields     = []string{"_entities", "_service"}
	federationTypes      = []string{"_Entity", "_Any", "_Service", "FieldSet", "_FieldSet"}
	federationPrefixes   = []string{"link__", "federation__", "join__"}
	federationDirectives = []string{
		"key", "requires", "provides", "external", "extends", "shareable", "inaccessible",
		"override", "tag", "link", "composeDirective", "interfaceObject", "authenticated",
		"requiresScopes", "policy", "cost", "listSize", "context", "fromContext",
		"entityResolver", "goModel", "goField", "goTag", "goExtraField", "goEnum",
		// GraphQL's own directives: nautilus declares them itself, and its
		// @deprecated lacks the DIRECTIVE_DEFINITION location gqlparser's has.
		"deprecated", "skip", "include", "specifiedBy", "oneOf", "defer",
	}
)

func isFederationType(name string) bool {
	return slices.Contains(federationTypes, name) || slices.ContainsFunc(federationPrefixes, func(p string) bool {
		return strings.HasPrefix(name, p)
	})
}

// stripFederation removes the federation plumbing from an introspected
// subgraph schema, in place.
func stripFederation(s *ast.Schema) {
	for name := range s.Types {
		if isFederationType(name) {
			delete(s.Types, name)
		}
	}
	if s.Query != nil {
		s.Query.Fields = slices.DeleteFunc(s.Query.Fields, func(f *ast.FieldDefinition) bool {
			return slices.Contains(federationFields, f.Name)
		})
	}
	for name := range s.Directives {
		if slices.Contains(federationDirectives, name) || strings.HasPrefix(name, "federation__") {
			delete(s.Directives, name)
		}
	}
	hidden := func(d *ast.Definition) bool { return isFederationType(d.Name) }
	for _, m := range []map[string][]*ast.Definition{s.PossibleTypes, s.Implements} {
		for name, defs := range m {
			if isFederationType(name) {
				delete(m, name)
				continue
			}
			m[name] = slices.DeleteFunc(defs, hidden)
		}
	}
	for _, t := range s.Types {
		t.Interfaces = slices.DeleteFunc(t.Interfaces, isFederationType)
		t.Types = slices.DeleteFunc(t.Types, isFederationType)
	}
}

// knownLocations are the directive locations nautilus's introspection reads.
var knownLocations = []string{
	"QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD",
	"INLINE_FRAGMENT", "SCHEMA", "SCALAR", "OBJECT", "FIELD_DEFINITION", "ARGUMENT_DEFINITION",
	"INTERFACE", "UNION", "ENUM", "ENUM_VALUE", "INPUT_OBJECT", "INPUT_FIELD_DEFINITION",
}

// knownLocationsOnly drops, from introspection responses, the directive
// locations nautilus does not know.
type knownLocationsOnly struct{ next http.RoundTripper }

func (t knownLocationsOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(r)
	if err != nil || res.StatusCode != http.StatusOK {
		return res, err
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	var body struct {
		Data struct {
			Schema map[string]json.RawMessage `json:"__schema"`
		} `json:"data"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Data.Schema["directives"] != nil {
		var directives []map[string]any
		if err := json.Unmarshal(body.Data.Schema["directives"], &directives); err == nil {
			for _, d := range directives {
				locs, _ := d["locations"].([]any)
				d["locations"] = slices.DeleteFunc(locs, func(l any) bool {
					s, _ := l.(string)
					return !slices.Contains(knownLocations, s)
				})
			}
			body.Data.Schema["directives"], _ = json.Marshal(directives)
			raw, _ = json.Marshal(map[string]any{"data": map[string]any{"__schema": body.Data.Schema}})
		}
	}
	res.Body = io.NopCloser(bytes.NewReader(raw))
	res.ContentLength = int64(len(raw))
	res.Header.Del("Content-Length")
	return res, nil
}
