// Package graph is the notifications subgraph's GraphQL layer: generated
// code from schema/notifications and thin resolvers that decode arguments,
// call the notification service and map its results.
package graph

import "github.com/shopgraph/shopgraph/subgraphs/notifications/notification"

// Resolver holds the resolvers' dependencies.
type Resolver struct {
	Notifications *notification.Service
}
