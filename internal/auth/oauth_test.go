package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/auth/authtest"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// tokenServer starts a token endpoint with two clients: "orders"
// (client_secret_basic, secret "orders-secret") and "inventory"
// (private_key_jwt, whose private key is returned).
func tokenServer(t *testing.T) (srv *httptest.Server, verifier *auth.Verifier, inventoryKey jwk.Key) {
	t.Helper()
	signer, verifier, _ := newKey(t)
	inventoryKey, pub := authtest.KeyPair(t)
	jwks, err := json.Marshal(pub)
	if err != nil {
		t.Fatal(err)
	}
	clients := []auth.OAuthClient{
		{ID: "orders", SecretSHA256: []string{auth.HashSecret("orders-secret")},
			Scopes: []string{auth.ScopeVariantsRead}, Audiences: []string{"products", "shipping"}},
		{ID: "inventory", JWKS: jwks, Scopes: []string{auth.ScopeVariantsRead}, Audiences: []string{"products"}},
	}
	ts, err := auth.NewTokenServer(clients, signer, 5*time.Minute, nil, nil, testenv.Logger())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ts.Routes(mux)
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, verifier, inventoryKey
}

func TestTokenEndpointIssuesServiceTokens(t *testing.T) {
	t.Parallel()
	srv, verifier, key := tokenServer(t)
	tests := []struct {
		name   string
		creds  *auth.ServiceCredentials
		aud    string
		scopes []string
		sub    string
	}{
		{"client_secret_basic", &auth.ServiceCredentials{TokenURL: srv.URL + "/oauth/token", ClientID: "orders", Secret: "orders-secret"}, "shipping", nil, "orders"},
		{"client_secret_basic with scope", &auth.ServiceCredentials{TokenURL: srv.URL + "/oauth/token", ClientID: "orders", Secret: "orders-secret"}, "products", []string{auth.ScopeVariantsRead}, "orders"},
		{"private_key_jwt", &auth.ServiceCredentials{TokenURL: srv.URL + "/oauth/token", ClientID: "inventory", Key: key}, "products", []string{auth.ScopeVariantsRead}, "inventory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, err := tt.creds.TokenSource(tt.aud, tt.scopes...).Token()
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 4*time.Minute {
				t.Fatalf("token type %q, expiry in %s", tok.TokenType, time.Until(tok.Expiry))
			}
			id, err := verifier.Verify(context.Background(), tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if id.UserID != tt.sub || id.Role != auth.RoleService || !id.For(tt.aud) || !id.HasScope(auth.ScopeVariantsRead) {
				t.Fatalf("identity %+v", id)
			}
			// The source caches: the same token again.
			again, err := tt.creds.TokenSource(tt.aud, tt.scopes...).Token()
			if err != nil || again.AccessToken != tok.AccessToken {
				t.Fatalf("second token differs (err %v)", err)
			}
		})
	}
}

func TestTokenEndpointRefuses(t *testing.T) {
	t.Parallel()
	srv, _, key := tokenServer(t)
	endpoint := srv.URL + "/oauth/token"
	otherPEM, _ := auth.GenerateEd25519PEM()
	otherKey, _ := auth.ParsePrivateKeyPEM(otherPEM)
	assertion := func(k jwk.Key, sub string, now time.Time) string {
		a, err := auth.ClientAssertion(k, sub, endpoint, now)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	replayed := assertion(key, "inventory", time.Now())
	if status, _ := postToken(t, endpoint, "", "", url.Values{"grant_type": {"client_credentials"}, "resource": {"products"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {replayed}}); status != http.StatusOK {
		t.Fatalf("first use of the assertion: status %d", status)
	}
	jwtForm := func(a string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "resource": {"products"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
	}
	cc := func(extra ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "resource": {"products"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	tests := []struct {
		name       string
		user, pass string
		form       url.Values
		status     int
		code       string
	}{
		{"wrong secret", "orders", "guess", cc(), 401, "invalid_client"},
		{"unknown client", "nobody", "orders-secret", cc(), 401, "invalid_client"},
		{"no client authentication", "", "", cc(), 401, "invalid_client"},
		{"client_secret_post", "", "", cc("client_id", "orders", "client_secret", "orders-secret"), 401, "invalid_client"},
		{"disallowed scope", "orders", "orders-secret", cc("scope", "orders:write"), 400, "invalid_scope"},
		{"disallowed audience", "orders", "orders-secret", cc("resource", "payments"), 400, "invalid_target"},
		{"no audience", "orders", "orders-secret", url.Values{"grant_type": {"client_credentials"}}, 400, "invalid_request"},
		{"other grant type", "orders", "orders-secret", cc("grant_type", "password"), 400, "unsupported_grant_type"},
		{"replayed assertion", "", "", jwtForm(replayed), 401, "invalid_client"},
		{"expired assertion", "", "", jwtForm(assertion(key, "inventory", time.Now().Add(-2*time.Minute))), 401, "invalid_client"},
		{"assertion signed by another key", "", "", jwtForm(assertion(otherKey, "inventory", time.Now())), 401, "invalid_client"},
		{"assertion for a client with only a secret", "", "", jwtForm(assertion(key, "orders", time.Now())), 401, "invalid_client"},
		{"assertion and basic together", "orders", "orders-secret", jwtForm(assertion(key, "inventory", time.Now())), 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body := postToken(t, endpoint, tt.user, tt.pass, tt.form)
			if status != tt.status || body["error"] != tt.code {
				t.Fatalf("status %d, body %v; want %d %s", status, body, tt.status, tt.code)
			}
			if body["access_token"] != nil {
				t.Fatalf("a token was issued: %v", body)
			}
		})
	}
}

func postToken(t *testing.T, endpoint, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body
}

func TestAuthorizationServerMetadata(t *testing.T) {
	t.Parallel()
	srv, _, _ := tokenServer(t)
	res, err := http.Get(srv.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var md struct {
		Issuer        string   `json:"issuer"`
		TokenEndpoint string   `json:"token_endpoint"`
		JWKSURI       string   `json:"jwks_uri"`
		Grants        []string `json:"grant_types_supported"`
		AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
		Scopes        []string `json:"scopes_supported"`
	}
	if err := json.NewDecoder(res.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	if md.Issuer != srv.URL || md.TokenEndpoint != srv.URL+"/oauth/token" || md.JWKSURI != srv.URL+"/.well-known/jwks.json" ||
		!slices.Equal(md.Grants, []string{"client_credentials"}) ||
		!slices.Equal(md.AuthMethods, []string{"client_secret_basic", "private_key_jwt"}) ||
		!slices.Equal(md.Scopes, []string{auth.ScopeVariantsRead}) {
		t.Fatalf("metadata %+v", md)
	}
}
