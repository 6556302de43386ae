// Package postgres opens a service's PostgreSQL pool in the service's own
// schema, creating the database and the schema if they are missing, and
// applies the service's embedded goose migrations at start-up.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"io/fs"
	"log/slog"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// DefaultMaxConns is a pool's size unless the database URL sets
// pool_max_conns: a service's saga steps each hold a connection for their
// transaction (events.SagaWorkers at once per stream), beside its requests.
// pgx's own default, max(4, CPUs), would have the orders service's twelve
// saga workers queue for four connections.
const DefaultMaxConns = 10

// Open returns a pool whose connections use schema as their search_path, with
// migrations (numbered goose SQL files at the root of migrations) applied.
// The database in dbURL and the schema are created if missing. Each of
// configure, if any, adjusts the pool's configuration first (the app sets
// its query tracer there).
func Open(ctx context.Context, dbURL, schema string, migrations fs.FS, log *slog.Logger, configure ...func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	if !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("invalid schema name %q", schema)
	}
	if err := ensureDatabase(ctx, dbURL); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if err := ensureSchema(ctx, cfg.ConnConfig, schema); err != nil {
		return nil, err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	if !strings.Contains(dbURL, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	for _, f := range configure {
		f(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if migrations != nil {
		if err := Migrate(ctx, pool, migrations, log); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return pool, nil
}

// Migrate applies the pending migrations in fsys to the pool's schema.
func Migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS, log *slog.Logger) error {
	// One lock per schema, so that services (and parallel tests) migrating
	// at the same time do not queue behind goose's one database-wide lock.
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("migrations: current schema: %w", err)
	}
	lockID := int64(crc64.Checksum([]byte("shopgraph.migrate:"+schema), crc64.MakeTable(crc64.ECMA)))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range res {
		if log != nil {
			log.Debug("migration applied", "source", r.Source.Path, "duration", r.Duration)
		}
	}
	return nil
}

func ensureSchema(ctx context.Context, cc *pgx.ConnConfig, schema string) error {
	conn, err := pgx.ConnectConfig(ctx, cc.Copy())
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		var pgErr *pgconn.PgError
		// Two replicas may race to create it; the loser sees a unique violation.
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
			return fmt.Errorf("create schema %s: %w", schema, err)
		}
	}
	return nil
}

// ensureDatabase creates the database named in dbURL if it does not exist.
func ensureDatabase(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	u, perr := url.Parse(dbURL)
	if perr != nil {
		return fmt.Errorf("parse database URL: %w", perr)
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL to create database %s: %w", name, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		if !errors.As(err, &pgErr) || (pgErr.Code != "42P04" && pgErr.Code != "23505") { // duplicate_database
			return fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint violation,
// optionally of the named constraint.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && (constraint == "" || pgErr.ConstraintName == constraint)
}
