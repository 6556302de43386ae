package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// serveGraphQL answers a GraphQL request, or a batch of them (a JSON array,
// answered with an array, each operation run after the one before).
func (g *Gateway) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	// application/json, or application/graphql-response+json when the
	// client prefers it (text/event-stream is served by serveSSE).
	media := mediaJSON
	if negotiate(r).preferred == mediaGraphQLResponse {
		media = mediaGraphQLResponse
	}
	reqs, batch, status, perr := g.readRequests(w, r)
	if perr != nil {
		writeJSONAs(w, status, media, response{Errors: []*gqlerror.Error{perr}})
		return
	}
	if !batch {
		res, status := g.observeOne(r, reqs[0])
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
		}
		writeJSONAs(w, status, media, res)
		return
	}
	out := make([]response, len(reqs))
	for i, p := range reqs {
		out[i], _ = g.observeOne(r, p)
	}
	writeJSONAs(w, http.StatusOK, media, out)
}

// serveOne answers one GraphQL request with its response and HTTP status.
func (g *Gateway) serveOne(r *http.Request, p params) (response, int) {
	info := infoFrom(r.Context())
	info.operation = p.OperationName
	pq, status, perr := g.resolvePersisted(&p)
	if perr != nil {
		return response{Errors: []*gqlerror.Error{perr}}, status
	}
	snap := g.current()
	endPlan := g.startSpan(r.Context(), "gateway.plan")
	op, status, errs := g.prepare(snap, p, r.Method)
	endPlan()
	if errs != nil {
		return response{Errors: errs}, status
	}
	g.remember(pq, p.Query)
	info.operation = op.op.Name
	info.operationType = string(op.op.Operation)
	log := g.log.With("request_id", info.requestID)
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.RequestTimeout)
	data, execErrs := g.execute(ctx, op, p.Variables)
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
	cancel()
	pub := publicErrors(r, log, execErrs)
	if timedOut {
		pub = append(pub, requestError(codeTimeout, fmt.Sprintf(
			"the operation took longer than %v and was stopped", g.cfg.RequestTimeout)))
	}
	sh := &shaper{schema: snap.schema, fragments: op.doc.Fragments, vars: p.Variables}
	shaped := sh.root(data, op.op)
	if len(sh.nulled) > 0 && len(pub) == 0 {
		// A service left out a non-null field without saying why.
		log.ErrorContext(r.Context(), "incomplete data from the services", "paths", fmt.Sprint(sh.nulled))
		pub = append(pub, &gqlerror.Error{Message: "internal error", Path: sh.nulled[0],
			Extensions: map[string]any{"code": codeInternal}})
	}
	locate(pub, op, p)
	res := response{Errors: pub, Data: json.RawMessage("null")}
	if shaped != nil {
		var err error
		if res.Data, err = appendJSON(nil, shaped); err != nil {
			log.ErrorContext(r.Context(), "encode data", "err", err)
			return response{Errors: []*gqlerror.Error{requestError(codeInternal, "internal error")}}, http.StatusInternalServerError
		}
	}
	return res, http.StatusOK
}
