package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// prepared is a request that may be executed.
type prepared struct {
	doc   *ast.QueryDocument
	op    *ast.OperationDefinition
	query string // the text to plan: the request's, or just op's
}

// prepare refuses, before any service is called, what can be refused: parse
// and validation errors against the merged schema, an unknown operation, a
// mutation over GET, a subscription, invalid variables, and an operation
// too big for nautilus to plan. A refusal comes with its HTTP status.
func (g *Gateway) prepare(p params, method string) (*prepared, int, []*gqlerror.Error) {
	if p.Query == "" {
		if _, ok := p.Extensions["persistedQuery"]; ok {
			return nil, http.StatusBadRequest, gqlerror.List{requestError(codePersistedQueryNotSupported, "PersistedQueryNotSupported")}
		}
		return nil, http.StatusBadRequest, gqlerror.List{requestError(codeBadRequest, "a query is required")}
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: p.Query})
	if err != nil {
		return nil, http.StatusBadRequest, withCode(err, codeParseFailed)
	}
	if errs := validator.ValidateWithRules(g.schema, doc, nil); len(errs) > 0 {
		return nil, http.StatusBadRequest, withCode(errs, codeValidationFailed)
	}
	op, gerr := selectOperation(doc, p.OperationName)
	if gerr != nil {
		return nil, http.StatusBadRequest, gqlerror.List{gerr}
	}
	if method == http.MethodGet && op.Operation != ast.Query {
		return nil, http.StatusMethodNotAllowed, gqlerror.List{requestError(codeMethodNotAllowed,
			fmt.Sprintf("a %s cannot be sent with GET; use POST", op.Operation))}
	}
	if op.Operation == ast.Subscription {
		return nil, http.StatusBadRequest, gqlerror.List{requestError(codeBadRequest,
			"subscriptions are not supported by the gateway yet")}
	}
	if _, err := validator.VariableValues(g.schema, op, p.Variables); err != nil {
		return nil, http.StatusBadRequest, gqlerror.List{variableError(err)}
	}
	if steps := 1 + g.locations.planSteps(doc, op.SelectionSet, rootType(g.schema, op).Name, ""); steps > maxPlanSteps {
		return nil, http.StatusBadRequest, gqlerror.List{requestError(codeValidationFailed, fmt.Sprintf(
			"the operation needs about %d fetches from the services; at most %d are allowed: split it", steps, maxPlanSteps))}
	}
	query := p.Query
	if len(doc.Operations) > 1 {
		// nautilus plans every operation of a document but computes the
		// fields to scrub from the first one only: give it just this one.
		query = printOperation(doc, op, op.SelectionSet)
	}
	return &prepared{doc: doc, op: op, query: query}, 0, nil
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
