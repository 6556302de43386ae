package catalog_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/catalog"
)

// products is a fake products subgraph that knows some SKUs.
type products struct {
	known map[string]bool
	mu    sync.Mutex
	auth  []string
	asked [][]string
}

func (p *products) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Query     string `json:"query"`
		Variables struct {
			S []string `json:"s"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !strings.Contains(req.Query, "variantsBySku(skus:$s)") {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.auth = append(p.auth, r.Header.Get("Authorization"))
	p.asked = append(p.asked, req.Variables.S)
	p.mu.Unlock()
	out := make([]any, len(req.Variables.S))
	for i, s := range req.Variables.S {
		if p.known[s] {
			out[i] = map[string]any{"sku": s}
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"variantsBySku": out}})
}

func TestKnownSKUs(t *testing.T) {
	t.Parallel()
	p := &products{known: map[string]bool{"MUG": true, "SKU-150": true}}
	srv := httptest.NewServer(p)
	defer srv.Close()
	c := catalog.New(srv.URL, nil)

	skus := []string{"MUG", "CAP"}
	for i := range 200 { // more than one request's worth
		skus = append(skus, fmt.Sprintf("SKU-%d", i))
	}
	ctx := auth.WithIdentity(t.Context(), auth.Identity{UserID: "a1", Role: auth.RoleAdmin, Token: "tok-123"})
	known, err := c.KnownSKUs(ctx, skus)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range skus {
		if want := s == "MUG" || s == "SKU-150"; known[s] != want {
			t.Errorf("%s known %v, want %v", s, known[s], want)
		}
	}
	if len(p.asked) != 3 || len(p.asked[0]) != 100 {
		t.Errorf("asked in %d requests, want batches of 100", len(p.asked))
	}
	if p.auth[0] != "Bearer tok-123" {
		t.Errorf("Authorization %q, want the caller's token forwarded", p.auth[0])
	}
}

func TestKnownSKUsUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"server error", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusBadGateway) }},
		{"GraphQL error", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"errors":[{"message":"internal error"}],"data":null}`))
		}},
		{"wrong number of answers", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"data":{"variantsBySku":[]}}`))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			_, err := catalog.New(srv.URL, nil).KnownSKUs(t.Context(), []string{"MUG"})
			if apperr.Code(err) != apperr.Unavailable {
				t.Errorf("err %v (code %s), want UNAVAILABLE", err, apperr.Code(err))
			}
		})
	}
	// Nobody listening.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if _, err := catalog.New(url, nil).KnownSKUs(t.Context(), []string{"MUG"}); apperr.Code(err) != apperr.Unavailable {
		t.Errorf("unreachable: %v", err)
	}
}
