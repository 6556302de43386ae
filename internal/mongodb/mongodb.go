// Package mongodb connects to MongoDB: a real server from a URI, or in
// all-in-one mode and in tests an embedded FerretDB v1 (SQLite backend) kept
// in the data directory. FerretDB v1 has no multi-document transactions and
// loses concurrent read-modify-write updates, so Shopgraph's Mongo code uses
// only single-document atomic operations and unique indexes, and the embedded
// client holds one connection.
package mongodb

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	_ "modernc.org/sqlite" // the driver FerretDB uses, for IndexIDLookups
)

// Connect returns a client connected to uri, after a ping; monitor, if
// given and not nil, watches its commands (the app's tracing).
func Connect(ctx context.Context, uri string, monitor ...*event.CommandMonitor) (*mongo.Client, error) {
	opts := options.Client().ApplyURI(uri).SetTimeout(10 * time.Second)
	if len(monitor) > 0 && monitor[0] != nil {
		opts.SetMonitor(monitor[0])
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to MongoDB: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := client.Ping(pctx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("ping MongoDB: %w", err)
	}
	return client, nil
}

// Embedded is a FerretDB server running inside this process.
type Embedded struct {
	URI string
	// Dir holds the SQLite files, one per database.
	Dir    string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartEmbedded starts FerretDB with its SQLite backend in dir, listening on
// a free loopback port. Its URI asks for one connection (maxPoolSize=1).
func StartEmbedded(ctx context.Context, dir string, log *slog.Logger) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create FerretDB directory: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
		Logger:    log.With("component", "ferretdb"),
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded FerretDB: %w", err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e := &Embedded{Dir: abs, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		_ = f.Run(rctx)
	}()
	e.URI = f.MongoDBURI() + "?maxPoolSize=1"
	return e, nil
}

// Stop stops the server and waits for it.
func (e *Embedded) Stop() {
	e.cancel()
	<-e.done
}

// IndexIDLookups makes `_id` equality reads of every collection of database
// dbName use an index. FerretDB v1.24.2's SQLite backend pushes such a find
// down as `WHERE _ferretdb_sjson->'$._id' = ?`, but indexes `_id` as
// `_ferretdb_sjson->"_id"`, an expression SQLite does not match with it: so
// without this every lookup scans its table, and costs grow with the
// collection. It adds, to the database file, a unique index on the very
// expression the pushdown uses (FerretDB does not list it; dropping the
// collection drops it). Call it after the collections exist; it is a no-op
// for those already indexed. No library does this: it is a workaround of
// one FerretDB version, to drop with FerretDB v2.
func (e *Embedded) IndexIDLookups(ctx context.Context, dbName string) error {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.Dir, dbName+".sqlite")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("open %s: %w", dbName, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections`)
	if err != nil {
		return fmt.Errorf("list collections of %s: %w", dbName, err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE UNIQUE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"_id_lookup", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index _id lookups of %s.%s: %w", dbName, t, err)
		}
	}
	return nil
}
