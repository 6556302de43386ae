package graph

import (
	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

// Resolver holds the dependencies of the shipping resolvers. Per-request
// loaders come from the context (see Middleware).
type Resolver struct {
	Shipping *shipment.Service
}
