package gateway_test

import (
	"testing"
)

// TestNodeIDAndTypenameInFragments: nautilus drops id and __typename under
// its node(id:) field; the gateway returns them wherever they are selected.
func TestNodeIDAndTypenameInFragments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p1, r1 := productID("p1"), "UmV2aWV3OnIx" // Review:r1
	tests := []struct{ name, query, want string }{
		{"inline fragment",
			`{ node(id: "` + p1 + `") { ... on Product { id __typename name } } }`,
			`{"node":{"id":"` + p1 + `","__typename":"Product","name":"Phone"}}`},
		{"named fragment",
			`{ node(id: "` + p1 + `") { ...P } } fragment P on Product { __typename id name reviews { stars } }`,
			`{"node":{"__typename":"Product","id":"` + p1 + `","name":"Phone","reviews":[{"stars":5},{"stars":3}]}}`},
		{"fragment on the interface",
			`{ node(id: "` + r1 + `") { ...N ... on Review { body } } } fragment N on Node { id __typename }`,
			`{"node":{"id":"` + r1 + `","__typename":"Review","body":"Great phone"}}`},
		{"aliased",
			`{ n: node(id: "` + p1 + `") { key: id kind: __typename ... on Product { name } } }`,
			`{"n":{"key":"` + p1 + `","kind":"Product","name":"Phone"}}`},
		{"unknown object",
			`{ node(id: "UHJvZHVjdDpub3BlOg") { id ... on Product { name } } }`,
			`{"node":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := e.query(t, tt.query, nil)
			if len(res.Errors) > 0 || string(res.Data) != tt.want {
				t.Errorf("got  %s\nwant %s", res.Raw, tt.want)
			}
		})
	}
}

// TestErrorsCarryPathLocationsAndCode: every error a service reports has
// message, path (of the client's query), locations (in the client's query
// text) and extensions.code.
func TestErrorsCarryPathLocationsAndCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, query string
		path        []any
		line, col   int
	}{
		{"root field", "{ products { name }\n  oops: failing(code: \"NOT_FOUND\") }", []any{"oops"}, 2, 3},
		// The same operation, formatted differently, is served from the
		// plan cache: its locations are still those of this text.
		{"cached, other formatting", "{\n\n products { name } oops: failing(code: \"NOT_FOUND\") }", []any{"oops"}, 3, 20},
		{"mutation", "mutation {\n  renameProduct(id: \"" + productID("p1") + "\", name: \"\") { name } }", []any{"renameProduct"}, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.query(t, tt.query, nil)
			if len(res.Errors) != 1 {
				t.Fatalf("got %s", res.Raw)
			}
			got := res.Errors[0]
			if got.Message == "" || res.code(0) == nil || !equalPath(got.Path, tt.path) ||
				len(got.Locations) != 1 || got.Locations[0].Line != tt.line || got.Locations[0].Column != tt.col {
				t.Errorf("error %+v, want a message and a code at %v, %d:%d", got, tt.path, tt.line, tt.col)
			}
		})
	}
}
