// Package catalog is the orders service's client of the products subgraph:
// it prices cart items and tells whether they can still be ordered.
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
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/orders/cart"
)

// batch is the most SKUs the products subgraph's variantsBySku takes at once.
const batch = 100

const variantFields = `sku name price { amount currency } product { id name status }`

// bySKU asks for the variants on sale. variantsBySku answers null for a SKU
// that is unknown or whose product is not ACTIVE.
const bySKU = `query($skus: [String!]!) { variantsBySku(skus: $skus) { ` + variantFields + ` } }`

// byID tells the two apart for the SKUs variantsBySku left null: the
// products subgraph still resolves a variant of an ARCHIVED product by its
// global ID (orders placed earlier show it), but not an unknown one.
const byID = `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Variant { ` + variantFields + ` } } }`

// Client is a cart.Catalog that asks the products subgraph's GraphQL
// endpoint. It asks anonymously, so that every customer is shown the same
// catalog.
type Client struct {
	url  string
	http *http.Client
}

var _ cart.Catalog = (*Client)(nil)

// New returns a client of the products subgraph at url (its /graphql
// endpoint). hc may be nil: a client with a 5 s timeout is used.
func New(url string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	return &Client{url: url, http: hc}
}

type variant struct {
	SKU     string      `json:"sku"`
	Name    string      `json:"name"`
	Price   money.Money `json:"price"`
	Product struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"product"`
}

// Variants implements cart.Catalog.
func (c *Client) Variants(ctx context.Context, skus []string) (map[string]cart.Variant, error) {
	out := make(map[string]cart.Variant, len(skus))
	skus = dedupe(skus)
	for start := 0; start < len(skus); start += batch {
		chunk := skus[start:min(start+batch, len(skus))]
		var data struct {
			VariantsBySku []*variant `json:"variantsBySku"`
		}
		if err := c.ask(ctx, bySKU, map[string]any{"skus": chunk}, &data); err != nil {
			return nil, err
		}
		if len(data.VariantsBySku) != len(chunk) {
			return nil, unavailable(fmt.Errorf("variantsBySku: %d answers for %d SKUs", len(data.VariantsBySku), len(chunk)))
		}
		var missing []string
		for i, v := range data.VariantsBySku {
			if v == nil {
				missing = append(missing, chunk[i])
				continue
			}
			put(out, chunk[i], v)
		}
		if len(missing) == 0 {
			continue
		}
		reps := make([]map[string]string, len(missing))
		for i, sku := range missing {
			reps[i] = map[string]string{"__typename": "Variant", "id": gid.Encode("Variant", sku)}
		}
		var ents struct {
			Entities []*variant `json:"_entities"`
		}
		if err := c.ask(ctx, byID, map[string]any{"reps": reps}, &ents); err != nil {
			return nil, err
		}
		for i, v := range ents.Entities {
			if i < len(missing) && v != nil && v.SKU != "" {
				put(out, missing[i], v)
			}
		}
	}
	return out, nil
}

func put(out map[string]cart.Variant, sku string, v *variant) {
	if !strings.EqualFold(v.SKU, sku) {
		return
	}
	out[sku] = cart.Variant{
		SKU: sku, Name: v.Name, Price: v.Price,
		ProductID: v.Product.ID, ProductName: v.Product.Name, ProductStatus: v.Product.Status,
	}
}

type response struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

// ask posts query with vars and decodes the response's data into data.
// Returns UNAVAILABLE if the products subgraph cannot be reached or answers
// with errors.
func (c *Client) ask(ctx context.Context, query string, vars map[string]any, data any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("catalog request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return unavailable(fmt.Errorf("ask catalog: %w", err))
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return unavailable(fmt.Errorf("ask catalog: read response: %w", err))
	}
	var out response
	if err := json.Unmarshal(raw, &out); err != nil {
		return unavailable(fmt.Errorf("ask catalog: status %d, undecodable response: %w", res.StatusCode, err))
	}
	if len(out.Errors) > 0 || len(out.Data) == 0 || string(out.Data) == "null" {
		msgs := make([]string, len(out.Errors))
		for i, e := range out.Errors {
			msgs[i] = e.Message
		}
		return unavailable(fmt.Errorf("ask catalog: status %d: %s", res.StatusCode, strings.Join(msgs, "; ")))
	}
	if err := json.Unmarshal(out.Data, data); err != nil {
		return unavailable(fmt.Errorf("ask catalog: decode data: %w", err))
	}
	return nil
}

func dedupe(skus []string) []string {
	seen := make(map[string]bool, len(skus))
	out := make([]string, 0, len(skus))
	for _, s := range skus {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
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
	return upstreamError{public: apperr.Errorf(apperr.Unavailable, "the product catalog cannot be reached; try again"), cause: cause}
}
