// Package graphqlclient is how one Shopgraph service asks another's GraphQL
// endpoint (orders and inventory ask products for variants, orders asks
// shipping for rates): POST the operation with the calling service's own
// token (OAuth2 client credentials), forward the caller's token, and
// turn every way the call can fail into one UNAVAILABLE error for the client
// while keeping the cause for the log. Written by hand: the calls are a few
// fixed operations, and a generated client would be more code than this.
package graphqlclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"golang.org/x/oauth2"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/observability"
)

// maxResponse bounds what is read of an answer.
const maxResponse = 8 << 20

// Client asks one service's GraphQL endpoint.
type Client struct {
	url     string
	what    string
	http    *http.Client
	forward bool
	tokens  oauth2.TokenSource
}

// Option configures a Client.
type Option func(*Client)

// WithServiceToken makes every request carry a service token from ts (an
// OAuth2 client credentials source for the called service) in
// Authorization; the caller's token, when forwarded, then goes in
// X-Forwarded-Authorization.
func WithServiceToken(ts oauth2.TokenSource) Option {
	return func(c *Client) { c.tokens = ts }
}

// New returns a client of the endpoint at url. what names the service for
// the client-facing error, e.g. "the product catalog". hc may be nil: a
// client with a 5 s timeout is used. With forwardToken, the caller's access
// token (if ctx carries one) goes with each request; without, every request
// is anonymous.
func New(url, what string, hc *http.Client, forwardToken bool, opts ...Option) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	c := &Client{url: url, what: what, http: hc, forward: forwardToken}
	for _, o := range opts {
		o(c)
	}
	return c
}

type response struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// Do posts query with vars and decodes the answer's data into data.
// Returns UNAVAILABLE if the service cannot be reached, does not answer
// GraphQL, or answers with errors.
func (c *Client) Do(ctx context.Context, query string, vars map[string]any, data any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("ask %s: %w", c.what, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	// The call is part of the caller's trace (W3C traceparent).
	observability.Propagator.Inject(ctx, propagation.HeaderCarrier(req.Header))
	userHeader := "Authorization"
	if c.tokens != nil {
		tok, err := c.tokens.Token()
		if err != nil {
			return c.unavailable(fmt.Errorf("get a service token: %w", err))
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		userHeader = auth.ForwardedAuthorization
	}
	if id, ok := auth.FromContext(ctx); ok && c.forward && id.Token != "" {
		req.Header.Set(userHeader, "Bearer "+id.Token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return c.unavailable(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return c.unavailable(fmt.Errorf("read response: %w", err))
	}
	var out response
	if err := json.Unmarshal(raw, &out); err != nil {
		return c.unavailable(fmt.Errorf("status %d, undecodable response: %w", res.StatusCode, err))
	}
	if len(out.Errors) > 0 || len(out.Data) == 0 || string(out.Data) == "null" {
		msgs := make([]string, len(out.Errors))
		for i, e := range out.Errors {
			msgs[i] = e.Message
		}
		return c.unavailable(fmt.Errorf("status %d: %s", res.StatusCode, strings.Join(msgs, "; ")))
	}
	if err := json.Unmarshal(out.Data, data); err != nil {
		return c.unavailable(fmt.Errorf("decode data: %w", err))
	}
	return nil
}

// Unavailable returns the error Do returns for cause: UNAVAILABLE for the
// client, with cause kept for the log. Callers use it for answers that
// decode but make no sense.
func (c *Client) Unavailable(cause error) error { return c.unavailable(cause) }

func (c *Client) unavailable(cause error) error {
	return upstreamError{
		public: apperr.Errorf(apperr.Unavailable, "%s cannot be reached; try again", c.what),
		cause:  fmt.Errorf("ask %s: %w", c.what, cause),
	}
}

// upstreamError is UNAVAILABLE for the client and keeps the cause.
type upstreamError struct {
	public *apperr.Error
	cause  error
}

func (e upstreamError) Unwrap() []error { return []error{e.public, e.cause} }
func (e upstreamError) Error() string   { return e.cause.Error() }
