package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/gateway"
	"github.com/shopgraph/shopgraph/gateway/internal/fixture"
)

// eventually waits until cond holds, failing the test after a generous
// while (no assertion on how soon).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func polling(every time.Duration) options {
	return func(c *gateway.Config) { c.SchemaPollInterval = every }
}

const priceQuery = `{ products { name price { amount } } }`

func (e *env) passes(t *testing.T, query string) bool {
	t.Helper()
	res := e.query(t, query, nil)
	return res.Status == 200 && len(res.Errors) == 0
}

func (e *env) refused(t *testing.T, query string) bool {
	t.Helper()
	return e.query(t, query, nil).code(0) == "GRAPHQL_VALIDATION_FAILED"
}

// TestSchemaReload: a service redeployed with a changed schema is served
// without a restart, and operations planned on the old schema are planned
// again.
func TestSchemaReload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, polling(30*time.Millisecond))
	if !e.passes(t, priceQuery) {
		t.Fatal("the price cannot be queried at first")
	}
	// Version 2 of the catalog drops Product.price: the operation above,
	// in the plan cache, must not be served from it.
	e.catalog.SetSchema(fixture.HideField("Product", "price"))
	eventually(t, "Product.price gone", func() bool { return e.refused(t, priceQuery) })
	// Version 3 has it again.
	e.catalog.SetSchema()
	eventually(t, "Product.price back", func() bool { return e.passes(t, priceQuery) })
	if !strings.Contains(e.logs.String(), `"msg":"schema reloaded","services":"catalog"`) {
		t.Errorf("the reloads were not logged: %s", e.logs.String())
	}
}

// TestInFlightRequestFinishesOnItsSchema: a request that started before a
// reload is answered on the schema it started with.
func TestInFlightRequestFinishesOnItsSchema(t *testing.T) {
	t.Parallel()
	e := newEnv(t, polling(30*time.Millisecond))
	release := e.reviews.Hold(t, func(body string) bool { return strings.Contains(body, "node(id:") })
	done := make(chan result, 1)
	go func() { done <- e.query(t, `{ products { price { amount } reviews { stars } } }`, nil) }()
	eventually(t, "the request reaching the reviews", func() bool { return len(e.reviews.Requests()) > 0 })

	e.catalog.SetSchema(fixture.HideField("Product", "price"))
	eventually(t, "the new schema", func() bool { return e.refused(t, priceQuery) })
	release()
	res := <-done
	want := `{"products":[{"price":{"amount":49900},"reviews":[{"stars":5},{"stars":3}]},{"price":{"amount":129900},"reviews":[{"stars":4}]},{"price":{"amount":1250},"reviews":[]}]}`
	if len(res.Errors) > 0 || string(res.Data) != want {
		t.Errorf("in-flight request: %s\nwant %s", res.Raw, want)
	}
}

type readyState struct {
	Status   string
	Services []struct{ Name, Status, Reason string }
}

func (e *env) readyz(t *testing.T) (int, readyState) {
	t.Helper()
	res, err := http.Get(e.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r readyState
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, r
}

// TestRejectedSchemaKeepsTheLastGoodOne: a new schema that does not merge
// leaves the last good one served, and /readyz says which service and why.
func TestRejectedSchemaKeepsTheLastGoodOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t, polling(30*time.Millisecond))
	// The reviews service declares Product.id as ID!: they cannot merge.
	e.catalog.SetSchema(fixture.RetypeField("Product", "id", "String"))
	var state readyState
	var status int
	eventually(t, "/readyz reporting the rejected schema", func() bool {
		status, state = e.readyz(t)
		return state.Status == "degraded"
	})
	if status != http.StatusOK || len(state.Services) != 2 {
		t.Fatalf("/readyz %d %+v", status, state)
	}
	for _, s := range state.Services {
		switch s.Name {
		case "catalog":
			if s.Status != "schema_rejected" || !strings.Contains(s.Reason, "Product") || !strings.Contains(s.Reason, "id") {
				t.Errorf("catalog: %+v, want schema_rejected with the reason", s)
			}
		case "reviews":
			if s.Status != "ok" || s.Reason != "" {
				t.Errorf("reviews: %+v", s)
			}
		}
	}
	res := e.query(t, `{ products { id name reviews { stars } } }`, nil)
	if len(res.Errors) > 0 || !strings.Contains(string(res.Data), `"reviews":[{"stars":5}`) {
		t.Errorf("the last good schema is not served: %s", res.Raw)
	}
	// The catalog is fixed: nothing to report.
	e.catalog.SetSchema()
	eventually(t, "/readyz ok again", func() bool {
		status, state = e.readyz(t)
		return status == 200 && state.Status == "ok"
	})
}

// TestServiceBackReloadsAtOnce: when /readyz sees a service come back, its
// schema is read again without waiting for the next poll.
func TestServiceBackReloadsAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, polling(time.Hour))
	e.catalog.Stop()
	if status, _ := e.readyz(t); status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d with the catalog down", status)
	}
	e.catalog.SetSchema(fixture.HideField("Product", "price")) // redeployed
	e.catalog.Start(t)
	if status, _ := e.readyz(t); status != http.StatusOK {
		t.Fatalf("/readyz %d with the catalog back", status)
	}
	eventually(t, "the redeployed schema", func() bool { return e.refused(t, priceQuery) })
}
