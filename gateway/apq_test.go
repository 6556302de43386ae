package gateway_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/shopgraph/shopgraph/gateway"
)

func sha(q string) string {
	s := sha256.Sum256([]byte(q))
	return hex.EncodeToString(s[:])
}

// persistedBody is a POST body with a persisted-query extension; an empty
// query is left out.
func persistedBody(query, hash string) string {
	body := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
	if query != "" {
		body["query"] = query
	}
	b, _ := json.Marshal(body)
	return string(b)
}

func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := `{ product(id: "` + productID("p1") + `") { name } }`
	b := `{ product(id: "` + productID("p2") + `") { name } }`
	aData, bData := `{"product":{"name":"Phone"}}`, `{"product":{"name":"Laptop"}}`

	notFound := func(t *testing.T, res result) {
		t.Helper()
		if res.Status != 200 || len(res.Errors) != 1 || res.code(0) != "PERSISTED_QUERY_NOT_FOUND" ||
			res.Errors[0].Message != "PersistedQueryNotFound" || res.HasData {
			t.Fatalf("got %d %s, want PERSISTED_QUERY_NOT_FOUND", res.Status, res.Raw)
		}
	}
	t.Run("unknown hash", func(t *testing.T) {
		notFound(t, e.post(t, persistedBody("", sha("{ products { name } }"))))
	})
	t.Run("register, then hit over POST and GET", func(t *testing.T) {
		if res := e.post(t, persistedBody(a, sha(a))); string(res.Data) != aData {
			t.Fatalf("register: %s", res.Raw)
		}
		if res := e.post(t, persistedBody("", sha(a))); string(res.Data) != aData {
			t.Fatalf("hit over POST: %s", res.Raw)
		}
		ext := `{"persistedQuery":{"version":1,"sha256Hash":"` + sha(a) + `"}}`
		if res := e.get(t, url.Values{"extensions": {ext}}); string(res.Data) != aData {
			t.Fatalf("hit over GET: %s", res.Raw)
		}
	})
	t.Run("mismatch caches nothing", func(t *testing.T) {
		h := sha("{ reviews { body } }")
		res := e.post(t, persistedBody(b, h))
		if res.Status != 400 || res.code(0) != "BAD_REQUEST" || res.HasData {
			t.Fatalf("query with another query's hash: %d %s", res.Status, res.Raw)
		}
		notFound(t, e.post(t, persistedBody("", h)))
	})
	t.Run("poisoning", func(t *testing.T) {
		// Register A under its hash H, then send B with H: B must never
		// get A's result (nautilus's own APQ cache returns it).
		h := sha(a)
		if res := e.post(t, persistedBody(a, h)); string(res.Data) != aData {
			t.Fatalf("register A: %s", res.Raw)
		}
		res := e.post(t, persistedBody(b, h))
		if res.HasData || res.code(0) != "BAD_REQUEST" {
			t.Fatalf("B sent with A's hash: %s", res.Raw)
		}
		if res := e.post(t, persistedBody(b, sha(b))); string(res.Data) != bData {
			t.Fatalf("B with its own hash: %s", res.Raw)
		}
		if res := e.post(t, persistedBody("", h)); string(res.Data) != aData {
			t.Fatalf("A's hash after all that: %s", res.Raw)
		}
	})
	t.Run("invalid query not stored", func(t *testing.T) {
		bad := `{ products { colour } }`
		if res := e.post(t, persistedBody(bad, sha(bad))); res.code(0) != "GRAPHQL_VALIDATION_FAILED" {
			t.Fatalf("invalid query: %s", res.Raw)
		}
		notFound(t, e.post(t, persistedBody("", sha(bad))))
	})
	t.Run("no mutation over GET", func(t *testing.T) {
		// A persisted mutation is still a mutation: GET (which a cross-site
		// page can make a browser send) must not run it.
		m := `mutation { renameProduct(id: "` + productID("p3") + `", name: "Cup") { name } }`
		if res := e.post(t, persistedBody(m, sha(m))); len(res.Errors) > 0 {
			t.Fatalf("register: %s", res.Raw)
		}
		ext := `{"persistedQuery":{"version":1,"sha256Hash":"` + sha(m) + `"}}`
		res := e.get(t, url.Values{"extensions": {ext}})
		if res.Status != 405 || res.code(0) != "METHOD_NOT_ALLOWED" || res.Header.Get("Allow") != "POST" {
			t.Fatalf("GET of a persisted mutation: %d %s", res.Status, res.Raw)
		}
	})
	t.Run("bad extension", func(t *testing.T) {
		res := e.post(t, `{"extensions":{"persistedQuery":{"version":2,"sha256Hash":"`+sha(a)+`"}}}`)
		if res.Status != 400 || res.code(0) != "BAD_REQUEST" {
			t.Fatalf("version 2: %s", res.Raw)
		}
	})
}

func TestPersistedQueriesAreBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *gateway.Config) { c.APQCacheSize = 2 })
	qs := []string{`{ products { name } }`, `{ reviews { body } }`, `{ products { id } }`}
	for _, q := range qs {
		if res := e.post(t, persistedBody(q, sha(q))); len(res.Errors) > 0 {
			t.Fatalf("register %s: %s", q, res.Raw)
		}
	}
	if res := e.post(t, persistedBody("", sha(qs[0]))); res.code(0) != "PERSISTED_QUERY_NOT_FOUND" {
		t.Errorf("the oldest of three in a store of two: %s", res.Raw)
	}
	for _, q := range qs[1:] {
		if res := e.post(t, persistedBody("", sha(q))); len(res.Errors) > 0 {
			t.Errorf("%s: %s", q, res.Raw)
		}
	}
}
