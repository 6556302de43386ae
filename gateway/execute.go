package gateway

import (
	"fmt"
	"maps"

	nautilus "github.com/nautilus/gateway"
	"github.com/nautilus/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// execute plans and runs the request's operation op of doc with nautilus.
//
// nautilus runs the root steps of a plan in parallel goroutines, but the
// top-level fields of a mutation must run one after another, in order. So a
// mutation whose fields go to more than one service runs one top-level
// selection at a time.
func (g *Gateway) execute(rc *nautilus.RequestContext, doc *ast.QueryDocument, op *ast.OperationDefinition) (map[string]any, error) {
	ctx, collected := withErrorCollector(rc.Context)
	rc.Context = ctx
	data, err := g.executePlans(rc, doc, op)
	errs := append(graphql.ErrorList(nil), collected.all()...)
	errs = append(errs, flatten(err)...)
	if len(errs) > 0 {
		return data, errs
	}
	return data, nil
}

func (g *Gateway) executePlans(rc *nautilus.RequestContext, doc *ast.QueryDocument, op *ast.OperationDefinition) (map[string]any, error) {
	plans, err := g.nautilus.GetPlans(rc)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if op.Operation != ast.Mutation || len(op.SelectionSet) < 2 || len(plans) != 1 || len(plans[0].RootStep.Then) < 2 {
		return g.nautilus.Execute(rc, plans)
	}
	data := map[string]any{}
	var errs graphql.ErrorList
	for _, sel := range op.SelectionSet {
		one := *rc
		one.Query = printOperation(doc, op, ast.SelectionSet{sel})
		plans, err := g.nautilus.GetPlans(&one)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		part, err := g.nautilus.Execute(&one, plans)
		maps.Copy(data, part)
		errs = append(errs, flatten(err)...)
	}
	if len(errs) > 0 {
		return data, errs
	}
	return data, nil
}
