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

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/subgraph"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/graph"
	inventorypg "github.com/shopgraph/shopgraph/subgraphs/inventory/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
)

// fakeCatalog knows a fixed set of SKUs.
type fakeCatalog map[string]bool

func (c fakeCatalog) KnownSKUs(_ context.Context, skus []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, s := range skus {
		out[s] = c[s]
	}
	return out, nil
}

// countingStore counts the calls to Items, the stock-level lookup, and to
// Reservations.
type countingStore struct {
	stock.Store
	mu           sync.Mutex
	items        [][]string
	reservations [][]string
}

func (s *countingStore) Reservations(ctx context.Context, ids []string) ([]stock.Reservation, error) {
	s.mu.Lock()
	s.reservations = append(s.reservations, slices.Clone(ids))
	s.mu.Unlock()
	return s.Store.Reservations(ctx, ids)
}

func (s *countingStore) reservationCalls() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reservations)
}

func (s *countingStore) Items(ctx context.Context, skus []string) ([]stock.Item, error) {
	s.mu.Lock()
	s.items = append(s.items, slices.Clone(skus))
	s.mu.Unlock()
	return s.Store.Items(ctx, skus)
}

func (s *countingStore) itemCalls() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.items)
}

type env struct {
	url      string
	svc      *stock.Service
	store    *countingStore
	admin    string
	customer string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool := testenv.Postgres(t, "inventory", inventorypg.Migrations)
	if err := events.Migrate(t.Context(), pool, nil); err != nil {
		t.Fatal(err)
	}
	key, verifier := testenv.SigningKey(t)
	st := &countingStore{Store: inventorypg.NewStore(pool)}
	cat := fakeCatalog{"MUG": true, "CAP": true, "SHIRT-M": true, "BOOT-42": true}
	svc := stock.NewService(st, cat, stock.Options{Log: testenv.Logger()})
	h := subgraph.Handler(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Stock: svc}}), subgraph.Options{
		Name: "inventory", Verifier: verifier, Log: testenv.Logger(), Middleware: graph.Middleware(svc),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{
		url: srv.URL + "/graphql", svc: svc, store: st,
		admin:    testenv.Token(t, key, "admin-1", auth.RoleAdmin),
		customer: testenv.Token(t, key, "cust-1", auth.RoleCustomer),
	}
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func (e *env) do(t *testing.T, token, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url, bytes.NewReader(body))
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

// data runs query and decodes its data into out, failing on any error.
func (e *env) data(t *testing.T, token, query string, vars map[string]any, out any) {
	t.Helper()
	res := e.do(t, token, query, vars)
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}
	if err := json.Unmarshal(res.Data, out); err != nil {
		t.Fatal(err)
	}
}

const adjust = `mutation($sku: String!, $delta: Int!, $reason: String!) {
  adjustStock(sku: $sku, delta: $delta, reason: $reason) { id sku onHand reserved available }
}`

const itemQuery = `query($sku: String!) {
  stockItem(sku: $sku) {
    id sku onHand reserved available updatedAt
    ledger(first: 10) { edges { node { delta onHandAfter reservedAfter reason kind orderId actor } } pageInfo { hasNextPage } }
  }
}`

type ledgerEntry struct {
	Delta         int    `json:"delta"`
	OnHandAfter   int    `json:"onHandAfter"`
	ReservedAfter int    `json:"reservedAfter"`
	Reason        string `json:"reason"`
	Kind          string `json:"kind"`
	OrderID       string `json:"orderId"`
	Actor         string `json:"actor"`
}

type stockItem struct {
	ID        string `json:"id"`
	SKU       string `json:"sku"`
	OnHand    int    `json:"onHand"`
	Reserved  int    `json:"reserved"`
	Available int    `json:"available"`
	Ledger    struct {
		Edges []struct {
			Node ledgerEntry `json:"node"`
		} `json:"edges"`
		PageInfo struct {
			HasNextPage bool `json:"hasNextPage"`
		} `json:"pageInfo"`
	} `json:"ledger"`
}

