// Package postgres is the users service's store in PostgreSQL: users,
// addresses and refresh tokens. Its SQL lives in queries/ and is compiled to
// Go by sqlc; the schema is the embedded goose migrations in migrations/.
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
//	pool, err := postgres.Open(ctx, url, "users", userspg.Migrations, log)
var Migrations fs.FS = mustSub(migrations, "migrations")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
