package gateway

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/gateway/internal/fixture"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

func TestPlanKey(t *testing.T) {
	t.Parallel()
	same := []string{
		`{ products { name } }`,
		"{\n\tproducts {\n\t\tname # the name\n\t}\n}",
		`{products{name}}`,
		`{ products { name, } }`,
	}
	want, ok := planKey(same[0], "")
	if !ok {
		t.Fatal("no key")
	}
	for _, q := range same[1:] {
		if got, _ := planKey(q, ""); got != want {
			t.Errorf("%q: key %q, want %q", q, got, want)
		}
	}
	different := []struct{ query, op string }{
		{`{ products { name } }`, "Other"},
		{`{ products { id } }`, ""},
		{`{ product(id: "a b") { name } }`, ""},
		{`{ product(id: "ab") { name } }`, ""},
		{`query Q { products { name } }`, ""},
	}
	seen := map[string]string{want: same[0]}
	for _, d := range different {
		k, _ := planKey(d.query, d.op)
		if prev, dup := seen[k]; dup {
			t.Errorf("%q (%q) has the key of %q", d.query, d.op, prev)
		}
		seen[k] = d.query
	}
	if _, ok := planKey(`{ product(id: "unterminated) }`, ""); ok {
		t.Error("a query that does not lex has a key")
	}
}

// TestPlanCache: an operation is parsed, validated and planned once, whatever
// its formatting; the cache is bounded.
func TestPlanCache(t *testing.T) {
	t.Parallel()
	_, v := testenv.SigningKey(t)
	c := fixture.Catalog(t, v).Start(t)
	r := fixture.Reviews(t, v).Start(t)
	g, err := New(context.Background(), Config{
		Services: []Service{{Name: "catalog", URL: c.URL}, {Name: "reviews", URL: r.URL}},
		Verifier: v, StartupTimeout: 5 * time.Second, Log: testenv.Logger(), PlanCacheSize: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	snap := g.current()
	prep := func(q string) *operation {
		t.Helper()
		op, _, errs := g.prepare(snap, params{Query: q}, http.MethodPost)
		if errs != nil {
			t.Fatalf("%s: %v", q, errs)
		}
		return op
	}
	first := prep(`{ products { name reviews { body } } }`)
	if again := prep("{\n  products { name\n reviews { body } }\n}"); again != first {
		t.Error("the same operation, formatted differently, was prepared again")
	}
	if snap.plans.len() != 1 {
		t.Errorf("%d operations cached, want 1", snap.plans.len())
	}
	prep(`{ reviews { body } }`)
	prep(`{ products { id } }`)
	if n := snap.plans.len(); n != 2 {
		t.Errorf("%d operations cached, want the bound, 2", n)
	}
	if again := prep(`{ products { name reviews { body } } }`); again == first {
		t.Error("the least recently used operation was not evicted")
	}
	if _, _, errs := g.prepare(snap, params{Query: `{ products { colour } }`}, http.MethodPost); errs == nil {
		t.Fatal("an invalid operation was prepared")
	}
	if n := snap.plans.len(); n != 2 {
		t.Errorf("%d operations cached after an invalid one, want 2", n)
	}
}
