package graph

import (
	"github.com/shopgraph/shopgraph/subgraphs/orders/cart"
	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
)

// Resolver holds the dependencies of the orders resolvers. Per-request
// loaders come from the context (see Middleware).
type Resolver struct {
	CartService  *cart.Service
	OrderService *order.Service
}
