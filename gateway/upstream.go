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
)

// maxUpstreamResponse bounds the body read from a service.
const maxUpstreamResponse = 32 << 20

// upstream sends GraphQL requests to one service. It is the nautilus Queryer
// of every plan step bound for that service.
//
// Written by hand rather than using nautilus's SingleRequestQueryer, which
// drops the GraphQL errors of any non-2xx response (a subgraph's 401 or 422)
// and returns raw Go errors that carry the service's URL: here every failure
// becomes an *upstreamError, with a client-safe message and the cause kept
// for the log.
type upstream struct {
	service     Service
	client      *http.Client
	middlewares []graphql.NetworkMiddleware
}

var _ graphql.QueryerWithMiddlewares = (*upstream)(nil)

func newUpstream(s Service, client *http.Client) *upstream {
	return &upstream{service: s, client: client}
}

// WithMiddlewares returns a copy of u that applies wares to every request.
// nautilus calls it per execution with the gateway's request middlewares.
func (u *upstream) WithMiddlewares(wares []graphql.NetworkMiddleware) graphql.Queryer {
	c := *u
	c.middlewares = wares
	return &c
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
// receiver. The errors of a GraphQL response are a graphql.ErrorList of
// *graphql.Error, each tagged with the service's name (extensions.service);
// any other failure is an *upstreamError. Within a gateway request they go
// to the request's errorCollector rather than to nautilus.
func (u *upstream) Query(ctx context.Context, input *graphql.QueryInput, receiver any) error {
	return report(ctx, u.query(ctx, input, receiver))
}

func (u *upstream) query(ctx context.Context, input *graphql.QueryInput, receiver any) error {
	payload, err := json.Marshal(map[string]any{
		"query":         input.Query,
		"variables":     input.Variables,
		"operationName": input.OperationName,
	})
	if err != nil {
		return u.fail(codeInternal, fmt.Errorf("encode request: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.service.URL, bytes.NewReader(payload))
	if err != nil {
		return u.fail(codeInternal, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json, application/json")
	for _, mw := range u.middlewares {
		if err := mw(req); err != nil {
			return u.fail(codeInternal, fmt.Errorf("request middleware: %w", err))
		}
	}
	res, err := u.client.Do(req)
	if err != nil {
		return u.fail(codeUnavailable, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxUpstreamResponse+1))
	if err != nil {
		return u.fail(codeUnavailable, fmt.Errorf("read response: %w", err))
	}
	if len(body) > maxUpstreamResponse {
		return u.fail(codeInternal, fmt.Errorf("response larger than %d bytes", maxUpstreamResponse))
	}
	var out upstreamResponse
	if err := json.Unmarshal(body, &out); err != nil || (out.Data == nil && len(out.Errors) == 0) {
		code := codeInternal
		if res.StatusCode < 200 || res.StatusCode > 299 {
			code = codeUnavailable
		}
		return u.fail(code, fmt.Errorf("status %d, not a GraphQL response: %.200q", res.StatusCode, body))
	}
	if len(out.Data) > 0 && string(out.Data) != "null" && receiver != nil {
		if err := json.Unmarshal(out.Data, receiver); err != nil {
			return u.fail(codeInternal, fmt.Errorf("decode data: %w", err))
		}
	}
	if len(out.Errors) == 0 {
		return nil
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
	return list
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
