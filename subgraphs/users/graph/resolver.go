package graph

import (
	"log/slog"

	"github.com/shopgraph/shopgraph/subgraphs/users/user"
)

// Resolver holds the resolvers' dependencies. Per-request loaders come from
// the context (see Middleware).
type Resolver struct {
	Users *user.Service
	Log   *slog.Logger
}
