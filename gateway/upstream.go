package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"

	nautilus "github.com/nautilus/gateway"
	"github.com/nautilus/graphql"
	"golang.org/x/oauth2"
)

// maxUpstreamResponse bounds the body read from a service.
const maxUpstreamResponse = 32 << 20

// upstream sends GraphQL requests to one service. It is the nautilus Queryer
// of every plan step bound for that service (the gateway's executor, see
// batch.go, calls its send directly), and every request carries the caller's
// credentials (forwardHeaders).
//
// Written by hand rather than using nautilus's SingleRequestQueryer, which
// drops the GraphQL errors of any non-2xx response (a subgraph's 401 or 422)
// and returns raw Go errors that carry the service's URL: here every failure
// becomes an *upstreamError, with a client-safe message and the cause kept
// for the log.
type upstream struct {
	service Service
	client  *http.Client
	flight  *flight // nil: no deduplication (see dedupe.go)
	// tokens, if set, are the gateway's service tokens for this service.
	tokens oauth2.TokenSource
}

var _ graphql.Queryer = (*upstream)(nil)

func newUpstream(s Service, client *http.Client) *upstream {
	return &upstream{service: s, client: client}
}

// upstreamResponse is a GraphQL response from a service.
type upstreamResponse struct {
	Data   json.RawMessage  `json:"data"`
	Errors []upstreamGQLErr `json:"errors"`
}

type upstreamGQLErr struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Query sends input to the service and decodes the response's data into
// receiver; see send for the errors.
func (u *upstream) Query(ctx context.Context, input *graphql.QueryInput, receiver any) error {
	data, err := u.send(ctx, input.Query, input.Variables, input.OperationName)
	if len(data) > 0 && string(data) != "null" && receiver != nil {
		if derr := json.Unmarshal(data, receiver); derr != nil {
			return u.fail(codeInternal, fmt.Errorf("decode data: %w", derr))
		}
	}
	return err
}

// send sends a GraphQL request to the service and returns the data of the
// response, and its errors: a graphql.ErrorList of *graphql.Error, each
// tagged with the service's name (extensions.service). Any other failure is
// an *upstreamError, alone in a graphql.ErrorList.
func (u *upstream) send(ctx context.Context, query string, variables map[string]any, operationName string) (json.RawMessage, error) {
	payload, err := json.Marshal(map[string]any{
		"query":         query,
		"variables":     variables,
		"operationName": operationName,
	})
	if err != nil {
		return nil, u.fail(codeInternal, fmt.Errorf("encode request: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.service.URL, bytes.NewReader(payload))
	if err != nil {
		return nil, u.fail(codeInternal, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json")
	if err := forwardHeaders(req, u.tokens); err != nil {
		return nil, u.fail(codeUnavailable, err)
	}
	res, err := u.client.Do(req)
	if err != nil {
		return nil, u.fail(codeUnavailable, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxUpstreamResponse+1))
	if err != nil {
		return nil, u.fail(codeUnavailable, fmt.Errorf("read response: %w", err))
	}
	if len(body) > maxUpstreamResponse {
		return nil, u.fail(codeInternal, fmt.Errorf("response larger than %d bytes", maxUpstreamResponse))
	}
	var out upstreamResponse
	if err := json.Unmarshal(body, &out); err != nil || (out.Data == nil && len(out.Errors) == 0) {
		code := codeInternal
		if res.StatusCode < 200 || res.StatusCode > 299 {
			code = codeUnavailable
		}
		return nil, u.fail(code, fmt.Errorf("status %d, not a GraphQL response: %.200q", res.StatusCode, body))
	}
	if len(out.Errors) == 0 {
		return out.Data, nil
	}
	list := make(graphql.ErrorList, len(out.Errors))
	for i, e := range out.Errors {
		ext := maps.Clone(e.Extensions)
		if ext == nil {
			ext = map[string]any{}
		}
		ext["service"] = u.service.Name
		msg := e.Message
		if msg == "" {
			msg = "error in service " + u.service.Name
		}
		list[i] = &graphql.Error{Message: msg, Path: e.Path, Extensions: ext}
	}
	return out.Data, list
}

// fail returns an upstreamError as the one error of a graphql.ErrorList, the
// form in which nautilus expects a queryer's errors.
func (u *upstream) fail(code string, cause error) error {
	return graphql.ErrorList{&upstreamError{service: u.service.Name, code: code, cause: cause}}
}

// upstreamError is a failure to get a GraphQL response from a service. Its
// Error text is for logs; clients see publicMessage.
type upstreamError struct {
	service string
	code    string // codeUnavailable or codeInternal
	cause   error
	path    []any // where in the client's response the failed fetch belonged, if known
}

func (e *upstreamError) Error() string {
	return fmt.Sprintf("service %s: %v", e.service, e.cause)
}

func (e *upstreamError) Unwrap() error { return e.cause }

func (e *upstreamError) publicMessage() string {
	if e.code == codeUnavailable {
		return "service " + e.service + " is unavailable"
	}
	return "internal error"
}

// queryerFor is the gateway's nautilus QueryerFactory: plan steps bound for a
// service's URL use that service's upstream.
func (g *Gateway) queryerFor(_ *nautilus.PlanningContext, url string) graphql.Queryer {
	if u, ok := g.upstreams[url]; ok {
		return u
	}
	return graphql.QueryerFunc(func(*graphql.QueryInput) (any, error) {
		return nil, &upstreamError{service: "unknown", code: codeInternal, cause: errors.New("no service at location " + url)}
	})
}