func (e *env) item(t *testing.T, sku string) *stockItem {
	t.Helper()
	var d struct {
		StockItem *stockItem `json:"stockItem"`
	}
	e.data(t, e.admin, itemQuery, map[string]any{"sku": sku}, &d)
	return d.StockItem
}

func TestAdjustStock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if res := e.do(t, e.admin, adjust, map[string]any{"sku": "mug", "delta": 10, "reason": "delivery 4711"}); len(res.Errors) > 0 {
		t.Fatalf("seed: %+v", res.Errors)
	}
	if _, err := e.svc.Reserve(t.Context(), contract.ReserveStock{OrderID: "o1", Lines: []contract.Line{{SKU: "MUG", Quantity: 4}}}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		token  string
		sku    string
		delta  int
		reason string
		code   string
		field  string
	}{
		{"customer", e.customer, "MUG", 5, "restock", apperr.Forbidden, ""},
		{"anonymous", "", "MUG", 5, "restock", apperr.Unauthenticated, ""},
		{"below zero", e.admin, "MUG", -11, "write-off", apperr.Conflict, "delta"},
		{"below reserved", e.admin, "MUG", -7, "write-off", apperr.Conflict, "delta"},
		{"unknown SKU", e.admin, "NOT-IN-CATALOG", 5, "restock", apperr.NotFound, "sku"},
		{"zero delta", e.admin, "MUG", 0, "nothing", apperr.InvalidInput, "delta"},
		{"empty reason", e.admin, "MUG", 5, "   ", apperr.InvalidInput, "reason"},
		{"malformed SKU", e.admin, "no such sku!", 5, "restock", apperr.InvalidInput, "sku"},
		{"too large", e.admin, "MUG", 2_000_000_000, "restock", apperr.InvalidInput, "delta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(t, tt.token, adjust, map[string]any{"sku": tt.sku, "delta": tt.delta, "reason": tt.reason})
			if res.code() != tt.code {
				t.Fatalf("code %q (%+v), want %q", res.code(), res.Errors, tt.code)
			}
			if tt.field != "" && res.Errors[0].Extensions["field"] != tt.field {
				t.Errorf("field %v, want %q", res.Errors[0].Extensions["field"], tt.field)
			}
			if res.Errors[0].Message == "" || strings.Contains(res.Errors[0].Message, "internal") {
				t.Errorf("message %q is not a clear one", res.Errors[0].Message)
			}
		})
	}
	// None of them changed anything.
	got := e.item(t, "MUG")
	if got.OnHand != 10 || got.Reserved != 4 || got.Available != 6 || len(got.Ledger.Edges) != 2 {
		t.Fatalf("after refused adjustments: %+v", got)
	}

	// An admin's adjustment changes on hand and is in the ledger.
	var d struct {
		AdjustStock stockItem `json:"adjustStock"`
	}
	e.data(t, e.admin, adjust, map[string]any{"sku": "MUG", "delta": -6, "reason": "water damage"}, &d)
	if d.AdjustStock.OnHand != 4 || d.AdjustStock.Available != 0 || d.AdjustStock.ID != gid.Encode("StockItem", "MUG") {
		t.Errorf("adjustStock returned %+v", d.AdjustStock)
	}
	got = e.item(t, "MUG")
	var entries []ledgerEntry
	for _, ed := range got.Ledger.Edges {
		entries = append(entries, ed.Node)
	}
	orderID := gid.Encode("Order", "o1")
	want := []ledgerEntry{
		{Delta: -6, OnHandAfter: 4, ReservedAfter: 4, Reason: "water damage", Kind: "ADJUSTMENT", Actor: gid.Encode("User", "admin-1")},
		{Delta: 4, OnHandAfter: 10, ReservedAfter: 4, Reason: "reserved for checkout", Kind: "RESERVATION", OrderID: orderID, Actor: "checkout"},
		{Delta: 10, OnHandAfter: 10, ReservedAfter: 0, Reason: "delivery 4711", Kind: "ADJUSTMENT", Actor: gid.Encode("User", "admin-1")},
	}
	if fmt.Sprint(entries) != fmt.Sprint(want) {
		t.Errorf("ledger\n got %v\nwant %v", entries, want)
	}
}

