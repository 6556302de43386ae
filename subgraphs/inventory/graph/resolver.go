package graph

import "github.com/shopgraph/shopgraph/subgraphs/inventory/stock"

// Resolver is the root resolver: the inventory service it asks. Lookups that
// a list can multiply go through the per-request loaders (see Middleware).
type Resolver struct {
	Stock *stock.Service
}
