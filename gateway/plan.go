package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	nautilus "github.com/nautilus/gateway"
	"github.com/vektah/gqlparser/v2/ast"
)

// planCache is the gateway's nautilus QueryPlanCache. For now it plans every
// request (as nautilus's default does) and notes the merged schema that
// nautilus plans against, which nautilus exposes nowhere else; a cache of
// plans keyed by the query text belongs here.
type planCache struct {
	schema atomic.Pointer[ast.Schema]
}

var _ nautilus.QueryPlanCache = (*planCache)(nil)

// Retrieve plans the query.
func (c *planCache) Retrieve(ctx *nautilus.PlanningContext, _ *string, planner nautilus.QueryPlanner) (nautilus.QueryPlanList, error) {
	c.schema.Store(ctx.Schema)
	return planner.Plan(ctx)
}

// mergedSchema returns the merged schema of ng, by planning a query that
// nautilus answers itself.
func (c *planCache) mergedSchema(ctx context.Context, ng *nautilus.Gateway) (*ast.Schema, error) {
	if _, err := ng.GetPlans(&nautilus.RequestContext{Context: ctx, Query: "{ __schema { queryType { name } } }"}); err != nil {
		return nil, fmt.Errorf("plan a query on the merged schema: %w", err)
	}
	s := c.schema.Load()
	if s == nil {
		return nil, errors.New("nautilus did not plan against a schema")
	}
	// nautilus's own schema declares @defer, which it does not execute: the
	// validator now rejects it, and introspection does not advertise it.
	delete(s.Directives, "defer")
	return s, nil
}
