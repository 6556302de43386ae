package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"

	nautilus "github.com/nautilus/gateway"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// serveGraphQL answers one GraphQL request.
func (g *Gateway) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	p, status, perr := readParams(w, r)
	if perr != nil {
		writeErrors(w, status, perr)
		return
	}
	info := infoFrom(r.Context())
	info.operation = p.OperationName
	req, status, refused := g.prepare(p, r.Method)
	if refused != nil {
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", "POST")
		}
		writeErrors(w, status, refused...)
		return
	}
	info.operation = req.op.Name
	log := g.log.With("request_id", info.requestID)
	rc := &nautilus.RequestContext{Context: r.Context(), Query: req.query, OperationName: req.op.Name, Variables: p.Variables}
	data, err := g.execute(rc, req.doc, req.op)
	errs := publicErrors(r, log, err)
	sh := &shaper{schema: g.schema, fragments: req.doc.Fragments, vars: p.Variables}
	shaped := sh.root(data, req.op)
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
