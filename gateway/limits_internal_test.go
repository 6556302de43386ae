package gateway

import (
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

func TestCost(t *testing.T) {
	t.Parallel()
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `
		type Query { items(first: Int, last: Int): ItemConnection! tags: [String!]! item: Item }
		type ItemConnection { edges: [Edge!]! nodes: [Item!]! total: Int! }
		type Edge { node: Item! cursor: String! }
		type Item { name: String! tags: [String!]! children(first: Int): [Item!]! }`})
	tests := []struct {
		name, query string
		vars        map[string]any
		want        float64
	}{
		{"scalar list", `{ tags }`, nil, 1},
		{"connection: edges counted by first", `{ items(first: 5) { edges { node { name } } } }`, nil, 1 + 5*(1+1*(1+1))},
		{"first from a variable", `query($n: Int) { items(first: $n) { total nodes { name tags } } }`, map[string]any{"n": float64(20)}, 1 + 20*(1+1+2)},
		{"last", `{ items(last: 3) { nodes { name } } }`, nil, 1 + 3*2},
		{"unbounded list", `{ item { children { children(first: 2) { name } } } }`, nil, 1 + (1 + 10*(1+2*1))},
		{"negative first", `{ items(first: -4) { total } }`, nil, 1},
		{"fragments", `{ item { ...F children { ...F } } } fragment F on Item { name }`, nil, 1 + 1 + (1 + 10*1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := gqlparser.MustLoadQuery(schema, tt.query)
			c := &coster{doc: doc, vars: tt.vars, memo: map[costKey]float64{}}
			if got := c.cost(doc.Operations[0].SelectionSet, false); got != tt.want {
				t.Errorf("cost %v, want %v", got, tt.want)
			}
		})
	}
}
