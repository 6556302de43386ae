package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/subgraph"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/graph"
	shippingpg "github.com/shopgraph/shopgraph/subgraphs/shipping/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/sandbox"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

// countingStore records the batch look-ups that lists multiply.
type countingStore struct {
	*shippingpg.Store
	mu       sync.Mutex
	byOrders [][]string
	byIDs    [][]string
}

func (s *countingStore) ShipmentsByOrders(ctx context.Context, orderIDs []string) ([]shipment.Shipment, error) {
	s.mu.Lock()
	s.byOrders = append(s.byOrders, slices.Clone(orderIDs))
	s.mu.Unlock()
	return s.Store.ShipmentsByOrders(ctx, orderIDs)
}

func (s *countingStore) Shipments(ctx context.Context, ids []string) ([]shipment.Shipment, error) {
	s.mu.Lock()
	s.byIDs = append(s.byIDs, slices.Clone(ids))
	s.mu.Unlock()
	return s.Store.Shipments(ctx, ids)
}

func (s *countingStore) calls() (byOrders, byIDs [][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.byOrders), slices.Clone(s.byIDs)
}

// TestBatching checks that the shipments of many orders, asked for by
// entity representations or node fields, are fetched in one store call.
func TestBatching(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.Postgres(t, "shipping", shippingpg.Migrations)
	if err := events.Migrate(ctx, pool, testenv.Logger()); err != nil {
		t.Fatal(err)
	}
	store := &countingStore{Store: shippingpg.NewStore(pool, nil)}
	svc := shipment.NewService(shipment.Config{Store: store, Carrier: sandbox.New(), Log: testenv.Logger()})
	key, ver := testenv.SigningKey(t)
	h := subgraph.Handler(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Shipping: svc}}),
		subgraph.Options{Name: "shipping", Verifier: ver, Log: testenv.Logger(), Middleware: graph.Middleware(svc)})
	srv := httptest.NewServer(h)
	defer srv.Close()

	custID := uuid.NewString()
	token := testenv.Token(t, key, custID, auth.RoleCustomer)
	const n = 5
	var orderIDs, shipmentIDs []string
	for range n {
		sh, err := svc.Create(ctx, contract.CreateShipment{
			OrderID: uuid.NewString(), CustomerID: custID, Method: "STANDARD",
			Address: contract.Address{Recipient: "R", Line1: "L", City: "Paris", PostalCode: "75001", Country: "FR"},
			Lines:   []contract.Line{{SKU: "MUG", Quantity: 1}},
		})
		if err != nil {
			t.Fatal(err)
		}
		orderIDs = append(orderIDs, sh.OrderID)
		shipmentIDs = append(shipmentIDs, gid.Encode("Shipment", sh.ID))
	}

	do := func(t *testing.T, query string, vars map[string]any, v any) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var r struct {
			Data   json.RawMessage
			Errors []any
		}
		if err := json.NewDecoder(res.Body).Decode(&r); err != nil || len(r.Errors) > 0 {
			t.Fatalf("response: %v, %v", r.Errors, err)
		}
		if err := json.Unmarshal(r.Data, v); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("Order.shipments of many orders", func(t *testing.T) {
		reps := make([]any, n)
		for i, id := range orderIDs {
			reps[i] = map[string]any{"__typename": "Order", "id": gid.Encode("Order", id)}
		}
		before, _ := store.calls()
		var d struct {
			Entities []struct {
				Shipments []struct {
					ID     string
					Events []struct{ Status string }
				}
			} `json:"_entities"`
		}
		do(t, `query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { shipments { id events { status } } } } }`,
			map[string]any{"r": reps}, &d)
		if len(d.Entities) != n {
			t.Fatalf("%d entities", len(d.Entities))
		}
		for i, en := range d.Entities {
			if len(en.Shipments) != 1 || en.Shipments[0].ID != shipmentIDs[i] || len(en.Shipments[0].Events) != 2 {
				t.Errorf("order %d: %+v", i, en)
			}
		}
		after, _ := store.calls()
		calls := after[len(before):]
		if len(calls) != 1 {
			t.Fatalf("%d store look-ups of shipments by order %v, want 1 for the batch", len(calls), calls)
		}
		got := slices.Sorted(slices.Values(calls[0]))
		if !slices.Equal(got, slices.Sorted(slices.Values(orderIDs))) {
			t.Errorf("looked up %v, want %v", got, orderIDs)
		}
	})
	t.Run("shipment node fields", func(t *testing.T) {
		_, before := store.calls()
		var d map[string]struct{ ID string }
		do(t, `query($a: ID!, $b: ID!, $c: ID!) { a: shipment(id: $a) { id } b: shipment(id: $b) { id } c: node(id: $c) { id } }`,
			map[string]any{"a": shipmentIDs[0], "b": shipmentIDs[1], "c": shipmentIDs[2]}, &d)
		if d["a"].ID != shipmentIDs[0] || d["b"].ID != shipmentIDs[1] || d["c"].ID != shipmentIDs[2] {
			t.Errorf("data = %+v", d)
		}
		_, after := store.calls()
		if calls := after[len(before):]; len(calls) != 1 || len(calls[0]) != 3 {
			t.Errorf("store look-ups by ID %v, want one of 3 IDs", calls)
		}
	})
}
