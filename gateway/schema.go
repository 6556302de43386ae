package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nautilus/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// source is one service's schema as read by introspection, with the
// federation plumbing stripped: the JSON of the introspection result, and its
// SHA-256, which tells when a service's schema changed. It is kept as JSON
// because nautilus's merge changes the *ast.Schema values it is given: every
// build converts the JSON again.
type source struct {
	raw    []byte
	digest string
}

// remote converts s into the schema of the service at url.
func (s source) remote(url string) (*graphql.RemoteSchema, error) {
	schema, err := graphql.IntrospectAPI(graphql.QueryerFunc(func(*graphql.QueryInput) (any, error) {
		var res graphql.IntrospectionQueryResult
		err := json.Unmarshal(s.raw, &res)
		return res, err
	}))
	if err != nil {
		return nil, err
	}
	return &graphql.RemoteSchema{URL: url, Schema: schema}, nil
}

// introspect reads every service's schema, all at once, each retried with
// backoff until the start-up timeout: services may start after the gateway.
// Unlike nautilus's IntrospectRemoteSchemas, which stops at the first
// unreachable service, the error names every service that did not answer.
func (g *Gateway) introspect(ctx context.Context) ([]source, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.StartupTimeout)
	defer cancel()
	sources := make([]source, len(g.cfg.Services))
	errs := make([]error, len(g.cfg.Services))
	var wg sync.WaitGroup
	for i, s := range g.cfg.Services {
		wg.Go(func() {
			src, err := g.introspectOne(ctx, s)
			if err != nil {
				errs[i] = fmt.Errorf("service %s at %s: %w", s.Name, s.URL, err)
				return
			}
			sources[i] = src
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("introspect services (waited up to %s): %w", g.cfg.StartupTimeout, err)
	}
	return sources, nil
}

// readSchema introspects service s once.
func (g *Gateway) readSchema(ctx context.Context, s Service) (source, error) {
	q := &introspectionQueryer{upstream: g.upstreams[s.URL]}
	q.serviceOnly = serviceOnlyFields(ctx, q.upstream)
	if _, err := graphql.IntrospectAPI(q, graphql.IntrospectWithContext(ctx)); err != nil {
		return source{}, err
	}
	sum := sha256.Sum256(q.raw)
	return source{raw: q.raw, digest: hex.EncodeToString(sum[:])}, nil
}

// introspectOne reads one service's schema, retrying while the service is
// unreachable, and returns the last attempt's error when ctx ends.
func (g *Gateway) introspectOne(ctx context.Context, s Service) (source, error) {
	var last error
	attempt := func() (source, error) {
		src, err := g.readSchema(ctx, s)
		if err == nil {
			return src, nil
		}
		if ctx.Err() == nil || last == nil {
			last = causeOf(err)
		}
		var ue *upstreamError
		if errors.As(err, &ue) && ue.code == codeUnavailable {
			return source{}, err // not up yet: try again
		}
		// The service answered, but not with a schema: waiting will not help.
		return source{}, backoff.Permanent(last)
	}
	b := &backoff.ExponentialBackOff{
		InitialInterval:     100 * time.Millisecond,
		RandomizationFactor: 0.2,
		Multiplier:          2,
		MaxInterval:         2 * time.Second,
	}
	src, err := backoff.Retry(ctx, attempt,
		backoff.WithBackOff(b),
		backoff.WithMaxElapsedTime(0), // ctx carries the deadline
		backoff.WithNotify(func(err error, wait time.Duration) {
			g.log.InfoContext(ctx, "waiting for service", "service", s.Name, "url", s.URL, "retry_in", wait, "err", causeOf(err))
		}),
	)
	if err != nil {
		return source{}, last
	}
	return src, nil
}

// causeOf returns the detailed cause of an upstream error (for the operator,
// never for clients), or err itself.
func causeOf(err error) error {
	var ue *upstreamError
	if errors.As(err, &ue) && ue.cause != nil {
		return ue.cause
	}
	return err
}

// introspectionQueryer sends the introspection query to a service and cleans
// the result before nautilus reads it: nautilus rejects directive locations
// newer than it knows (gqlparser's @deprecated allows DIRECTIVE_DEFINITION)
// and cannot merge the federation plumbing. It keeps the cleaned result's
// JSON in raw.
type introspectionQueryer struct {
	*upstream
	raw []byte
	// serviceOnly are the fields, per type, that only services may ask for
	// (@serviceOnly in the service's SDL): left out of the public schema.
	serviceOnly map[string][]string
}

// serviceOnlyFields reads the service's federation SDL (_service { sdl },
// which, unlike introspection, carries the directives applied to fields) and
// returns the fields marked @serviceOnly, per type. A service without
// _service has none.
func serviceOnlyFields(ctx context.Context, u *upstream) map[string][]string {
	var res struct {
		Service struct {
			SDL string `json:"sdl"`
		} `json:"_service"`
	}
	if err := u.Query(ctx, &graphql.QueryInput{Query: "{ _service { sdl } }"}, &res); err != nil || res.Service.SDL == "" {
		return nil
	}
	doc, err := parser.ParseSchema(&ast.Source{Name: u.service.Name, Input: res.Service.SDL})
	if err != nil {
		return nil
	}
	out := map[string][]string{}
	for _, defs := range [][]*ast.Definition{doc.Definitions, doc.Extensions} {
		for _, d := range defs {
			for _, f := range d.Fields {
				if f.Directives.ForName("serviceOnly") != nil {
					out[d.Name] = append(out[d.Name], f.Name)
				}
			}
		}
	}
	return out
}

func (q *introspectionQueryer) Query(ctx context.Context, input *graphql.QueryInput, receiver any) error {
	if err := q.upstream.Query(ctx, input, receiver); err != nil {
		if errs := flatten(err); len(errs) == 1 {
			return errs[0] // an *upstreamError, seen by errors.As (a graphql.ErrorList hides it)
		}
		return err
	}
	res, ok := receiver.(*graphql.IntrospectionQueryResult)
	if !ok || res.Schema == nil {
		return nil
	}
	stripFederation(res.Schema)
	hideFields(res.Schema, q.serviceOnly)
	raw, err := json.Marshal(res)
	if err != nil {
		return err
	}
	q.raw = raw
	return nil
}

// Apollo Federation's and gqlgen's additions to a subgraph schema, which
// nautilus does not understand ("_Entity (UNION): inconsistent values") and
// clients must not see.
var (
	federationQueryFields = []string{"_entities", "_service"}
	federationTypes       = []string{"_Entity", "_Any", "_Service", "FieldSet", "_FieldSet"}
	federationTypePrefix  = []string{"link__", "federation__", "join__"}
	hiddenDirectives      = []string{
		// Apollo Federation v1 and v2
		"key", "requires", "provides", "external", "extends", "shareable", "inaccessible",
		"override", "tag", "link", "composeDirective", "interfaceObject", "authenticated",
		"requiresScopes", "policy", "cost", "listSize", "context", "fromContext",
		// gqlgen
		"entityResolver", "computedRequires",
		// Shopgraph: fields only services may ask for (hidden with them)
		"serviceOnly", "goModel", "goField", "goTag", "goExtraField", "goEnum",
		// GraphQL's own directives: the gateway's schema has them already
		// (nautilus's must match exactly, and it cannot read @deprecated's
		// DIRECTIVE_DEFINITION location from introspection).
		"defer", "deprecated", "include", "oneOf", "skip", "specifiedBy",
	}
	// nautilusLocations are the directive locations nautilus can read.
	nautilusLocations = []string{
		"QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD",
		"INLINE_FRAGMENT", "SCHEMA", "SCALAR", "OBJECT", "FIELD_DEFINITION", "ARGUMENT_DEFINITION",
		"INTERFACE", "UNION", "ENUM", "ENUM_VALUE", "INPUT_OBJECT", "INPUT_FIELD_DEFINITION",
	}
)

func isFederationType(name string) bool {
	if slices.Contains(federationTypes, name) {
		return true
	}
	for _, p := range federationTypePrefix {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// isEntityResolverType reports gqlgen's "Entity" type, which holds the
// findXByY resolvers behind _entities.
func isEntityResolverType(t graphql.IntrospectionQueryFullType) bool {
	if t.Name != "Entity" || t.Kind != "OBJECT" || len(t.Fields) == 0 {
		return false
	}
	for _, f := range t.Fields {
		if !strings.HasPrefix(f.Name, "find") {
			return false
		}
	}
	return true
}

// hideFields removes the given fields (per type name) from s.
func hideFields(s *graphql.IntrospectionQuerySchema, fields map[string][]string) {
	if len(fields) == 0 {
		return
	}
	for i := range s.Types {
		t := &s.Types[i]
		if hide := fields[t.Name]; len(hide) > 0 {
			t.Fields = slices.DeleteFunc(t.Fields, func(f graphql.IntrospectionQueryFullTypeField) bool {
				return slices.Contains(hide, f.Name)
			})
		}
	}
}

// stripFederation removes the federation plumbing from an introspected
// subgraph schema, and the directive locations nautilus cannot read.
func stripFederation(s *graphql.IntrospectionQuerySchema) {
	hidden := map[string]bool{}
	s.Types = slices.DeleteFunc(s.Types, func(t graphql.IntrospectionQueryFullType) bool {
		if isFederationType(t.Name) || isEntityResolverType(t) {
			hidden[t.Name] = true
		}
		return hidden[t.Name]
	})
	for i := range s.Types {
		t := &s.Types[i]
		if t.Name == s.QueryType.Name {
			t.Fields = slices.DeleteFunc(t.Fields, func(f graphql.IntrospectionQueryFullTypeField) bool {
				return slices.Contains(federationQueryFields, f.Name)
			})
		}
		isHidden := func(r graphql.IntrospectionTypeRef) bool { return hidden[r.Name] }
		t.Interfaces = slices.DeleteFunc(t.Interfaces, isHidden)
		t.PossibleTypes = slices.DeleteFunc(t.PossibleTypes, isHidden)
	}
	s.Directives = slices.DeleteFunc(s.Directives, func(d graphql.IntrospectionQueryDirective) bool {
		return slices.Contains(hiddenDirectives, d.Name) || strings.HasPrefix(d.Name, "federation__")
	})
	for i := range s.Directives {
		d := &s.Directives[i]
		d.Locations = slices.DeleteFunc(d.Locations, func(l string) bool { return !slices.Contains(nautilusLocations, l) })
	}
}
