package gateway_test

import (
	"encoding/json"
	"net/http"
	"testing"
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
