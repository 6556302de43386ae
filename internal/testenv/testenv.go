// Package testenv gives each test its own slice of the real engines: a fresh
// PostgreSQL schema, a Redis key prefix, and a MongoDB database on one
// embedded FerretDB per test process (or on MONGODB_TEST_URI, if set).
// Everything is removed when the test ends.
//
// Tests read their engines' addresses from TEST_DATABASE_URL and
// TEST_REDIS_URL, defaulting to the local PostgreSQL and Redis.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/auth/authtest"
	"github.com/shopgraph/shopgraph/internal/mongodb"
	"github.com/shopgraph/shopgraph/internal/postgres"
	"github.com/shopgraph/shopgraph/internal/redisconn"
)

// DatabaseURL is the PostgreSQL database tests use.
func DatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/shopgraph_test?sslmode=disable"
}

// RedisURL is the Redis tests use.
func RedisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// ID returns a short random identifier, safe in schema and key names.
func ID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Logger returns a logger for tests: silent unless SHOPGRAPH_TEST_LOG=1.
func Logger() *slog.Logger {
	if os.Getenv("SHOPGRAPH_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Schema returns a new, unique PostgreSQL schema name for prefix, dropped
// when the test ends.
func Schema(t testing.TB, prefix string) string {
	t.Helper()
	schema := strings.ToLower(prefix) + "_t" + ID()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, DatabaseURL())
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// Postgres returns a pool on a fresh schema with migrations applied.
func Postgres(t testing.TB, prefix string, migrations fs.FS) *pgxpool.Pool {
	t.Helper()
	schema := Schema(t, prefix)
	pool, err := postgres.Open(context.Background(), DatabaseURL(), schema, migrations, Logger())
	if err != nil {
		t.Fatalf("testenv: postgres: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Redis returns a client and a unique key prefix; keys under the prefix are
// deleted when the test ends.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	c, err := redisconn.Open(context.Background(), RedisURL())
	if err != nil {
		t.Fatalf("testenv: redis: %v", err)
	}
	prefix := "test:" + ID() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		_ = c.Close()
	})
	return c, prefix
}

var mongoOnce struct {
	sync.Once
	embedded *mongodb.Embedded
	uri      string
	client   *mongo.Client
	err      error
}

// MongoURI returns the URI of the MongoDB tests use: MONGODB_TEST_URI, or one
// embedded FerretDB started once for the test process.
func MongoURI(t testing.TB) string {
	t.Helper()
	startMongo()
	if mongoOnce.err != nil {
		t.Fatalf("testenv: mongo: %v", mongoOnce.err)
	}
	return mongoOnce.uri
}

func startMongo() {
	mongoOnce.Do(func() {
		ctx := context.Background()
		uri := os.Getenv("MONGODB_TEST_URI")
		if uri == "" {
			dir, err := os.MkdirTemp("", "shopgraph-ferretdb-")
			if err != nil {
				mongoOnce.err = err
				return
			}
			e, err := mongodb.StartEmbedded(ctx, dir, Logger())
			if err != nil {
				mongoOnce.err = err
				return
			}
			uri = e.URI
			mongoOnce.embedded = e
		}
		mongoOnce.uri = uri
		mongoOnce.client, mongoOnce.err = mongodb.Connect(ctx, uri)
	})
}

// MongoIndexIDLookups indexes the `_id` lookups of db's collections as the
// binary does on the embedded FerretDB (see mongodb.Embedded.IndexIDLookups);
// nothing on another MongoDB.
func MongoIndexIDLookups(t testing.TB, db *mongo.Database) {
	t.Helper()
	if mongoOnce.embedded == nil {
		return
	}
	if err := mongoOnce.embedded.IndexIDLookups(context.Background(), db.Name()); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Mongo returns a fresh database, dropped when the test ends.
func Mongo(t testing.TB, prefix string) *mongo.Database {
	t.Helper()
	MongoURI(t)
	db := mongoOnce.client.Database(strings.ToLower(prefix) + "_t" + ID())
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	return db
}

// SigningKey returns a fresh Ed25519 signing key and a verifier that trusts it.
func SigningKey(t testing.TB) (jwk.Key, *auth.Verifier) {
	t.Helper()
	key, set := authtest.KeyPair(t)
	return key, auth.NewVerifier(auth.StaticKeys{Set: set}, nil)
}

// Token issues an access token for a user with the given local ID and role,
// signed with key.
func Token(t testing.TB, key jwk.Key, userID, role string) string {
	t.Helper()
	s, err := auth.NewSigner(key, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Issue(auth.Identity{UserID: userID, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// ServiceToken issues a service token (what the OAuth2 token endpoint
// gives a service) of client clientID for service aud with scopes, signed
// with key and valid for ttl (negative: already expired).
func ServiceToken(t testing.TB, key jwk.Key, clientID, aud string, ttl time.Duration, scopes ...string) string {
	t.Helper()
	s, err := auth.NewSigner(key, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ttl < 0 {
		s, err = auth.NewSigner(key, time.Hour, func() time.Time { return time.Now().Add(2 * ttl) })
		if err != nil {
			t.Fatal(err)
		}
		ttl = -ttl
	}
	tok, _, err := s.IssueService(clientID, aud, scopes, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
