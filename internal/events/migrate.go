package events

import (
	"context"
	"embed"
	"fmt"
	"hash/crc64"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// VersionTable is the goose version table of this package's migrations, kept
// apart from the service's own goose_db_version so that the two numberings
// never collide.
const VersionTable = "events_goose_db_version"

// Migrate creates or upgrades the outbox and inbox tables in the pool's
// schema (the service schema that internal/postgres.Open sets as search_path).
// Call it once at start-up, after postgres.Open; it is safe to run from
// several replicas at once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	// internal/postgres.Migrate always uses goose's default version table, so
	// the provider is built here with its own store.
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("events migrations: %w", err)
	}
	store, err := database.NewStore(database.DialectPostgres, VersionTable)
	if err != nil {
		return fmt.Errorf("events migrations: %w", err)
	}
	// One lock per schema, so that services migrating at the same start-up
	// do not queue behind each other; goose probes for it every second.
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("events migrations: current schema: %w", err)
	}
	lockID := int64(crc64.Checksum([]byte("shopgraph.events:"+schema), crc64.MakeTable(crc64.ECMA)))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("events migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider("", db, fsys,
		goose.WithStore(store), goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("events migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply events migrations: %w", err)
	}
	for _, r := range res {
		if log != nil {
			log.Debug("events migration applied", "source", r.Source.Path, "duration", r.Duration)
		}
	}
	return nil
}
