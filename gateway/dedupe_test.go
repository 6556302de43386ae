package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/gateway"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// TestDedupeInFlightQueries: identical queries of one caller in flight at
// the same time make one request to the service; other callers, mutations,
// and a gateway with deduplication off do not share.
func TestDedupeInFlightQueries(t *testing.T) {
	t.Parallel()
	const products = `{ products { name } }`
	type call struct{ query, token string }
	tests := []struct {
		name      string
		off       bool
		calls     func(alice, bob string) []call
		upstreams int
	}{
		{"10 identical queries", false, func(_, _ string) []call {
			return repeat(call{products, ""}, 10)
		}, 1},
		{"two callers", false, func(alice, bob string) []call {
			return append(repeat(call{products, alice}, 3), repeat(call{products, bob}, 3)...)
		}, 2},
		{"different variables", false, func(_, _ string) []call {
			return []call{{`{ product(id: "` + productID("p1") + `") { name } }`, ""}, {`{ product(id: "` + productID("p2") + `") { name } }`, ""}}
		}, 2},
		{"mutations", false, func(_, _ string) []call {
			return repeat(call{`mutation { renameProduct(id: "` + productID("p3") + `", name: "Same") { name } }`, ""}, 3)
		}, 3},
		{"off", true, func(_, _ string) []call {
			return repeat(call{products, ""}, 5)
		}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *gateway.Config) { c.DisableDedupe = tt.off })
			s := newLabelledServer(t, e.gw.Handler())
			alice := testenv.Token(t, e.key, "alice", "customer")
			bob := testenv.Token(t, e.key, "bob", "customer")
			release := e.catalog.Hold(t, func(string) bool { return true })
			calls := tt.calls(alice, bob)
			results := make([]result, len(calls))
			var wg sync.WaitGroup
			for i, c := range calls {
				wg.Go(func() { results[i] = postAs(t, s.URL, c.query, c.token) })
			}
			// Every call is waiting: on the service, or on a call in flight.
			deadline := time.Now().Add(3 * time.Second)
			for {
				n := len(e.catalog.Requests())
				if n >= tt.upstreams && (n == len(calls) || s.goroutinesIn(t, "gateway.(*flight).do+") == len(calls)) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d requests reached the service", len(e.catalog.Requests()))
				}
				time.Sleep(5 * time.Millisecond)
			}
			release()
			wg.Wait()
			if got := len(e.catalog.Requests()); got != tt.upstreams {
				t.Errorf("%d requests to the service, want %d", got, tt.upstreams)
			}
			for i, r := range results {
				if r.Status != http.StatusOK || len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"name":`) {
					t.Errorf("call %d: %d %.300s", i, r.Status, r.Raw)
				}
			}
			if tt.name == "two callers" {
				for _, r := range e.catalog.Requests() {
					if a := r.Header.Get("Authorization"); a != "Bearer "+alice && a != "Bearer "+bob {
						t.Errorf("a shared request carried %q", a)
					}
				}
			}
		})
	}
}

// TestDedupeCallerGoneLeavesOthers: a caller that gives up does not fail
// the callers sharing its request.
func TestDedupeCallerGoneLeavesOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := newLabelledServer(t, e.gw.Handler())
	release := e.catalog.Hold(t, func(string) bool { return true })
	const q = `{ products { name } }`
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Gives up before the service answers.
		if r, err := tryPost(s.URL, q, 300*time.Millisecond); err == nil {
			t.Errorf("answered before the service did: %.300s", r.Raw)
		}
	}()
	var other result
	var wg sync.WaitGroup
	wg.Go(func() { other = postAs(t, s.URL, q, "") })
	<-done
	release()
	wg.Wait()
	if len(other.Errors) > 0 || !strings.Contains(string(other.Data), `"name":"Phone"`) {
		t.Errorf("the caller that stayed got %.300s", other.Raw)
	}
	if got := len(e.catalog.Requests()); got != 1 {
		t.Errorf("%d requests to the service, want 1", got)
	}
	s.settles(t, 2*time.Second)
}

// postAs posts a query with a bearer token, if any; any goroutine may call
// it.
func postAs(t *testing.T, url, query, token string) result {
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("post: %v", err)
		return result{}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := result{Status: res.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Errorf("not JSON: %.300s", raw)
	}
	return out
}

// tryPost posts a query and gives up after wait.
func tryPost(url, query string, wait time.Duration) (result, error) {
	body, _ := json.Marshal(map[string]any{"query": query})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return result{Status: res.StatusCode, Raw: string(raw)}, err
}

func repeat[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}
