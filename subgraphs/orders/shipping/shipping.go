// Package shipping is the orders service's client of the shipping
// subgraph's rates: which shipping methods there are and what they cost.
package shipping

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
)

const query = `query($currency: String!) { shippingMethods(currency: $currency) { code name price { amount currency } } }`

// Client is an order.ShippingRates that asks the shipping subgraph's
// GraphQL endpoint.
type Client struct {
	url  string
	http *http.Client
}

var _ order.ShippingRates = (*Client)(nil)

// New returns a client of the shipping subgraph at url (its /graphql
// endpoint). hc may be nil: a client with a 5 s timeout is used.
func New(url string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	return &Client{url: url, http: hc}
}

type response struct {
	Data *struct {
		ShippingMethods []struct {
			Code  string      `json:"code"`
			Name  string      `json:"name"`
			Price money.Money `json:"price"`
		} `json:"shippingMethods"`
	} `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// Methods implements order.ShippingRates.
func (c *Client) Methods(ctx context.Context, currency string) ([]order.ShippingMethod, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"currency": currency}})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("shipping rates request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return nil, unavailable(fmt.Errorf("ask shipping rates: %w", err))
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, unavailable(fmt.Errorf("ask shipping rates: read response: %w", err))
	}
	var out response
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, unavailable(fmt.Errorf("ask shipping rates: status %d, undecodable response: %w", res.StatusCode, err))
	}
	if out.Data == nil || len(out.Errors) > 0 {
		msgs := make([]string, len(out.Errors))
		for i, e := range out.Errors {
			msgs[i] = e.Message
		}
		return nil, unavailable(fmt.Errorf("ask shipping rates: status %d: %s", res.StatusCode, strings.Join(msgs, "; ")))
	}
	methods := make([]order.ShippingMethod, 0, len(out.Data.ShippingMethods))
	for _, m := range out.Data.ShippingMethods {
		if m.Price.Validate("price") != nil {
			return nil, unavailable(fmt.Errorf("ask shipping rates: method %s has an invalid price %+v", m.Code, m.Price))
		}
		methods = append(methods, order.ShippingMethod{Code: m.Code, Name: m.Name, Price: m.Price})
	}
	return methods, nil
}

// upstreamError is UNAVAILABLE for the client and keeps the cause for the
// log.
type upstreamError struct {
	public *apperr.Error
	cause  error
}

func (e upstreamError) Unwrap() []error { return []error{e.public, e.cause} }
func (e upstreamError) Error() string   { return e.cause.Error() }

func unavailable(cause error) error {
	return upstreamError{public: apperr.Errorf(apperr.Unavailable, "shipping rates cannot be reached; try again"), cause: cause}
}
