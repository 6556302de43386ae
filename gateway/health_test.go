package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shopgraph/shopgraph/gateway"
)

type readiness struct {
	Status   string
	Services []struct{ Name, Status string }
}

func (e *env) ready(t *testing.T) (int, readiness) {
	t.Helper()
	res, err := http.Get(e.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r readiness
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, r
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	check := func(wantStatus int, want map[string]string) {
		t.Helper()
		status, r := e.ready(t)
		got := map[string]string{}
		for _, s := range r.Services {
			got[s.Name] = s.Status
		}
		if status != wantStatus || len(got) != len(want) {
			t.Fatalf("/readyz %d %+v, want %d %v", status, r, wantStatus, want)
		}
		for name, st := range want {
			if got[name] != st {
				t.Errorf("/readyz says %s is %q, want %q", name, got[name], st)
			}
		}
	}
	check(http.StatusOK, map[string]string{"catalog": "ok", "reviews": "ok"})
	e.reviews.Stop()
	check(http.StatusServiceUnavailable, map[string]string{"catalog": "ok", "reviews": "unavailable"})
	e.reviews.Start(t)
	check(http.StatusOK, map[string]string{"catalog": "ok", "reviews": "ok"})
}

func TestLiveness(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.catalog.Stop()
	e.reviews.Stop()
	res, err := http.Get(e.srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct{ Status string }
	_ = json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != 200 || body.Status != "ok" {
		t.Errorf("/healthz %d %+v: the gateway is alive even when services are down", res.StatusCode, body)
	}
}

// TestReadinessFollowsServicesReadyz: a service that answers GraphQL but
// whose own /readyz says its stores are down makes the gateway unready too.
func TestReadinessFollowsServicesReadyz(t *testing.T) {
	t.Parallel()
	var storesDown atomic.Bool
	var proxied *httptest.Server
	e := newEnv(t, func(c *gateway.Config) {
		target, _ := url.Parse(strings.TrimSuffix(c.Services[1].URL, "/graphql"))
		proxy := httputil.NewSingleHostReverseProxy(target)
		proxied = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/readyz" {
				if storesDown.Load() {
					http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
					return
				}
				_, _ = w.Write([]byte(`{"status":"ok"}`))
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		c.Services[1].URL = proxied.URL + "/graphql"
	})
	t.Cleanup(proxied.Close)
	tests := []struct {
		down       bool
		wantStatus int
		wantReview string
	}{
		{false, http.StatusOK, "ok"},
		{true, http.StatusServiceUnavailable, "unavailable"},
		{false, http.StatusOK, "ok"},
	}
	for _, tc := range tests {
		storesDown.Store(tc.down)
		status, r := e.ready(t)
		got := map[string]string{}
		for _, s := range r.Services {
			got[s.Name] = s.Status
		}
		if status != tc.wantStatus || got["reviews"] != tc.wantReview || got["catalog"] != "ok" {
			t.Errorf("stores down=%v: /readyz %d %v, want %d with reviews %q", tc.down, status, got, tc.wantStatus, tc.wantReview)
		}
	}
}
