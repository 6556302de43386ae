package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	nautilus "github.com/nautilus/gateway"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/shopgraph/shopgraph/internal/gqllimit"
)

// operation is an operation parsed, validated against one snapshot's
// schema, checked against the limits that do not depend on variables, and
// planned. Requests that send the same operation share it (see planCache):
// it must not be changed.
type operation struct {
	text string // the query text it was parsed from
	doc  *ast.QueryDocument
	op   *ast.OperationDefinition
	// plans run one after another: one plan, or one per top-level field of
	// a mutation whose fields go to more than one service (see compile).
	plans []*nautilus.QueryPlan
	// fetches are the selections of the node fetches of every step that
	// is not at the root (see printFetch).
	fetches map[*nautilus.QueryPlanStep]string
	// idVar starts the names of the node fetches' ID variables; no
	// variable of the operation starts with it.
	idVar string
}

// prepare refuses, before any service is called, what can be refused: a
// query too long, parse and validation errors against the merged schema, an
// unknown operation, an operation over a limit, a mutation over GET, a
// subscription, and invalid variables. A refusal comes with its HTTP status.
// An operation already prepared against snap is taken from its plan cache.
func (g *Gateway) prepare(snap *snapshot, p params, method string) (*operation, int, []*gqlerror.Error) {
	if p.Query == "" {
		return nil, http.StatusBadRequest, gqlerror.List{requestError(codeBadRequest, "a query is required")}
	}
	if len(p.Query) > g.cfg.MaxQueryBytes {
		return nil, http.StatusRequestEntityTooLarge, gqlerror.List{requestError(codeQueryTooLarge, fmt.Sprintf(
			"the query is %d bytes long; at most %d are allowed", len(p.Query), g.cfg.MaxQueryBytes))}
	}
	key, cacheable := planKey(p.Query, p.OperationName)
	var op *operation
	if cacheable {
		op, _ = snap.plans.get(key)
	}
	if op == nil {
		var status int
		var errs []*gqlerror.Error
		if op, status, errs = g.compile(snap, p.Query, p.OperationName); errs != nil {
			return nil, status, errs
		}
		if cacheable {
			snap.plans.add(key, op)
		}
	}
	if method == http.MethodGet && op.op.Operation != ast.Query {
		return nil, http.StatusMethodNotAllowed, gqlerror.List{requestError(codeMethodNotAllowed,
			fmt.Sprintf("a %s cannot be sent with GET; use POST", op.op.Operation))}
	}
	if op.op.Operation == ast.Subscription {
		return nil, http.StatusBadRequest, gqlerror.List{requestError(codeBadRequest,
			"a subscription needs a websocket or Server-Sent Events (Accept: text/event-stream)")}
	}
	if _, err := validator.VariableValues(snap.schema, op.op, p.Variables); err != nil {
		return nil, http.StatusBadRequest, gqlerror.List{variableError(err)}
	}
	if err := g.checkCost(op.doc, op.op, p.Variables); err != nil {
		return nil, http.StatusBadRequest, gqlerror.List{err}
	}
	return op, 0, nil
}

// compile parses, validates, checks and plans the operation named
// operationName in query.
func (g *Gateway) compile(snap *snapshot, query, operationName string) (*operation, int, []*gqlerror.Error) {
	// Tokens and fields are bounded before validation, which costs the
	// square of the fields of one name in a selection set, and before
	// planning and execution, which walk every fragment spread expanded.
	doc, lerr := gqllimit.Parse(query, gqllimit.Limits{
		MaxTokens: g.cfg.MaxTokens, MaxFields: g.cfg.MaxFields, MaxSameName: g.cfg.MaxSameNameFields,
	})
	if lerr != nil {
		lerr.Rule = ""
		return nil, http.StatusBadRequest, gqlerror.List{lerr}
	}
	if errs := validator.ValidateWithRules(snap.schema, doc, nil); len(errs) > 0 {
		return nil, http.StatusBadRequest, withCode(errs, codeValidationFailed)
	}
	op, gerr := selectOperation(doc, operationName)
	if gerr != nil {
		return nil, http.StatusBadRequest, gqlerror.List{gerr}
	}
	if status, err := g.checkStatic(doc, op); err != nil {
		return nil, status, gqlerror.List{err}
	}
	if op.Operation == ast.Subscription {
		// Not planned: nautilus cannot, and prepare refuses it.
		return &operation{text: query, doc: doc, op: op}, 0, nil
	}
	if steps := 1 + snap.locations.planSteps(doc, op.SelectionSet, rootType(snap.schema, op).Name, ""); steps > maxPlanSteps {
		return nil, http.StatusBadRequest, gqlerror.List{requestError(codeValidationFailed, fmt.Sprintf(
			"the operation needs about %d fetches from the services; at most %d are allowed: split it", steps, maxPlanSteps))}
	}
	text := query
	if len(doc.Operations) > 1 {
		// nautilus plans every operation of a document but computes the
		// fields to scrub from the first one only: give it just this one.
		text = printOperation(doc, op, op.SelectionSet)
	}
	plan, err := g.plan(snap, text)
	if err != nil {
		return nil, http.StatusInternalServerError, gqlerror.List{g.internal("plan an operation", err)}
	}
	o := &operation{text: query, doc: doc, op: op, plans: []*nautilus.QueryPlan{plan}, idVar: idVariablePrefix(op)}
	// nautilus runs the root steps of a plan in parallel, but the top-level
	// fields of a mutation must run one after another, in order. So a
	// mutation whose fields go to more than one service runs one top-level
	// selection at a time.
	if op.Operation == ast.Mutation && len(op.SelectionSet) > 1 && len(plan.RootStep.Then) > 1 {
		o.plans = o.plans[:0]
		for _, sel := range op.SelectionSet {
			p, err := g.plan(snap, printOperation(doc, op, ast.SelectionSet{sel}))
			if err != nil {
				return nil, http.StatusInternalServerError, gqlerror.List{g.internal("plan an operation", err)}
			}
			o.plans = append(o.plans, p)
		}
	}
	o.fetches = map[*nautilus.QueryPlanStep]string{}
	for _, p := range o.plans {
		addFetches(o.fetches, p.RootStep)
	}
	return o, 0, nil
}

