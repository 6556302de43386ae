package events

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/shopgraph/shopgraph/internal/testenv"
)

// TestMigrateBesideServiceMigrations checks that the events tables land in
// the service's schema, versioned apart from the service's own migrations,
// and that Migrate can run again (every start-up, every replica).
func TestMigrateBesideServiceMigrations(t *testing.T) {
	t.Parallel()
	service := fstest.MapFS{"00001_orders.sql": {Data: []byte(
		"-- +goose Up\nCREATE TABLE orders (id text PRIMARY KEY);\n-- +goose Down\nDROP TABLE orders;\n")}}
	pool := testenv.Postgres(t, "events", service)
	ctx := context.Background()
	for range 2 {
		if err := Migrate(ctx, pool, testenv.Logger()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"orders", "events_outbox", "events_inbox"} {
		var found bool
		err := pool.QueryRow(ctx, `SELECT to_regclass(quote_ident($1) || '.' || quote_ident($2)) IS NOT NULL`, schema, table).Scan(&found)
		if err != nil || !found {
			t.Errorf("table %s.%s missing (%v)", schema, table, err)
		}
	}
	for _, tc := range []struct{ table string }{{"goose_db_version"}, {VersionTable}} {
		var version int64
		if err := pool.QueryRow(ctx, `SELECT max(version_id) FROM `+tc.table).Scan(&version); err != nil || version != 1 {
			t.Errorf("%s: version %d (%v), want 1", tc.table, version, err)
		}
	}
}
