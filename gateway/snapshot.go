package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	nautilus "github.com/nautilus/gateway"
	"github.com/nautilus/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// snapshot is one version of the merged schema and everything made from it:
// nautilus's gateway and planner, the public schema, where each field is
// resolved, and the plans made against it. A request loads the current
// snapshot once and uses it to the end, so a schema reload never changes
// the schema under a request in flight; a new snapshot starts with an empty
// plan cache.
type snapshot struct {
	sources   []source // per service, in Config.Services order
	nautilus  *nautilus.Gateway
	schema    *ast.Schema // the merged, public schema
	locations fieldLocations
	plans     *planCache
}

// current returns the snapshot requests are served from.
func (g *Gateway) current() *snapshot { return g.snap.Load() }

// build merges the schemas of sources (one per service, in Config.Services
// order) into a new snapshot.
func (g *Gateway) build(ctx context.Context, sources []source) (*snapshot, error) {
	remotes := make([]*graphql.RemoteSchema, len(sources))
	names := map[string]string{}
	for i, s := range g.cfg.Services {
		r, err := sources[i].remote(s.URL)
		if err != nil {
			return nil, fmt.Errorf("service %s: read schema: %w", s.Name, err)
		}
		remotes[i] = r
		names[s.URL] = s.Name
	}
	// Before nautilus.New: merging changes the definitions it is given.
	locations := newFieldLocations(remotes, names)
	probe := &schemaProbe{}
	factory := nautilus.QueryerFactory(g.queryerFor)
	ng, err := nautilus.New(remotes,
		nautilus.WithQueryerFactory(&factory),
		nautilus.WithQueryPlanCache(probe),
		nautilus.WithLogger(nautilusLogger{g.log}),
	)
	if err != nil {
		return nil, fmt.Errorf("merge the services' schemas: %w", err)
	}
	schema, err := probe.mergedSchema(ctx, ng)
	if err != nil {
		return nil, err
	}
	return &snapshot{
		sources:   sources,
		nautilus:  ng,
		schema:    schema,
		locations: locations,
		plans:     newPlanCache(g.cfg.PlanCacheSize),
	}, nil
}

// schemaProbe is the snapshot's nautilus QueryPlanCache. It plans every call
// (the gateway caches whole prepared operations itself, see planCache) and
// notes the merged schema that nautilus plans against, which nautilus
// exposes nowhere else.
type schemaProbe struct {
	schema atomic.Pointer[ast.Schema]
}

var _ nautilus.QueryPlanCache = (*schemaProbe)(nil)

// Retrieve plans the query.
func (p *schemaProbe) Retrieve(ctx *nautilus.PlanningContext, _ *string, planner nautilus.QueryPlanner) (nautilus.QueryPlanList, error) {
	p.schema.Store(ctx.Schema)
	return planner.Plan(ctx)
}

// mergedSchema returns the merged schema of ng, by planning a query that
// nautilus answers itself.
func (p *schemaProbe) mergedSchema(ctx context.Context, ng *nautilus.Gateway) (*ast.Schema, error) {
	if _, err := ng.GetPlans(&nautilus.RequestContext{Context: ctx, Query: "{ __schema { queryType { name } } }"}); err != nil {
		return nil, fmt.Errorf("plan a query on the merged schema: %w", err)
	}
	s := p.schema.Load()
	if s == nil {
		return nil, errors.New("nautilus did not plan against a schema")
	}
	// nautilus's own schema declares @defer, which it does not execute: the
	// validator now rejects it, and introspection does not advertise it.
	delete(s.Directives, "defer")
	return s, nil
}
