// Package graph is the products subgraph's GraphQL layer: generated code
// from schema/products and thin resolvers that decode arguments, call the
// catalog and map its results.
package graph

import "github.com/shopgraph/shopgraph/subgraphs/products/catalog"

// Resolver holds the resolvers' dependencies.
type Resolver struct {
	Catalog *catalog.Service
}
