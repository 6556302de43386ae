package gateway_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

func TestTokenForwardedAndVerifiedBySubgraph(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token := testenv.Token(t, e.key, "u42", auth.RoleCustomer)
	res := e.query(t, `{ caller { userId role } products { reviews { stars } } }`, nil,
		"Authorization: Bearer "+token, "X-Request-ID: req-123")
	if string(res.Data) == "" || len(res.Errors) > 0 {
		t.Fatalf("status %d: %s", res.Status, res.Raw)
	}
	var data struct{ Caller struct{ UserID, Role string } }
	res.dataAs(t, &data)
	if data.Caller.UserID != "u42" || data.Caller.Role != auth.RoleCustomer {
		t.Errorf("the catalog saw caller %+v, want u42 CUSTOMER", data.Caller)
	}
	if got := res.Header.Get("X-Request-ID"); got != "req-123" {
		t.Errorf("response X-Request-ID = %q, want the caller's", got)
	}
	all := append(e.catalog.Requests(), e.reviews.Requests()...)
	if len(all) != 2 {
		t.Fatalf("%d upstream requests, want 2 (the catalog's root fields, then the reviews of every product at once)", len(all))
	}
	for _, r := range all {
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			t.Errorf("upstream Authorization = %q, want the caller's token", got)
		}
		if got := r.Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
			t.Errorf("upstream X-Forwarded-For = %q, want the client's address", got)
		}
		if got := r.Header.Get("X-Request-ID"); got != "req-123" {
			t.Errorf("upstream X-Request-ID = %q, want req-123", got)
		}
	}
}

func TestAnonymousRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.query(t, `{ caller { userId } }`, nil, "X-Forwarded-For: 203.0.113.9", "X-Request-ID: bad id\twith tab")
	if string(res.Data) != `{"caller":{"userId":null}}` {
		t.Fatalf("got %s", res.Raw)
	}
	reqs := e.catalog.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	if got := reqs[0].Header.Get("Authorization"); got != "" {
		t.Errorf("anonymous request forwarded Authorization %q", got)
	}
	if got := reqs[0].Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q: a client must not choose the address it is rate-limited by", got)
	}
	id := res.Header.Get("X-Request-ID")
	if id == "" || strings.ContainsAny(id, " \t") || reqs[0].Header.Get("X-Request-ID") != id {
		t.Errorf("request ID %q (upstream %q): want a generated ID forwarded upstream", id, reqs[0].Header.Get("X-Request-ID"))
	}
}

func TestBadTokensAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	valid := testenv.Token(t, e.key, "u1", auth.RoleCustomer)

	expiredSigner, err := auth.NewSigner(e.key, time.Minute, func() time.Time { return time.Now().Add(-time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := expiredSigner.Issue(auth.Identity{UserID: "u1", Role: auth.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := testenv.SigningKey(t)
	forged := testenv.Token(t, otherKey, "u1", auth.RoleAdmin)

	parts := strings.Split(valid, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(claims, &m)
	m["role"] = auth.RoleAdmin
	escalated, _ := json.Marshal(m)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(escalated) + "." + parts[2]
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(escalated) + "."

	tests := []struct {
		name, header, message string
	}{
		{"expired", "Bearer " + expired, "token expired"},
		{"signed by another key", "Bearer " + forged, "invalid token"},
		{"payload tampered", "Bearer " + tampered, "invalid token"},
		{"alg none", "Bearer " + algNone, "invalid token"},
		{"garbage", "Bearer not-a-jwt", "invalid token"},
		{"not bearer", "Basic dXNlcjpwYXNz", "the Authorization header must carry a Bearer token"},
		{"empty bearer", "Bearer ", "the Authorization header must carry a Bearer token"},
	}
	t.Run("refused", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res := e.query(t, `mutation { renameProduct(id: "`+productID("p3")+`", name: "Hacked") { name } }`, nil,
					"Authorization: "+tt.header)
				if res.Status != 401 || res.code(0) != "UNAUTHENTICATED" || res.Errors[0].Message != tt.message {
					t.Errorf("status %d: %s; want 401 UNAUTHENTICATED %q", res.Status, res.Raw, tt.message)
				}
				if res.HasData {
					t.Errorf("refused request has a data key: %s", res.Raw)
				}
				if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			})
		}
	})
	if n := e.upstreamRequests(); n != 0 {
		t.Errorf("%d requests reached the services with a bad token", n)
	}
	res := e.query(t, `{ product(id: "`+productID("p3")+`") { name } }`, nil)
	if string(res.Data) != `{"product":{"name":"Mug"}}` {
		t.Errorf("the product changed: %s", res.Raw)
	}
}
