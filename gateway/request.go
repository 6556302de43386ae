package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// maxRequestBody bounds the JSON body of a POST.
const maxRequestBody = 1 << 20

// params are the parameters of a GraphQL-over-HTTP request.
type params struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
}

// readParams reads the GraphQL parameters of r: the JSON body of a POST, or
// the query string of a GET. A refused request yields the HTTP status and the
// error to answer with.
func readParams(w http.ResponseWriter, r *http.Request) (params, int, *gqlerror.Error) {
	switch r.Method {
	case http.MethodPost:
		return readBody(w, r)
	case http.MethodGet:
		return readQueryString(r)
	default:
		w.Header().Set("Allow", "GET, POST")
		return params{}, http.StatusMethodNotAllowed,
			requestError(codeMethodNotAllowed, fmt.Sprintf("%s is not allowed; use POST, or GET for queries", r.Method))
	}
}

func readBody(w http.ResponseWriter, r *http.Request) (params, int, *gqlerror.Error) {
	// Only JSON: a text/plain or form POST is a "simple" cross-site request
	// that browsers send without a CORS preflight.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return params{}, http.StatusUnsupportedMediaType,
			requestError(codeBadRequest, "Content-Type must be application/json")
	}
	var p params
	body := http.MaxBytesReader(w, r.Body, maxRequestBody)
	dec := json.NewDecoder(body)
	if err := dec.Decode(&p); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return params{}, http.StatusRequestEntityTooLarge,
				requestError(codeBadRequest, fmt.Sprintf("request body larger than %d bytes", maxRequestBody))
		}
		return params{}, http.StatusBadRequest, requestError(codeBadRequest, bodyErrorMessage(err))
	}
	if dec.More() {
		return params{}, http.StatusBadRequest,
			requestError(codeBadRequest, "request body must be one JSON object; batched requests are not supported")
	}
	return p, 0, nil
}

// bodyErrorMessage describes a JSON decoding error to the client.
func bodyErrorMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return "request body must be a JSON object with query, operationName, variables and extensions; batched requests are not supported"
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
