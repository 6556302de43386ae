// Package shipping is the orders service's client of the shipping
// subgraph's rates: which shipping methods there are and what they cost.
package shipping

import (
	"context"
	"fmt"
	"net/http"

	"github.com/shopgraph/shopgraph/internal/graphqlclient"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
)

const query = `query($currency: String!) { shippingMethods(currency: $currency) { code name price { amount currency } } }`

// Client is an order.ShippingRates that asks the shipping subgraph's
// GraphQL endpoint.
type Client struct {
	gql *graphqlclient.Client
}

var _ order.ShippingRates = (*Client)(nil)

// New returns a client of the shipping subgraph at url (its /graphql
// endpoint). hc may be nil: a client with a 5 s timeout is used. opts add
// the service token the calls carry.
func New(url string, hc *http.Client, opts ...graphqlclient.Option) *Client {
	return &Client{gql: graphqlclient.New(url, "shipping rates", hc, false, opts...)}
}

type data struct {
	ShippingMethods []struct {
		Code  string      `json:"code"`
		Name  string      `json:"name"`
		Price money.Money `json:"price"`
	} `json:"shippingMethods"`
}

// Methods implements order.ShippingRates.
func (c *Client) Methods(ctx context.Context, currency string) ([]order.ShippingMethod, error) {
	var out data
	if err := c.gql.Do(ctx, query, map[string]any{"currency": currency}, &out); err != nil {
		return nil, err
	}
	methods := make([]order.ShippingMethod, 0, len(out.ShippingMethods))
	for _, m := range out.ShippingMethods {
		if m.Price.Validate("price") != nil {
			return nil, c.gql.Unavailable(fmt.Errorf("method %s has an invalid price %+v", m.Code, m.Price))
		}
		methods = append(methods, order.ShippingMethod{Code: m.Code, Name: m.Name, Price: m.Price})
	}
	return methods, nil
}
