// Package postgres is the shipping service's store in PostgreSQL: shipping
// methods and rates, shipments, their tracking events and the orders
// cancelled before they had a shipment. Its SQL lives in queries/ and is
// compiled to Go by sqlc; the schema is the embedded goose migrations in
// migrations/. Every change writes its tracking events and its events (to
// the internal/events outbox) in the transaction that makes it.
package postgres

import (
	"embed"
	"io/fs"
)

//go:generate go tool sqlc generate

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the store's goose migrations, for postgres.Open:
//
//	pool, err := postgres.Open(ctx, url, "shipping", shippingpg.Migrations, log)
//
// The outbox tables are internal/events' own: call events.Migrate on the
// pool as well (shipping.New does).
var Migrations fs.FS = mustSub(migrations, "migrations")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
