package graph

import (
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
)

// Resolver holds the dependencies of the payments resolvers. Per-request
// loaders come from the context (see Middleware).
type Resolver struct {
	Payments *payment.Service
}
