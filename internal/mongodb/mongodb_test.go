package mongodb_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/shopgraph/shopgraph/internal/mongodb"
)

func TestEmbeddedRoundTrip(t *testing.T) {
	ctx := context.Background()
	e, err := mongodb.StartEmbedded(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	c, err := mongodb.Connect(ctx, e.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	coll := c.Database("t").Collection("c")
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "a", "n": 1}); err != nil {
		t.Fatal(err)
	}
	var got struct{ N int }
	if err := coll.FindOne(ctx, bson.M{"_id": "a"}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.N != 1 {
		t.Fatalf("got %d", got.N)
	}
}

// TestIndexIDLookups: the query FerretDB v1.24.2 sends SQLite for a find by
// `_id` (see its backends/sqlite Collection.Query) searches an index after
// IndexIDLookups, instead of scanning the table.
func TestIndexIDLookups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	e, err := mongodb.StartEmbedded(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	c, err := mongodb.Connect(ctx, e.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	db := c.Database("t")
	if _, err := db.Collection("c").InsertOne(ctx, bson.M{"_id": "a", "n": 1}); err != nil {
		t.Fatal(err)
	}
	// A fresh connection each time: an EXPLAIN does not notice a schema
	// change made since the connection read the schema (which is also why
	// FerretDB's explain command keeps showing a scan; its finds do not).
	plan := func() string {
		sq, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "t.sqlite"))
		if err != nil {
			t.Fatal(err)
		}
		defer sq.Close()
		var table string
		if err := sq.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = 'c'`).Scan(&table); err != nil {
			t.Fatal(err)
		}
		var id, parent, notused int
		var detail string
		q := fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ?`, table)
		if err := sq.QueryRowContext(ctx, q, `"a"`).Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		return detail
	}
	if p := plan(); !strings.HasPrefix(p, "SCAN") {
		t.Logf("before: %s (does FerretDB index _id lookups itself now?)", p)
	}
	for range 2 { // idempotent
		if err := e.IndexIDLookups(ctx, "t"); err != nil {
			t.Fatal(err)
		}
	}
	if p := plan(); !strings.Contains(p, "USING INDEX") {
		t.Fatalf("plan after IndexIDLookups: %s, want an index search", p)
	}
	var got struct{ N int }
	if err := db.Collection("c").FindOne(ctx, bson.M{"_id": "a"}).Decode(&got); err != nil || got.N != 1 {
		t.Fatalf("find after: %v %v", got, err)
	}
}
