package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/subgraph"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/users/graph"
	userspg "github.com/shopgraph/shopgraph/subgraphs/users/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/users/user"
)

// countingStore counts the batch look-ups that lists multiply.
type countingStore struct {
	*userspg.PGStore
	users, addresses, books atomic.Int32
}

func (s *countingStore) UsersByIDs(ctx context.Context, ids []string) (map[string]user.User, error) {
	s.users.Add(1)
	return s.PGStore.UsersByIDs(ctx, ids)
}

func (s *countingStore) AddressesByIDs(ctx context.Context, ids []string) (map[string]user.Address, error) {
	s.addresses.Add(1)
	return s.PGStore.AddressesByIDs(ctx, ids)
}

func (s *countingStore) AddressesByUserIDs(ctx context.Context, ids []string) (map[string][]user.Address, error) {
	s.books.Add(1)
	return s.PGStore.AddressesByUserIDs(ctx, ids)
}

type noLimit struct{}

func (noLimit) Reserve(context.Context, string, string) (time.Duration, error) { return 0, nil }
func (noLimit) Succeeded(context.Context, string, string) error                { return nil }

// TestBatching checks that users, addresses and address books asked for by
// many node fields or entity representations are each fetched in one query.
func TestBatching(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.Postgres(t, "users", userspg.Migrations)
	if err := events.Migrate(ctx, pool, nil); err != nil {
		t.Fatal(err)
	}
	store := &countingStore{PGStore: userspg.NewStore(pool, testenv.Logger())}
	key, ver := testenv.SigningKey(t)
	signer, err := auth.NewSigner(key, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := user.NewService(user.Config{Store: store, Limiter: noLimit{}, Tokens: signer, RefreshTTL: time.Hour, Log: testenv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	h := subgraph.Handler(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Users: svc, Log: testenv.Logger()}}),
		subgraph.Options{Name: "users", Verifier: ver, Log: testenv.Logger(), Middleware: graph.Middleware(svc)})
	srv := httptest.NewServer(h)
	defer srv.Close()

	const n = 5
	var userIDs, addrIDs []string
	now := time.Now().UTC()
	for i := range n {
		u := user.User{ID: user.NewID(), Email: fmt.Sprintf("u%d.%s@example.com", i, testenv.ID()), Name: "U",
			Role: user.RoleCustomer, PasswordHash: "x", CreatedAt: now, UpdatedAt: now}
		if err := store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		err := store.UpdateAddressBook(ctx, u.ID, func(b *user.AddressBook) error {
			a, err := b.Add(user.NewID(), user.AddressInput{Recipient: "R", Line1: "L", City: "C", PostalCode: "1", Country: "US"}, now)
			addrIDs = append(addrIDs, gid.Encode("Address", a.ID))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		userIDs = append(userIDs, gid.Encode("User", u.ID))
	}
	admin := testenv.Token(t, key, user.NewID(), auth.RoleAdmin)

	post := func(t *testing.T, query string, vars map[string]any) map[string]json.RawMessage {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+admin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct {
			Data   map[string]json.RawMessage
			Errors []json.RawMessage
		}
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil || len(out.Errors) > 0 {
			t.Fatalf("response: %v %s", err, out.Errors)
		}
		return out.Data
	}
	reset := func() { store.users.Store(0); store.addresses.Store(0); store.books.Store(0) }

	tests := []struct {
		name                    string
		query                   func() (string, map[string]any)
		users, addresses, books int32
	}{
		{"node fields", func() (string, map[string]any) {
			q := "query {"
			for i, id := range userIDs {
				q += fmt.Sprintf(` u%d: node(id: %q) { ... on User { email addresses { city } defaultAddress { id } } }`, i, id)
			}
			for i, id := range addrIDs {
				q += fmt.Sprintf(` a%d: node(id: %q) { ... on Address { city } }`, i, id)
			}
			return q + " }", nil
		}, 1, 1, 1},
		{"entities", func() (string, map[string]any) {
			var reps []map[string]any
			for _, id := range userIDs {
				reps = append(reps, map[string]any{"__typename": "User", "id": id})
			}
			for _, id := range addrIDs {
				reps = append(reps, map[string]any{"__typename": "Address", "id": id})
			}
			return `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { email addresses { city } } ... on Address { city } } }`,
				map[string]any{"r": reps}
		}, 1, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reset()
			q, vars := tt.query()
			data := post(t, q, vars)
			if bytes.Contains(mustJSON(data), []byte("null")) {
				t.Fatalf("some object missing: %s", mustJSON(data))
			}
			if u, a, b := store.users.Load(), store.addresses.Load(), store.books.Load(); u != tt.users || a != tt.addresses || b != tt.books {
				t.Fatalf("%d user, %d address and %d address-book queries for %d of each; want %d, %d, %d",
					u, a, b, n, tt.users, tt.addresses, tt.books)
			}
		})
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