func TestVariantStockThroughEntities(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for sku, n := range map[string]int{"MUG": 7, "CAP": 3} {
		if res := e.do(t, e.admin, adjust, map[string]any{"sku": sku, "delta": n, "reason": "count"}); len(res.Errors) > 0 {
			t.Fatal(res.Errors)
		}
	}
	if _, err := e.svc.Reserve(t.Context(), contract.ReserveStock{OrderID: "o1", Lines: []contract.Line{{SKU: "CAP", Quantity: 2}}}); err != nil {
		t.Fatal(err)
	}
	before := len(e.store.itemCalls())

	skus := []string{"MUG", "CAP", "NEVER-STOCKED", "MUG"}
	reps := make([]map[string]any, len(skus))
	for i, s := range skus {
		reps[i] = map[string]any{"__typename": "Variant", "id": gid.Encode("Variant", s)}
	}
	var d struct {
		Entities []struct {
			ID    string `json:"id"`
			Stock struct {
				SKU       string `json:"sku"`
				OnHand    int    `json:"onHand"`
				Reserved  int    `json:"reserved"`
				Available int    `json:"available"`
			} `json:"stock"`
		} `json:"_entities"`
	}
	// Public: no token.
	e.data(t, "", `query($r: [_Any!]!) { _entities(representations: $r) { ... on Variant { id stock { sku onHand reserved available } } } }`,
		map[string]any{"r": reps}, &d)
	var got []string
	for _, en := range d.Entities {
		got = append(got, fmt.Sprintf("%s %d/%d/%d", en.Stock.SKU, en.Stock.OnHand, en.Stock.Reserved, en.Stock.Available))
	}
	want := []string{"MUG 7/0/7", "CAP 3/2/1", "NEVER-STOCKED 0/0/0", "MUG 7/0/7"}
	if !slices.Equal(got, want) {
		t.Errorf("stock %v, want %v", got, want)
	}
	if d.Entities[1].ID != gid.Encode("Variant", "CAP") {
		t.Errorf("id %q", d.Entities[1].ID)
	}
	calls := e.store.itemCalls()[before:]
	if len(calls) != 1 {
		t.Fatalf("%d store lookups %v, want 1 for the batch", len(calls), calls)
	}
	slices.Sort(calls[0])
	if !slices.Equal(calls[0], []string{"CAP", "MUG", "NEVER-STOCKED"}) {
		t.Errorf("looked up %v", calls[0])
	}

	// node(id:) answers a Variant ID with its stock too, and malformed IDs are refused.
	var n struct {
		Node struct {
			Stock struct {
				Available int `json:"available"`
			} `json:"stock"`
		} `json:"node"`
	}
	e.data(t, "", `query($id: ID!) { node(id: $id) { ... on Variant { stock { available } } } }`, map[string]any{"id": gid.Encode("Variant", "CAP")}, &n)
	if n.Node.Stock.Available != 1 {
		t.Errorf("node: available %d, want 1", n.Node.Stock.Available)
	}
	if res := e.do(t, "", `{ node(id: "not-an-id!") { id } }`, nil); res.code() != apperr.InvalidInput {
		t.Errorf("malformed ID: %+v", res.Errors)
	}
	res := e.do(t, "", `query($r: [_Any!]!) { _entities(representations: $r) { ... on Variant { stock { sku } } } }`,
		map[string]any{"r": []map[string]any{{"__typename": "Variant", "id": gid.Encode("Product", "p1")}}})
	if res.code() != apperr.InvalidInput {
		t.Errorf("a Product ID as a Variant: %+v", res.Errors)
	}
}

