// Package catalog is inventory's client of the products subgraph: it asks
// which SKUs are in the catalog, so that stock is kept only for real
// variants.
package catalog

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/shopgraph/shopgraph/internal/graphqlclient"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
)

// batch is the most SKUs the products subgraph's variantsBySku takes at once.
const batch = 100

const query = `query($s:[String!]!){ variantsBySku(skus:$s){ sku } }`

// Client is a stock.Catalog that asks the products subgraph's GraphQL
// endpoint.
type Client struct {
	gql *graphqlclient.Client
}

var _ stock.Catalog = (*Client)(nil)

// New returns a client of the products subgraph at url (its /graphql
// endpoint). hc may be nil: a client with a 5 s timeout is used. opts add
// the service token the calls carry.
func New(url string, hc *http.Client, opts ...graphqlclient.Option) *Client {
	return &Client{gql: graphqlclient.New(url, "the product catalog", hc, true, opts...)}
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

type data struct {
	VariantsBySku []*struct {
		SKU string `json:"sku"`
	} `json:"variantsBySku"`
}

func (c *Client) ask(ctx context.Context, skus []string, known map[string]bool) error {
	var out data
	if err := c.gql.Do(ctx, query, map[string]any{"s": skus}, &out); err != nil {
		return err
	}
	if len(out.VariantsBySku) != len(skus) {
		return c.gql.Unavailable(fmt.Errorf("%d answers for %d SKUs", len(out.VariantsBySku), len(skus)))
	}
	for i, v := range out.VariantsBySku {
		known[skus[i]] = v != nil && strings.EqualFold(v.SKU, skus[i])
	}
	return nil
}
