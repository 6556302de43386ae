package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shopgraph/shopgraph/gateway"
)

func TestCORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	noCORS := newEnv(t, func(c *gateway.Config) { c.CORSOrigins = nil })
	anyOrigin := newEnv(t, func(c *gateway.Config) { c.CORSOrigins = []string{"*"} })
	tests := []struct {
		name, origin string
		env          *env
		allowed      bool
	}{
		{"configured origin", "https://shop.example", e, true},
		{"other origin", "https://evil.example", e, false},
		{"no origins configured", "https://shop.example", noCORS, false},
		{"any origin", "https://anything.example", anyOrigin, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodOptions, tt.env.srv.URL+"/graphql", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			allowOrigin := res.Header.Get("Access-Control-Allow-Origin")
			allowHeaders := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
			if !tt.allowed {
				if allowOrigin != "" {
					t.Errorf("preflight from %s allowed: %q", tt.origin, allowOrigin)
				}
				return
			}
			if res.StatusCode/100 != 2 || (allowOrigin != tt.origin && allowOrigin != "*") {
				t.Errorf("preflight %d, Allow-Origin %q", res.StatusCode, allowOrigin)
			}
			if !strings.Contains(allowHeaders, "authorization") || !strings.Contains(allowHeaders, "content-type") {
				t.Errorf("Allow-Headers %q, want Authorization and Content-Type", allowHeaders)
			}
			if m := res.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") {
				t.Errorf("Allow-Methods %q", m)
			}
		})
	}
	// The actual request carries the header too.
	res := e.query(t, `{ __typename }`, nil, "Origin: https://shop.example")
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://shop.example" {
		t.Errorf("POST Allow-Origin %q", got)
	}
}

func TestGraphiQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, err := http.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	page := string(body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{"<title>Shopgraph</title>", "graphiql", `"/graphql"`} {
		if !strings.Contains(page, want) {
			t.Errorf("GraphiQL page lacks %q", want)
		}
	}
	res, err = http.Get(e.srv.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("GET /nope: %d, want 404", res.StatusCode)
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.query(t, `query ListProducts { products { name } }`, nil, "X-Request-ID: log-test-1")
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["msg"] != "request" || rec["request_id"] != "log-test-1" {
			continue
		}
		found = true
		if rec["method"] != "POST" || rec["path"] != "/graphql" || rec["operation"] != "ListProducts" ||
			rec["status"] != float64(200) || rec["duration"] == nil {
			t.Errorf("request log %v", rec)
		}
	}
	if !found {
		t.Errorf("no request log line: %s", e.logs.String())
	}
}
