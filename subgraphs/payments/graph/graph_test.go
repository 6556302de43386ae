package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/subgraph"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/payments/graph"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
	paymentspg "github.com/shopgraph/shopgraph/subgraphs/payments/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/payments/sandbox"
)

// countingStore counts the calls to RefundsByIDs.
type countingStore struct {
	payment.Store
	mu      sync.Mutex
	refunds [][]string
}

func (s *countingStore) RefundsByIDs(ctx context.Context, ids []string) (map[string]payment.Refund, error) {
	s.mu.Lock()
	s.refunds = append(s.refunds, slices.Clone(ids))
	s.mu.Unlock()
	return s.Store.RefundsByIDs(ctx, ids)
}

func (s *countingStore) refundCalls() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refunds)
}

type gqlResponse struct {
	Data   map[string]*struct{ ID string } `json:"data"`
	Errors []struct {
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
}

func post(t *testing.T, url, token, query string) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRefundNodeBatch: a batch of node(id:) fields naming refunds, as the
// gateway sends, is one store lookup, and a refund is seen only by who may
// see its payment.
func TestRefundNodeBatch(t *testing.T) {
	pool := testenv.Postgres(t, "payments", paymentspg.Migrations)
	if err := events.Migrate(t.Context(), pool, nil); err != nil {
		t.Fatal(err)
	}
	key, verifier := testenv.SigningKey(t)
	st := &countingStore{Store: paymentspg.NewStore(pool, nil)}
	svc := payment.NewService(payment.Config{Store: st, Provider: sandbox.New(), Log: testenv.Logger()})
	h := subgraph.Handler(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Payments: svc}}), subgraph.Options{
		Name: "payments", Verifier: verifier, Log: testenv.Logger(), Middleware: graph.Middleware(svc),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	url := srv.URL + "/graphql"

	admin := auth.WithIdentity(t.Context(), auth.Identity{UserID: uuid.NewString(), Role: auth.RoleAdmin})
	custID := uuid.NewString()
	var ids []string
	for range 2 {
		p, err := svc.Authorize(t.Context(), payment.AuthorizeCommand{
			OrderID: uuid.NewString(), CustomerID: custID, Amount: money.Money{Amount: 4999, Currency: "USD"},
			PaymentToken: sandbox.TokenVisa, IdempotencyKey: uuid.NewString(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Capture(t.Context(), p.OrderID); err != nil {
			t.Fatal(err)
		}
		for _, amt := range []int64{100, 200} {
			p, err = svc.Refund(admin, p.ID, &money.Money{Amount: amt, Currency: "USD"}, "scratched")
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range p.Refunds {
			ids = append(ids, gid.Encode("Refund", r.ID))
		}
	}
	ids = append(ids, gid.Encode("Refund", uuid.NewString()))
	missing := len(ids) - 1

	var q strings.Builder
	q.WriteString("{")
	for i, id := range ids {
		fmt.Fprintf(&q, " n%d: node(id: %q) { id }", i, id)
	}
	q.WriteString(" }")

	check := func(name, token string, visible bool) {
		t.Helper()
		before := len(st.refundCalls())
		res := post(t, url, token, q.String())
		if len(res.Errors) > 0 {
			t.Fatalf("%s: errors %+v", name, res.Errors)
		}
		for i, id := range ids {
			n := res.Data[fmt.Sprintf("n%d", i)]
			if want := visible && i != missing; want != (n != nil) || (n != nil && n.ID != id) {
				t.Errorf("%s: node %d (%s): %+v", name, i, id, n)
			}
		}
		if calls := st.refundCalls()[before:]; len(calls) != 1 || len(calls[0]) != len(ids) {
			t.Errorf("%s: refund lookups %v, want 1 of %d IDs", name, calls, len(ids))
		}
	}
	check("admin", testenv.Token(t, key, uuid.NewString(), auth.RoleAdmin), true)
	check("owner", testenv.Token(t, key, custID, auth.RoleCustomer), true)
	check("other customer", testenv.Token(t, key, uuid.NewString(), auth.RoleCustomer), false)

	// _entities: one lookup as well.
	reps := make([]map[string]any, len(ids))
	for i, id := range ids {
		reps[i] = map[string]any{"__typename": "Refund", "id": id}
	}
	body, _ := json.Marshal(map[string]any{
		"query":     `query($r: [_Any!]!) { _entities(representations: $r) { ... on Refund { id } } }`,
		"variables": map[string]any{"r": reps},
	})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testenv.Token(t, key, custID, auth.RoleCustomer))
	before := len(st.refundCalls())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ents struct {
		Data struct {
			Entities []*struct{ ID string } `json:"_entities"`
		} `json:"data"`
		Errors []any `json:"errors"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ents); err != nil {
		t.Fatal(err)
	}
	if len(ents.Errors) > 0 || len(ents.Data.Entities) != len(ids) {
		t.Fatalf("entities: %+v", ents)
	}
	for i, id := range ids {
		if n := ents.Data.Entities[i]; (i != missing) != (n != nil) || (n != nil && n.ID != id) {
			t.Errorf("entity %d (%s): %+v", i, id, n)
		}
	}
	if calls := st.refundCalls()[before:]; len(calls) != 1 {
		t.Errorf("entities: refund lookups %v, want 1", calls)
	}
}
