// Package catalog is the orders service's client of the products subgraph:
// it prices cart items and tells whether they can still be ordered.
package catalog

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/graphqlclient"
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
	gql *graphqlclient.Client
}

var _ cart.Catalog = (*Client)(nil)

// New returns a client of the products subgraph at url (its /graphql
// endpoint). hc may be nil: a client with a 5 s timeout is used. opts add
// the service token the calls carry.
func New(url string, hc *http.Client, opts ...graphqlclient.Option) *Client {
	return &Client{gql: graphqlclient.New(url, "the product catalog", hc, false, opts...)}
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
		if err := c.gql.Do(ctx, bySKU, map[string]any{"skus": chunk}, &data); err != nil {
			return nil, err
		}
		if len(data.VariantsBySku) != len(chunk) {
			return nil, c.gql.Unavailable(fmt.Errorf("variantsBySku: %d answers for %d SKUs", len(data.VariantsBySku), len(chunk)))
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
		if err := c.gql.Do(ctx, byID, map[string]any{"reps": reps}, &ents); err != nil {
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