// TestNodeBatch: a batch of node(id:) fields, as the gateway sends, is one
// store lookup per type, for node and for _entities.
func TestNodeBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for sku, n := range map[string]int{"MUG": 7, "CAP": 3, "BOOT-42": 1} {
		if res := e.do(t, e.admin, adjust, map[string]any{"sku": sku, "delta": n, "reason": "count"}); len(res.Errors) > 0 {
			t.Fatal(res.Errors)
		}
	}
	var resIDs []string
	for _, o := range []string{"o1", "o2", "o3"} {
		out, err := e.svc.Reserve(t.Context(), contract.ReserveStock{OrderID: o, Lines: []contract.Line{{SKU: "MUG", Quantity: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		resIDs = append(resIDs, gid.Encode("Reservation", out.Reservation.ID))
	}
	items := []string{gid.Encode("StockItem", "MUG"), gid.Encode("StockItem", "CAP"), gid.Encode("StockItem", "NEVER-STOCKED"), gid.Encode("StockItem", "BOOT-42")}
	ids := append(slices.Clone(items), resIDs...)
	ids = append(ids, gid.Encode("Reservation", "00000000-0000-0000-0000-000000000000"))

	var q strings.Builder
	q.WriteString("{")
	for i, id := range ids {
		fmt.Fprintf(&q, " n%d: node(id: %q) { id ... on StockItem { onHand } ... on Reservation { status } }", i, id)
	}
	q.WriteString(" }")
	items0, res0 := len(e.store.itemCalls()), len(e.store.reservationCalls())
	var d map[string]*struct {
		ID     string `json:"id"`
		OnHand int    `json:"onHand"`
		Status string `json:"status"`
	}
	e.data(t, e.admin, q.String(), nil, &d)
	for i, id := range ids {
		n := d[fmt.Sprintf("n%d", i)]
		missing := i == 2 || i == len(ids)-1
		if missing != (n == nil) || (n != nil && n.ID != id) {
			t.Errorf("node %d (%s): %+v", i, id, n)
		}
	}
	if n := d["n0"]; n == nil || n.OnHand != 7 {
		t.Errorf("MUG: %+v", n)
	}
	if n := d["n4"]; n == nil || n.Status != "ACTIVE" {
		t.Errorf("reservation: %+v", n)
	}
	if calls := e.store.itemCalls()[items0:]; len(calls) != 1 || len(calls[0]) != 4 {
		t.Errorf("stock item lookups %v, want 1 of 4 SKUs", calls)
	}
	if calls := e.store.reservationCalls()[res0:]; len(calls) != 1 || len(calls[0]) != 4 {
		t.Errorf("reservation lookups %v, want 1 of 4 IDs", calls)
	}

	// _entities: one lookup per type as well.
	reps := make([]map[string]any, len(ids))
	for i, id := range ids {
		typ, _, _ := gid.Decode(id)
		reps[i] = map[string]any{"__typename": typ, "id": id}
	}
	items0, res0 = len(e.store.itemCalls()), len(e.store.reservationCalls())
	var ents struct {
		Entities []*struct {
			ID string `json:"id"`
		} `json:"_entities"`
	}
	e.data(t, e.admin, `query($r: [_Any!]!) { _entities(representations: $r) { ... on StockItem { id } ... on Reservation { id } } }`,
		map[string]any{"r": reps}, &ents)
	for i, id := range ids {
		missing := i == 2 || i == len(ids)-1
		if got := ents.Entities[i]; missing != (got == nil) || (got != nil && got.ID != id) {
			t.Errorf("entity %d (%s): %+v", i, id, got)
		}
	}
	if calls := e.store.itemCalls()[items0:]; len(calls) != 1 {
		t.Errorf("stock item lookups %v, want 1", calls)
	}
	if calls := e.store.reservationCalls()[res0:]; len(calls) != 1 {
		t.Errorf("reservation lookups %v, want 1", calls)
	}

	// Still admin only.
	res := e.do(t, e.customer, q.String(), nil)
	if res.code() != apperr.Forbidden {
		t.Errorf("customer: %+v", res.Errors)
	}
}

func TestAdminReads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for sku, n := range map[string]int{"MUG": 7, "CAP": 3, "SHIRT-M": 1, "BOOT-42": 20} {
		if res := e.do(t, e.admin, adjust, map[string]any{"sku": sku, "delta": n, "reason": "count"}); len(res.Errors) > 0 {
			t.Fatal(res.Errors)
		}
	}
	if _, err := e.svc.Reserve(t.Context(), contract.ReserveStock{OrderID: "7f0c", Lines: []contract.Line{{SKU: "CAP", Quantity: 2}, {SKU: "MUG", Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}

	t.Run("stockItems pages and filters", func(t *testing.T) {
		const q = `query($after: String, $below: Int) { stockItems(first: 2, after: $after, lowStockBelow: $below) {
			edges { cursor node { sku available } } pageInfo { hasNextPage endCursor } } }`
		type page struct {
			StockItems struct {
				Edges []struct {
					Node struct {
						SKU       string `json:"sku"`
						Available int    `json:"available"`
					} `json:"node"`
				} `json:"edges"`
				PageInfo struct {
					HasNextPage bool    `json:"hasNextPage"`
					EndCursor   *string `json:"endCursor"`
				} `json:"pageInfo"`
			} `json:"stockItems"`
		}
		var all []string
		var after any
		for range 5 {
			var p page
			e.data(t, e.admin, q, map[string]any{"after": after}, &p)
			for _, ed := range p.StockItems.Edges {
				all = append(all, ed.Node.SKU)
			}
			if !p.StockItems.PageInfo.HasNextPage {
				break
			}
			after = *p.StockItems.PageInfo.EndCursor
		}
		if want := []string{"BOOT-42", "CAP", "MUG", "SHIRT-M"}; !slices.Equal(all, want) {
			t.Errorf("pages %v, want %v", all, want)
		}
		var low page
		e.data(t, e.admin, q, map[string]any{"below": 2}, &low)
		var got []string
		for _, ed := range low.StockItems.Edges {
			got = append(got, fmt.Sprintf("%s:%d", ed.Node.SKU, ed.Node.Available))
		}
		if want := []string{"CAP:1", "SHIRT-M:1"}; !slices.Equal(got, want) {
			t.Errorf("lowStockBelow 2: %v, want %v", got, want)
		}
		for _, bad := range []map[string]any{{"after": "garbage"}, {"below": -1}} {
			if res := e.do(t, e.admin, q, bad); res.code() != apperr.InvalidInput {
				t.Errorf("%v: %+v, want INVALID_INPUT", bad, res.Errors)
			}
		}
		if res := e.do(t, e.admin, `{ stockItems(first: 101) { edges { cursor } } }`, nil); res.code() != apperr.InvalidInput {
			t.Errorf("first 101: %+v", res.Errors)
		}
	})

	t.Run("reservation by order", func(t *testing.T) {
		const q = `query($o: ID!) { reservation(orderId: $o) { id order { id } lines { sku quantity } status shortages { sku } expiresAt } }`
		var d struct {
			Reservation *struct {
				ID    string `json:"id"`
				Order struct {
					ID string `json:"id"`
				} `json:"order"`
				Lines  []contract.Line `json:"lines"`
				Status string          `json:"status"`
			} `json:"reservation"`
		}
		e.data(t, e.admin, q, map[string]any{"o": gid.Encode("Order", "7f0c")}, &d)
		r := d.Reservation
		if r == nil || r.Status != "ACTIVE" || r.Order.ID != gid.Encode("Order", "7f0c") ||
			!slices.Equal(r.Lines, []contract.Line{{SKU: "CAP", Quantity: 2}, {SKU: "MUG", Quantity: 1}}) {
			t.Fatalf("reservation %+v", r)
		}
		// The same through node(id:).
		var n struct {
			Node struct {
				Status string `json:"status"`
			} `json:"node"`
		}
		e.data(t, e.admin, `query($id: ID!) { node(id: $id) { ... on Reservation { status } } }`, map[string]any{"id": r.ID}, &n)
		if n.Node.Status != "ACTIVE" {
			t.Errorf("node: %+v", n)
		}
		d.Reservation = nil
		e.data(t, e.admin, q, map[string]any{"o": gid.Encode("Order", "unknown")}, &d)
		if d.Reservation != nil {
			t.Errorf("unknown order: %+v", d.Reservation)
		}
		if res := e.do(t, e.admin, q, map[string]any{"o": gid.Encode("Product", "7f0c")}); res.code() != apperr.InvalidInput {
			t.Errorf("a Product ID: %+v", res.Errors)
		}
	})

	t.Run("admin only", func(t *testing.T) {
		queries := []string{
			`{ stockItem(sku: "MUG") { onHand } }`,
			`{ stockItems { edges { cursor } } }`,
			fmt.Sprintf(`{ reservation(orderId: %q) { status } }`, gid.Encode("Order", "7f0c")),
			fmt.Sprintf(`{ node(id: %q) { ... on StockItem { onHand } } }`, gid.Encode("StockItem", "MUG")),
		}
		for _, q := range queries {
			if res := e.do(t, e.customer, q, nil); res.code() != apperr.Forbidden {
				t.Errorf("customer %s: %+v", q, res.Errors)
			}
			if res := e.do(t, "", q, nil); res.code() != apperr.Unauthenticated {
				t.Errorf("anonymous %s: %+v", q, res.Errors)
			}
		}
	})

	t.Run("never stocked", func(t *testing.T) {
		if it := e.item(t, "NEVER-STOCKED"); it != nil {
			t.Errorf("stockItem %+v, want null", it)
		}
	})
}

func TestLedgerPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 1; i <= 5; i++ {
		for _, sku := range []string{"MUG", "CAP"} {
			if res := e.do(t, e.admin, adjust, map[string]any{"sku": sku, "delta": i, "reason": fmt.Sprintf("delivery %d", i)}); len(res.Errors) > 0 {
				t.Fatal(res.Errors)
			}
		}
	}
	const q = `query($after: String) { stockItems { edges { node { sku ledger(first: 2, after: $after) {
		edges { cursor node { delta } } pageInfo { hasNextPage endCursor } } } } } }`
	var d struct {
		StockItems struct {
			Edges []struct {
				Node struct {
					SKU    string `json:"sku"`
					Ledger struct {
						Edges []struct {
							Node struct {
								Delta int `json:"delta"`
							} `json:"node"`
						} `json:"edges"`
						PageInfo struct {
							HasNextPage bool   `json:"hasNextPage"`
							EndCursor   string `json:"endCursor"`
						} `json:"pageInfo"`
					} `json:"ledger"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"stockItems"`
	}
	e.data(t, e.admin, q, nil, &d)
	for _, ed := range d.StockItems.Edges {
		l := ed.Node.Ledger
		if len(l.Edges) != 2 || l.Edges[0].Node.Delta != 5 || l.Edges[1].Node.Delta != 4 || !l.PageInfo.HasNextPage {
			t.Errorf("%s ledger page %+v", ed.Node.SKU, l)
		}
	}
	// The next page of MUG's ledger.
	var item struct {
		StockItem struct {
			Ledger struct {
				Edges []struct {
					Node struct {
						Delta int `json:"delta"`
					} `json:"node"`
				} `json:"edges"`
			} `json:"ledger"`
		} `json:"stockItem"`
	}
	e.data(t, e.admin, `query($after: String) { stockItem(sku: "MUG") { ledger(first: 10, after: $after) { edges { node { delta } } } } }`,
		map[string]any{"after": d.StockItems.Edges[1].Node.Ledger.PageInfo.EndCursor}, &item)
	var deltas []int
	for _, ed := range item.StockItem.Ledger.Edges {
		deltas = append(deltas, ed.Node.Delta)
	}
	if !slices.Equal(deltas, []int{3, 2, 1}) {
		t.Errorf("next page deltas %v, want [3 2 1]", deltas)
	}
}
