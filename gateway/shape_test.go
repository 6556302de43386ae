package gateway_test

import (
	"strings"
	"testing"
)

func TestResponseShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p1 := productID("p1")
	tests := []struct {
		name, query, want string
		vars              map[string]any
	}{
		{
			name:  "fields in the order selected",
			query: `{ zz: product(id: "` + p1 + `") { name id } aa: reviews { stars } }`,
			want:  `{"zz":{"name":"Phone","id":"` + p1 + `"},"aa":[{"stars":5},{"stars":3},{"stars":4}]}`,
		},
		{
			name:  "no fields nobody selected",
			query: `{ products { reviews { stars } } }`,
			want:  `{"products":[{"reviews":[{"stars":5},{"stars":3}]},{"reviews":[{"stars":4}]},{"reviews":[]}]}`,
		},
		{
			name:  "id and __typename under node",
			query: `{ node(id: "` + p1 + `") { id __typename ... on Product { name } } }`,
			want:  `{"node":{"id":"` + p1 + `","__typename":"Product","name":"Phone"}}`,
		},
		{
			name:  "fragments and directives",
			query: `query($full: Boolean!) { product(id: "` + p1 + `") { ...P name @skip(if: $full) } } fragment P on Product { id @include(if: $full) price { formatted } }`,
			vars:  map[string]any{"full": false},
			want:  `{"product":{"price":{"formatted":"USD 499.00"},"name":"Phone"}}`,
		},
		{
			name:  "__typename",
			query: `{ __typename product(id: "` + p1 + `") { __typename } }`,
			want:  `{"__typename":"Query","product":{"__typename":"Product"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := e.query(t, tt.query, tt.vars)
			if len(res.Errors) > 0 || string(res.Data) != tt.want {
				t.Errorf("got  %s\nwant %s", res.Raw, tt.want)
			}
		})
	}
}

func TestFailedServiceNullsNearestNullableParent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.reviews.Stop()
	tests := []struct{ name, query, want string }{
		// Product.reviews is non-null, so the nullable product becomes null.
		{"nullable parent", `{ product(id: "` + productID("p1") + `") { name reviews { body } } }`, `{"product":null}`},
		// products is [Product!]!: nothing nullable above it but data.
		{"non-null all the way up", `{ products { name reviews { body } } }`, `null`},
		{"other root field intact", `{ product(id: "` + productID("p2") + `") { name reviews { body } } caller { userId } }`,
			`{"product":null,"caller":{"userId":null}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := e.query(t, tt.query, nil)
			if string(res.Data) != tt.want || len(res.Errors) != 1 || res.code(0) != "UNAVAILABLE" {
				t.Errorf("got  %s\nwant data %s with one UNAVAILABLE error", res.Raw, tt.want)
			}
		})
	}
}

func TestMutationFieldsRunInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p1 := productID("p1")
	res := e.query(t, `mutation($p: ID!) {
		first: renameProduct(id: $p, name: "First") { name }
		review: addReview(productId: $p, body: "Nice", stars: 4) { stars product { name } }
		second: renameProduct(id: $p, name: "Second") { name }
	}`, map[string]any{"p": p1})
	// Each field is resolved completely before the next one runs: the
	// review's product is read before the second rename.
	want := `{"first":{"name":"First"},"review":{"stars":4,"product":{"name":"First"}},"second":{"name":"Second"}}`
	if len(res.Errors) > 0 || string(res.Data) != want {
		t.Fatalf("got  %s\nwant %s", res.Raw, want)
	}
	cat, rev := e.catalog.Requests(), e.reviews.Requests()
	var mutations []uint64
	for _, r := range cat {
		if strings.Contains(r.Body, "renameProduct") {
			mutations = append(mutations, r.Seq)
		}
	}
	var review uint64
	for _, r := range rev {
		if strings.Contains(r.Body, "addReview") {
			review = r.Seq
		}
	}
	if len(mutations) != 2 || review == 0 || !(mutations[0] < review && review < mutations[1]) {
		t.Errorf("catalog mutations at %v, review at %d: want first, review, second, one at a time", mutations, review)
	}
}