// plan plans the one operation of text with nautilus.
func (g *Gateway) plan(snap *snapshot, text string) (*nautilus.QueryPlan, error) {
	plans, err := snap.nautilus.GetPlans(&nautilus.RequestContext{Context: context.Background(), Query: text})
	if err != nil {
		return nil, err
	}
	if len(plans) != 1 || plans[0].RootStep == nil || len(plans[0].RootStep.Then) == 0 {
		return nil, fmt.Errorf("nautilus made %d plans", len(plans))
	}
	return plans[0], nil
}

// addFetches adds the node-fetch selections of step's descendants.
func addFetches(fetches map[*nautilus.QueryPlanStep]string, step *nautilus.QueryPlanStep) {
	for _, s := range step.Then {
		if !isRoot(s) {
			fetches[s] = printFetch(s)
		}
		addFetches(fetches, s)
	}
}

// idVariablePrefix returns a prefix of variable names that no variable of
// op starts with.
func idVariablePrefix(op *ast.OperationDefinition) string {
	prefix := "_n"
	for slices.ContainsFunc(op.VariableDefinitions, func(v *ast.VariableDefinition) bool {
		return strings.HasPrefix(v.Variable, prefix)
	}) {
		prefix = "_" + prefix
	}
	return prefix
}

// internal returns the client's error for an internal failure, which it
// logs.
func (g *Gateway) internal(what string, err error) *gqlerror.Error {
	g.log.Error(what, "err", err)
	return requestError(codeInternal, "internal error")
}

// withCode returns the gqlerrors in err (a *gqlerror.Error or a
// gqlerror.List) with extensions.code set to code.
func withCode(err error, code string) []*gqlerror.Error {
	var list gqlerror.List
	var one *gqlerror.Error
	switch {
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = gqlerror.List{one}
	default:
		list = gqlerror.List{gqlerror.Wrap(err)}
	}
	for _, e := range list {
		if e.Extensions == nil {
			e.Extensions = map[string]any{}
		}
		e.Extensions["code"] = code
		e.Rule = ""
	}
	return list
}

// variableError describes an invalid variable value, such as
// "invalid value for variable $input.name: must be defined".
func variableError(err error) *gqlerror.Error {
	var e *gqlerror.Error
	if !errors.As(err, &e) {
		return requestError(codeValidationFailed, "invalid variables")
	}
	path := e.Path
	if len(path) > 0 && path[0] == ast.PathName("variable") {
		path = path[1:]
	}
	msg := e.Message
	if len(path) > 0 {
		msg = fmt.Sprintf("invalid value for variable $%s: %s", path.String(), e.Message)
	}
	return requestError(codeValidationFailed, msg)
}

// selectOperation returns the operation of doc that the request names, or its
// only operation.
func selectOperation(doc *ast.QueryDocument, name string) (*ast.OperationDefinition, *gqlerror.Error) {
	if name == "" {
		if len(doc.Operations) != 1 {
			return nil, requestError(codeBadRequest, "the document has several operations: operationName is required")
		}
		return doc.Operations[0], nil
	}
	if op := doc.Operations.ForName(name); op != nil {
		return op, nil
	}
	return nil, requestError(codeBadRequest, fmt.Sprintf("the document has no operation named %q", name))
}
