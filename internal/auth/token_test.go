package auth_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/auth/authtest"
)

func newKey(t *testing.T) (*auth.Signer, *auth.Verifier, func(time.Time) *auth.Signer) {
	t.Helper()
	key, set := authtest.KeyPair(t)
	s, err := auth.NewSigner(key, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := func(now time.Time) *auth.Signer {
		s, err := auth.NewSigner(key, time.Minute, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return s, auth.NewVerifier(auth.StaticKeys{Set: set}, nil), at
}

func TestVerify(t *testing.T) {
	t.Parallel()
	signer, verifier, signerAt := newKey(t)
	other, _, _ := newKey(t)
	id := auth.Identity{UserID: "u1", Email: "a@example.com", Role: auth.RoleCustomer}
	good, goodExp, err := signer.Issue(id)
	if err != nil {
		t.Fatal(err)
	}
	expired, _, _ := signerAt(time.Now().Add(-time.Hour)).Issue(id)
	forged, _, _ := other.Issue(id)
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"shopgraph","sub":"admin","role":"ADMIN","exp":9999999999}`)) + "." + parts[2]

	tests := []struct {
		name    string
		token   string
		wantErr string
	}{
		{"valid", good, ""},
		{"expired", expired, "token expired"},
		{"signed with another key", forged, "invalid token"},
		{"alg none", none, "invalid token"},
		{"tampered claims", tampered, "invalid token"},
		{"garbage", "not.a.jwt", "invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := verifier.Verify(context.Background(), tt.token)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.UserID != "u1" || got.Role != auth.RoleCustomer || got.Email != "a@example.com" {
					t.Fatalf("identity = %+v", got)
				}
				if !got.Expires.Equal(goodExp.Truncate(time.Second)) {
					t.Fatalf("Expires = %v, want %v", got.Expires, goodExp.Truncate(time.Second))
				}
				return
			}
			if apperr.Code(err) != apperr.Unauthenticated || apperr.Message(err) != tt.wantErr {
				t.Fatalf("err = %v, want UNAUTHENTICATED %q", err, tt.wantErr)
			}
		})
	}
}

// TestVerifyUser: where a user's token is expected, a service token is
// refused, and it is never an admin.
func TestVerifyUser(t *testing.T) {
	t.Parallel()
	signer, verifier, _ := newKey(t)
	service, _, err := signer.IssueService("orders", "products", []string{auth.ScopeVariantsRead}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	admin, _, _ := signer.Issue(auth.Identity{UserID: "a1", Role: auth.RoleAdmin})
	id, err := verifier.Verify(context.Background(), service)
	if err != nil || id.Role != auth.RoleService || id.IsAdmin() {
		t.Fatalf("Verify(service token) = %+v, %v; want role SERVICE, not an admin", id, err)
	}
	if _, err := verifier.VerifyUser(context.Background(), service); apperr.Code(err) != apperr.Unauthenticated {
		t.Fatalf("VerifyUser(service token) = %v, want UNAUTHENTICATED", err)
	}
	if id, err := verifier.VerifyUser(context.Background(), admin); err != nil || !id.IsAdmin() {
		t.Fatalf("VerifyUser(admin token) = %+v, %v", id, err)
	}
}

func TestRemoteKeysFromJWKS(t *testing.T) {
	t.Parallel()
	key, set := authtest.KeyPair(t)
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		auth.JWKSHandler(set).ServeHTTP(w, r)
	}))
	defer srv.Close()
	v := auth.NewVerifier(&auth.RemoteKeys{URL: srv.URL, MinRefresh: time.Hour}, nil)
	s, _ := auth.NewSigner(key, time.Minute, nil)
	for range 3 {
		tok, _, _ := s.Issue(auth.Identity{UserID: "u", Role: auth.RoleAdmin})
		id, err := v.Verify(context.Background(), tok)
		if err != nil || !id.IsAdmin() {
			t.Fatalf("verify: %v %+v", err, id)
		}
	}
	if hits != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (cached)", hits)
	}
}

func TestRequire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := auth.Require(ctx); apperr.Code(err) != apperr.Unauthenticated {
		t.Errorf("anonymous: %v", err)
	}
	cust := auth.WithIdentity(ctx, auth.Identity{UserID: "u", Role: auth.RoleCustomer})
	if _, err := auth.RequireAdmin(cust); apperr.Code(err) != apperr.Forbidden {
		t.Errorf("customer as admin: %v", err)
	}
	adm := auth.WithIdentity(ctx, auth.Identity{UserID: "a", Role: auth.RoleAdmin})
	if _, err := auth.RequireAdmin(adm); err != nil {
		t.Errorf("admin: %v", err)
	}
}
