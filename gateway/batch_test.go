package gateway_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestBatchingBoundsUpstreamRequests: however long the list, a request makes
// at most one request per service per level of its plan: the products
// (catalog), the reviews of all of them (reviews), then the products of
// all those reviews (catalog again).
func TestBatchingBoundsUpstreamRequests(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 10, 50, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			res := e.query(t, `query($n: Int!) { manyProducts(count: $n) { name reviews { body product { name price { amount } } } } }`,
				map[string]any{"n": n})
			var data struct {
				ManyProducts []struct {
					Name    string
					Reviews []struct {
						Body    string
						Product struct {
							Name  string
							Price struct{ Amount int }
						}
					}
				}
			}
			res.dataAs(t, &data)
			if len(res.Errors) > 0 || len(data.ManyProducts) != n {
				t.Fatalf("got %.300s", res.Raw)
			}
			for i, p := range data.ManyProducts {
				k := i + 1
				if p.Name != fmt.Sprintf("Item %d", k) || len(p.Reviews) != 1 ||
					p.Reviews[0].Body != fmt.Sprintf("Review of item %d", k) ||
					p.Reviews[0].Product.Name != p.Name || p.Reviews[0].Product.Price.Amount != 100*k {
					t.Fatalf("product %d = %+v", k, p)
				}
			}
			cat, rev := e.catalog.Requests(), e.reviews.Requests()
			if len(cat) != 2 || len(rev) != 1 {
				t.Fatalf("catalog got %d requests, reviews %d; want 2 and 1 whatever the list's length", len(cat), len(rev))
			}
			if got := strings.Count(rev[0].Body, ": node(id: $"); got != n {
				t.Errorf("the reviews batch has %d node fields, want %d", got, n)
			}
			if got := strings.Count(cat[1].Body, ": node(id: $"); got != n {
				t.Errorf("the catalog's batch has %d node fields, want %d", got, n)
			}
		})
	}
}

// TestBatchFetchesAnObjectOnce: three reviews of two products make one
// catalog batch of two node fields, and each review gets its product.
func TestBatchFetchesAnObjectOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.query(t, `{ reviews { stars product { name } } }`, nil)
	want := `{"reviews":[{"stars":5,"product":{"name":"Phone"}},{"stars":3,"product":{"name":"Phone"}},{"stars":4,"product":{"name":"Laptop"}}]}`
	if len(res.Errors) > 0 || string(res.Data) != want {
		t.Fatalf("got  %s\nwant %s", res.Raw, want)
	}
	cat := e.catalog.Requests()
	if len(cat) != 1 || strings.Count(cat[0].Body, ": node(id: $") != 2 {
		t.Errorf("catalog requests %+v, want one batch of two node fields", cat)
	}
}

// TestBatchedFetchErrorsAtClientPaths: a service reports the errors of a
// batch under its aliases; the client sees them at its own paths, with the
// locations of its own query.
func TestBatchedFetchErrorsAtClientPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hidden, shown := productID("g901"), productID("g1")
	tests := []struct {
		name, query string
		vars        map[string]any
		data        string
		path        []any
		line, col   int
		first       int // the number of the error to check; the others are like it
	}{
		{
			name:  "nullable parent",
			query: "query($a: ID!, $b: ID!) {\n  a: product(id: $a) { name reviews { stars } }\n  b: product(id: $b) { name\n    reviews { stars } }\n}",
			vars:  map[string]any{"a": shown, "b": hidden},
			data:  `{"a":{"name":"Item 1","reviews":[{"stars":2}]},"b":null}`,
			path:  []any{"b", "reviews"}, line: 4, col: 5,
		},
		{
			name:  "in a list",
			query: "{ manyProducts(count: 901) {\n name\n reviews { body } } }",
			data:  `null`, // reviews and every parent up to data are non-null
			path:  []any{"manyProducts", 900, "reviews"}, line: 3, col: 2,
			first: 1, // items 900 and 901
		},
		{
			name:  "in a fragment",
			query: "query($b: ID!) { b: product(id: $b) { ...R } }\nfragment R on Product { name\n  hidden: reviews { stars } }",
			vars:  map[string]any{"b": hidden},
			data:  `{"b":null}`,
			path:  []any{"b", "hidden"}, line: 3, col: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := e.query(t, tt.query, tt.vars)
			if string(res.Data) != tt.data || len(res.Errors) != tt.first+1 {
				t.Fatalf("got %s\nwant data %s and %d errors", res.Raw, tt.data, tt.first+1)
			}
			got := res.Errors[tt.first]
			if got.Message != "the reviews of item 901 are hidden" || res.code(tt.first) != "FORBIDDEN" || !equalPath(got.Path, tt.path) {
				t.Errorf("error %+v, want FORBIDDEN at %v", got, tt.path)
			}
			if len(got.Locations) != 1 || got.Locations[0].Line != tt.line || got.Locations[0].Column != tt.col {
				t.Errorf("locations %+v, want %d:%d", got.Locations, tt.line, tt.col)
			}
		})
	}
}
