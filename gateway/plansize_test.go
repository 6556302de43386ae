package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	nautilus "github.com/nautilus/gateway"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/shopgraph/shopgraph/gateway/internal/fixture"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// TestPlanStepsBoundsNautilusPlans checks the estimate against the plans
// nautilus makes: never below, and not far above.
func TestPlanStepsBoundsNautilusPlans(t *testing.T) {
	t.Parallel()
	_, v := testenv.SigningKey(t)
	c := fixture.Catalog(t, v).Start(t)
	r := fixture.Reviews(t, v).Start(t)
	g, err := New(context.Background(), Config{
		Services: []Service{{Name: "catalog", URL: c.URL}, {Name: "reviews", URL: r.URL}},
		Verifier: v, StartupTimeout: 5 * time.Second, Log: testenv.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, query string
		loose       bool // only never below: chains of spreads are over-counted
	}{
		{"one service", `{ products { name price { amount } } }`, false},
		{"two services", `{ products { name reviews { body } } }`, false},
		{"back and forth", `{ reviews { product { name reviews { stars product { name } } } } }`, false},
		{"two roots", `{ products { name } reviews { body } }`, false},
		{"aliases", `{ a: products { reviews { id } } b: products { reviews { id } } c: product(id: "x") { reviews { id } } }`, false},
		{"fragment", `{ products { ...P } } fragment P on Product { name reviews { body } }`, false},
		{"fragments", `{ products { ...P ...Q } } fragment P on Product { name reviews { body } } fragment Q on Product { price { amount } reviews { stars } }`, false},
		{"nested fragments", `{ reviews { ...R } } fragment R on Review { body product { ...P } } fragment P on Product { name reviews { id } }`, false},
		{"inline fragment", `{ products { ... on Product { name reviews { body } } } }`, false},
		{"node", `{ node(id: "x") { id ... on Product { name reviews { id } } ... on Review { body } } }`, false},
		{"introspection", `{ __schema { types { name } } }`, false},
		{"__typename at the root", `{ __typename products { name } }`, false},
		{"__typename chain", chainOf(10, "Query", ""), false},
		{"__typename chain under node", `{ node(id: "x") { id ...F0 } }` + chainOf(10, "Product", "name"), true},
		{"__typename chain under a field", `{ products { ...F0 } }` + chainOf(10, "Product", "reviews { id }"), true},
		{"mutation", `mutation { addReview(productId: "x", body: "y", stars: 1) { product { name } } renameProduct(id: "x", name: "y") { name } }`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := parser.ParseQuery(&ast.Source{Input: tt.query})
			if err != nil {
				t.Fatal(err)
			}
			if errs := validator.ValidateWithRules(g.current().schema, doc, nil); len(errs) > 0 {
				t.Fatal(errs)
			}
			op := doc.Operations[0]
			estimate := 1 + g.current().locations.planSteps(doc, op.SelectionSet, rootType(g.current().schema, op).Name, "")
			plans, err := g.current().nautilus.GetPlans(&nautilus.RequestContext{Context: context.Background(), Query: tt.query})
			if err != nil {
				t.Fatal(err)
			}
			actual := countSteps(plans[0].RootStep)
			if estimate < actual || (!tt.loose && estimate > actual+2) {
				t.Errorf("estimated %d steps, nautilus planned %d", estimate, actual)
			}
		})
	}
}

// chainOf is fragments F0 to F<n> on typ, each selecting __typename and
// spreading the next; the last selects __typename and last.
func chainOf(n int, typ, last string) string {
	var b strings.Builder
	if typ == "Query" {
		b.WriteString("query { ...F0 }\n")
	}
	for i := range n {
		fmt.Fprintf(&b, "fragment F%d on %s { __typename ...F%d }\n", i, typ, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on %s { __typename %s }\n", n, typ, last)
	return b.String()
}

func countSteps(s *nautilus.QueryPlanStep) int {
	n := 1
	for _, c := range s.Then {
		n += countSteps(c)
	}
	return n
}
