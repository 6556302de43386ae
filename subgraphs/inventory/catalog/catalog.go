// Package catalog is inventory's client of the products subgraph: it asks
// which SKUs are in the catalog, so that stock is kept only for real
// variants.
package catalog

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
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
)

// batch is the most SKUs the products subgraph's variantsBySku takes at once.
const batch = 100

const query = `query($s:[String!]!){ variantsBySku(skus:$s){ sku } }`

// Client is a stock.Catalog that asks the products subgraph's GraphQL
// endpoint.
type Client struct {
	url  string
	http *http.Client
}

var _ stock.Catalog = (*Client)(nil)

// New returns a client of the products subgraph at url (its /graphql
// endpoint). hc may be nil: a client with a 5 s timeout is used.
func New(url string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	return &Client{url: url, http: hc}
}

// KnownSKUs reports which of skus (upper case) the catalog has. The caller's
// access token, if ctx carries one, is forwarded, so that an administrator
// also sees the variants of products that are not on sale.
// Returns UNAVAILABLE if the products subgraph cannot be reached or fails.
func (c *Client) KnownSKUs(ctx context.Context, skus []string) (map[string]bool, error) {
	known := make(map[string]bool, len(skus))
	for start := 0; start < len(skus); start += batch {
		chunk := skus[start:min(start+batch, len(skus))]
		if err := c.ask(ctx, chunk, known); err != nil {
			return nil, err
		}
	}
	return known, nil
}

type response struct {
	Data *struct {
		VariantsBySku []*struct {
			SKU string `json:"sku"`
		} `json:"variantsBySku"`
	} `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

func (c *Client) ask(ctx context.Context, skus []string, known map[string]bool) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"s": skus}})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("catalog request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if id, ok := auth.FromContext(ctx); ok && id.Token != "" {
		req.Header.Set("Authorization", "Bearer "+id.Token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return unavailable(fmt.Errorf("ask catalog: %w", err))
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return unavailable(fmt.Errorf("ask catalog: read response: %w", err))
	}
	var out response
	if err := json.Unmarshal(raw, &out); err != nil {
		return unavailable(fmt.Errorf("ask catalog: status %d, undecodable response: %w", res.StatusCode, err))
	}
	if out.Data == nil || len(out.Errors) > 0 {
		msgs := make([]string, len(out.Errors))
		for i, e := range out.Errors {
			msgs[i] = e.Message
		}
		return unavailable(fmt.Errorf("ask catalog: status %d: %s", res.StatusCode, strings.Join(msgs, "; ")))
	}
	if len(out.Data.VariantsBySku) != len(skus) {
		return unavailable(fmt.Errorf("ask catalog: %d answers for %d SKUs", len(out.Data.VariantsBySku), len(skus)))
	}
	for i, v := range out.Data.VariantsBySku {
		known[skus[i]] = v != nil && strings.EqualFold(v.SKU, skus[i])
	}
	return nil
}

// catalogError is UNAVAILABLE for the client and keeps the cause for the log.
type catalogError struct {
	public *apperr.Error
	cause  error
}

func (e catalogError) Unwrap() []error { return []error{e.public, e.cause} }
func (e catalogError) Error() string   { return e.cause.Error() }

func unavailable(cause error) error {
	return catalogError{public: apperr.Errorf(apperr.Unavailable, "the product catalog cannot be reached; try again"), cause: cause}
}
