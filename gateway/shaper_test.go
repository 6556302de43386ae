package gateway

import (
	"encoding/json"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shopgraph/shopgraph/internal/gid"
)

func TestShaper(t *testing.T) {
	t.Parallel()
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `
		interface Node { id: ID! }
		type Book implements Node { id: ID! title: String! pages: Int }
		type Film implements Node { id: ID! title: String! minutes: Int! }
		union Result = Book | Film
		type Shelf { name: String books: [Book!]! }
		type Query {
			node(id: ID!): Node
			search: [Result!]
			shelf: Shelf
			shelves: [Shelf!]!
		}
	`})
	book := gid.Encode("Book", "1")
	tests := []struct {
		name, query, data, want string
		vars                    map[string]any
		nulled                  string // the first non-null violation
	}{
		{
			name:  "order of selection, unselected fields dropped",
			query: `{ shelf { books { title id } name } }`,
			data:  `{"shelf": {"name": "A", "extra": 1, "books": [{"id": "x", "title": "T", "pages": 3}]}}`,
			want:  `{"shelf":{"books":[{"title":"T","id":"x"}],"name":"A"}}`,
		},
		{
			name:  "missing nullable field is null",
			query: `{ shelf { name books { pages } } }`,
			data:  `{"shelf": {"books": [{}]}}`,
			want:  `{"shelf":{"name":null,"books":[{"pages":null}]}}`,
		},
		{
			name:   "missing non-null field nulls the nearest nullable parent",
			query:  `{ shelf { name books { title } } }`,
			data:   `{"shelf": {"name": "A", "books": [{"title": "T"}, {}]}}`,
			want:   `{"shelf":null}`,
			nulled: "shelf.books[1].title",
		},
		{
			name:   "up to data",
			query:  `{ shelves { books { title } } }`,
			data:   `{"shelves": [{"books": [{}]}]}`,
			want:   `null`,
			nulled: "shelves[0].books[0].title",
		},
		{
			name:  "union by __typename",
			query: `{ search { __typename ... on Book { title } ... on Film { minutes } } }`,
			data:  `{"search": [{"__typename": "Film", "minutes": 90}, {"__typename": "Book", "title": "T"}]}`,
			want:  `{"search":[{"__typename":"Film","minutes":90},{"__typename":"Book","title":"T"}]}`,
		},
		{
			name:  "union without __typename keeps what was sent",
			query: `{ search { ... on Book { title } ... on Film { minutes } } }`,
			data:  `{"search": [{"minutes": 90}, {"title": "T"}]}`,
			want:  `{"search":[{"minutes":90},{"title":"T"}]}`,
		},
		{
			name:  "node: id and __typename from the argument",
			query: `query($id: ID!) { node(id: $id) { id __typename ... on Book { title } ... on Film { minutes } } }`,
			vars:  map[string]any{"id": book},
			data:  `{"node": {"title": "T"}}`,
			want:  `{"node":{"id":"` + book + `","__typename":"Book","title":"T"}}`,
		},
		{
			name:  "skip, include and merged fields",
			query: `query($no: Boolean!) { shelf { books { title @skip(if: $no) } ...S books { pages } } } fragment S on Shelf { name @include(if: $no) }`,
			vars:  map[string]any{"no": false},
			data:  `{"shelf": {"name": "A", "books": [{"title": "T", "pages": 1}]}}`,
			want:  `{"shelf":{"books":[{"title":"T","pages":1}]}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, errs := gqlparser.LoadQueryWithRules(schema, tt.query, nil)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			var data map[string]any
			if err := json.Unmarshal([]byte(tt.data), &data); err != nil {
				t.Fatal(err)
			}
			s := &shaper{schema: schema, fragments: doc.Fragments, vars: tt.vars}
			out := s.root(data, doc.Operations[0])
			got := "null"
			if out != nil {
				b, err := json.Marshal(out)
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
			}
			first := ""
			if len(s.nulled) > 0 {
				first = s.nulled[0].String()
			}
			if got != tt.want || first != tt.nulled {
				t.Errorf("got  %s (nulled %v)\nwant %s (nulled %q first)", got, s.nulled, tt.want, tt.nulled)
			}
		})
	}
}
