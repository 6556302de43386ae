package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// maxRequestBody bounds the JSON body of a POST, beyond the queries'
// text: variables and extensions.
const maxRequestBody = 1 << 20

// params are the parameters of a GraphQL-over-HTTP request.
type params struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
}

// readRequests reads the GraphQL requests of r: the JSON body of a POST,
// one request or a batch (an array of at most MaxBatchSize), or the query
// string of a GET. A refused request yields the HTTP status and the error
// to answer with.
func (g *Gateway) readRequests(w http.ResponseWriter, r *http.Request) (reqs []params, batch bool, status int, err *gqlerror.Error) {
	limit := int64(maxRequestBody + g.cfg.MaxQueryBytes*g.cfg.MaxBatchSize)
	return readRequests(w, r, limit, g.cfg.MaxBatchSize)
}

// readParams reads one GraphQL request, no batch, for transports that
// carry one operation.
func readParams(w http.ResponseWriter, r *http.Request) (params, int, *gqlerror.Error) {
	ps, _, status, err := readRequests(w, r, maxRequestBody, 1)
	if err != nil {
		return params{}, status, err
	}
	return ps[0], 0, nil
}

// readRequests reads a body of at most limit bytes, and batches of at most
// maxBatch requests (1: none).
func readRequests(w http.ResponseWriter, r *http.Request, limit int64, maxBatch int) ([]params, bool, int, *gqlerror.Error) {
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet:
		p, status, err := readQueryString(r)
		return []params{p}, false, status, err
	default:
		w.Header().Set("Allow", "GET, POST")
		return nil, false, http.StatusMethodNotAllowed,
			requestError(codeMethodNotAllowed, fmt.Sprintf("%s is not allowed; use POST, or GET for queries", r.Method))
	}
	// Only JSON: a text/plain or form POST is a "simple" cross-site request
	// that browsers send without a CORS preflight.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, false, http.StatusUnsupportedMediaType,
			requestError(codeBadRequest, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, false, http.StatusRequestEntityTooLarge,
				requestError(codeBadRequest, fmt.Sprintf("request body larger than %d bytes", limit))
		}
		return nil, false, http.StatusBadRequest, requestError(codeBadRequest, "cannot read the request body")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		var p params
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, false, http.StatusBadRequest, requestError(codeBadRequest, bodyErrorMessage(err))
		}
		return []params{p}, false, 0, nil
	}
	if maxBatch < 2 {
		return nil, true, http.StatusBadRequest,
			requestError(codeBadRequest, "request body must be one JSON object; batched requests are not supported")
	}
	var ps []params
	if err := json.Unmarshal(body, &ps); err != nil {
		return nil, true, http.StatusBadRequest, requestError(codeBadRequest, bodyErrorMessage(err))
	}
	switch {
	case len(ps) == 0:
		return nil, true, http.StatusBadRequest, requestError(codeBadRequest, "the batch is empty")
	case len(ps) > maxBatch:
		return nil, true, http.StatusBadRequest, requestError(codeBatchTooLarge, fmt.Sprintf(
			"the batch has %d operations; at most %d are allowed", len(ps), maxBatch))
	}
	return ps, true, 0, nil
}

// bodyErrorMessage describes a JSON decoding error to the client.
func bodyErrorMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return "request body must be a JSON object with query, operationName, variables and extensions, or an array of them"
		}
		return fmt.Sprintf("request body: %s must not be a JSON %s", typeErr.Field, typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("request body is not valid JSON (at byte %d)", syntaxErr.Offset)
	}
	return "request body is not valid JSON"
}

func readQueryString(r *http.Request) (params, int, *gqlerror.Error) {
	q := r.URL.Query()
	p := params{Query: q.Get("query"), OperationName: q.Get("operationName")}
	for _, f := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &p.Variables}, {"extensions", &p.Extensions}} {
		s := strings.TrimSpace(q.Get(f.name))
		if s == "" {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(s)))
		if err := dec.Decode(f.dst); err != nil || dec.More() {
			return params{}, http.StatusBadRequest,
				requestError(codeBadRequest, f.name+" must be a JSON object")
		}
	}
	return p, 0, nil
}
