package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	nautilus "github.com/nautilus/gateway"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// serveGraphQL answers one GraphQL request. Everything that can be refused is
// refused before a service is called: parse and validation errors against the
// merged schema, a mutation over GET, invalid variables.
func (g *Gateway) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	p, status, perr := readParams(w, r)
	if perr != nil {
		writeErrors(w, status, perr)
		return
	}
	info := infoFrom(r.Context())
	info.operation = p.OperationName
	log := g.log.With("request_id", info.requestID)
	if p.Query == "" {
		if _, ok := p.Extensions["persistedQuery"]; ok {
			writeErrors(w, http.StatusBadRequest,
				requestError(codePersistedQueryNotSupported, "PersistedQueryNotSupported"))
			return
		}
		writeErrors(w, http.StatusBadRequest, requestError(codeBadRequest, "a query is required"))
		return
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: p.Query})
	if err != nil {
		writeErrors(w, http.StatusBadRequest, withCode(err, codeParseFailed)...)
		return
	}
	if errs := validator.ValidateWithRules(g.schema, doc, nil); len(errs) > 0 {
		writeErrors(w, http.StatusBadRequest, withCode(errs, codeValidationFailed)...)
		return
	}
	op, gerr := selectOperation(doc, p.OperationName)
	if gerr != nil {
		writeErrors(w, http.StatusBadRequest, gerr)
		return
	}
	info.operation = op.Name
	if r.Method == http.MethodGet && op.Operation != ast.Query {
		w.Header().Set("Allow", "POST")
		writeErrors(w, http.StatusMethodNotAllowed,
			requestError(codeMethodNotAllowed, fmt.Sprintf("a %s cannot be sent with GET; use POST", op.Operation)))
		return
	}
	if op.Operation == ast.Subscription {
		writeErrors(w, http.StatusBadRequest,
			requestError(codeBadRequest, "subscriptions are not supported by the gateway yet"))
		return
	}
	if _, err := validator.VariableValues(g.schema, op, p.Variables); err != nil {
		writeErrors(w, http.StatusBadRequest, variableError(err))
		return
	}
	if steps := 1 + g.locations.planSteps(doc, op.SelectionSet, rootType(g.schema, op).Name, ""); steps > maxPlanSteps {
		writeErrors(w, http.StatusBadRequest, requestError(codeValidationFailed,
			fmt.Sprintf("the operation needs about %d fetches from the services; at most %d are allowed: split it", steps, maxPlanSteps)))
		return
	}
	query := p.Query
	if len(doc.Operations) > 1 {
		// nautilus plans every operation of a document but computes the
		// fields to scrub from the first one only: give it just this one.
		query = printOperation(doc, op, op.SelectionSet)
	}
	rc := &nautilus.RequestContext{Context: r.Context(), Query: query, OperationName: op.Name, Variables: p.Variables}
	data, err := g.execute(rc, doc, op)
	errs := publicErrors(r, log, err)
	sh := &shaper{schema: g.schema, fragments: doc.Fragments, vars: p.Variables}
	shaped := sh.root(data, op)
	if len(sh.nulled) > 0 && len(errs) == 0 {
		// A service left out a non-null field without saying why.
		log.ErrorContext(r.Context(), "incomplete data from the services", "paths", fmt.Sprint(sh.nulled))
		errs = append(errs, &gqlerror.Error{Message: "internal error", Path: sh.nulled[0],
			Extensions: map[string]any{"code": codeInternal}})
	}
	res := response{Errors: errs, Data: json.RawMessage("null")}
	if shaped != nil {
		if res.Data, err = json.Marshal(shaped); err != nil {
			log.ErrorContext(r.Context(), "encode data", "err", err)
			writeErrors(w, http.StatusInternalServerError, requestError(codeInternal, "internal error"))
			return
		}
	}
	writeJSON(w, http.StatusOK, res)
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
