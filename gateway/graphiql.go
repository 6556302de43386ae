package gateway

import (
	"net/http"

	"github.com/99designs/gqlgen/graphql/playground"
)

// graphiql serves GraphiQL, pointed at /graphql.
func graphiql() http.Handler {
	return playground.Handler("Shopgraph", "/graphql")
}
