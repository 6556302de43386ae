package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nautilus/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// introspect reads every service's schema, all at once, each retried with
// backoff until the start-up timeout: services may start after the gateway.
// Unlike nautilus's IntrospectRemoteSchemas, which stops at the first
// unreachable service, the error names every service that did not answer.
func (g *Gateway) introspect(ctx context.Context) ([]*graphql.RemoteSchema, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.StartupTimeout)
	defer cancel()
	sources := make([]*graphql.RemoteSchema, len(g.cfg.Services))
	errs := make([]error, len(g.cfg.Services))
	var wg sync.WaitGroup
	for i, s := range g.cfg.Services {
		wg.Go(func() {
			schema, err := g.introspectOne(ctx, s)
			if err != nil {
				errs[i] = fmt.Errorf("service %s at %s: %w", s.Name, s.URL, err)
				return
			}
			sources[i] = &graphql.RemoteSchema{URL: s.URL, Schema: schema}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("introspect services (waited up to %s): %w", g.cfg.StartupTimeout, err)
	}
	return sources, nil
}

// introspectOne reads one service's schema, retrying while the service is
// unreachable, and returns the last attempt's error when ctx ends.
func (g *Gateway) introspectOne(ctx context.Context, s Service) (*ast.Schema, error) {
	q := g.upstreams[s.URL]
	var last error
	attempt := func() (*ast.Schema, error) {
		schema, err := graphql.IntrospectAPI(introspectionQueryer{q}, graphql.IntrospectWithContext(ctx))
		if err == nil {
			return schema, nil
		}
		if ctx.Err() == nil || last == nil {
			last = causeOf(err)
		}
		var ue *upstreamError
		if errors.As(err, &ue) && ue.code == codeUnavailable {
			return nil, err // not up yet: try again
		}
		// The service answered, but not with a schema: waiting will not help.
		return nil, backoff.Permanent(last)
	}
	b := &backoff.ExponentialBackOff{
		InitialInterval:     100 * time.Millisecond,
		RandomizationFactor: 0.2,
		Multiplier:          2,
		MaxInterval:         2 * time.Second,
	}
	schema, err := backoff.Retry(ctx, attempt,
		backoff.WithBackOff(b),
		backoff.WithMaxElapsedTime(0), // ctx carries the deadline
		backoff.WithNotify(func(err error, wait time.Duration) {
			g.log.InfoContext(ctx, "waiting for service", "service", s.Name, "url", s.URL, "retry_in", wait, "err", causeOf(err))
		}),
	)
	if err != nil {
		return nil, last
	}
	return schema, nil
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
// and cannot merge the federation plumbing.
type introspectionQueryer struct{ *upstream }

func (q introspectionQueryer) Query(ctx context.Context, input *graphql.QueryInput, receiver any) error {
	if err := q.upstream.Query(ctx, input, receiver); err != nil {
		if errs := flatten(err); len(errs) == 1 {
			return errs[0] // an *upstreamError, seen by errors.As (a graphql.ErrorList hides it)
		}
		return err
	}
	if res, ok := receiver.(*graphql.IntrospectionQueryResult); ok && res.Schema != nil {
		stripFederation(res.Schema)
	}
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
		"entityResolver", "computedRequires", "goModel", "goField", "goTag", "goExtraField", "goEnum",
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
