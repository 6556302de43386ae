package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ServiceCredentials are how one service gets its service tokens from the
// token endpoint: client_secret_basic with Secret, or private_key_jwt with
// Key (a private key with its alg, as ParsePrivateKeyPEM returns).
type ServiceCredentials struct {
	TokenURL string
	ClientID string
	Secret   string
	Key      jwk.Key
	// HTTP is the client the token requests go through (nil: a client with
	// a 5 s timeout).
	HTTP *http.Client
	Now  func() time.Time

	mu      sync.Mutex
	sources map[string]oauth2.TokenSource
}

// TokenSource returns the cached, self-refreshing source of tokens for
// audience aud with scopes (none: every scope the client is allowed).
// Tokens are fetched by golang.org/x/oauth2/clientcredentials and renewed
// shortly before they expire; one source per audience and scopes is kept.
func (c *ServiceCredentials) TokenSource(aud string, scopes ...string) oauth2.TokenSource {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := aud + "\x00" + fmt.Sprint(scopes)
	if ts, ok := c.sources[k]; ok {
		return ts
	}
	if c.sources == nil {
		c.sources = map[string]oauth2.TokenSource{}
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, hc)
	cfg := clientcredentials.Config{
		ClientID:       c.ClientID,
		ClientSecret:   c.Secret,
		TokenURL:       c.TokenURL,
		Scopes:         scopes,
		EndpointParams: url.Values{"resource": {aud}},
		AuthStyle:      oauth2.AuthStyleInHeader,
	}
	var ts oauth2.TokenSource
	if c.Key != nil {
		ts = oauth2.ReuseTokenSource(nil, &assertionSource{ctx: ctx, cfg: cfg, key: c.Key, now: c.now})
	} else {
		ts = cfg.TokenSource(ctx)
	}
	c.sources[k] = ts
	return ts
}

func (c *ServiceCredentials) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// assertionSource fetches a token with a fresh private_key_jwt assertion
// (RFC 7523) each time: clientcredentials.Config's parameters are static, and
// an assertion may be used only once.
type assertionSource struct {
	ctx context.Context
	cfg clientcredentials.Config
	key jwk.Key
	now func() time.Time
}

func (s *assertionSource) Token() (*oauth2.Token, error) {
	assertion, err := ClientAssertion(s.key, s.cfg.ClientID, s.cfg.TokenURL, s.now())
	if err != nil {
		return nil, err
	}
	cfg := s.cfg
	cfg.ClientSecret = ""
	cfg.AuthStyle = oauth2.AuthStyleInParams
	cfg.EndpointParams = url.Values{
		"resource":              s.cfg.EndpointParams["resource"],
		"client_assertion_type": {jwtBearerAssertion},
		"client_assertion":      {assertion},
	}
	return cfg.Token(s.ctx)
}

// ClientAssertion returns a private_key_jwt assertion of clientID for the
// token endpoint tokenURL, valid for a minute from now.
func ClientAssertion(key jwk.Key, clientID, tokenURL string, now time.Time) (string, error) {
	jti, err := randomID()
	if err != nil {
		return "", err
	}
	tok, err := jwt.NewBuilder().Issuer(clientID).Subject(clientID).Audience([]string{tokenURL}).
		IssuedAt(now).Expiration(now.Add(time.Minute)).JwtID(jti).Build()
	if err != nil {
		return "", err
	}
	a, ok := key.Algorithm()
	if !ok {
		return "", fmt.Errorf("client key has no alg")
	}
	alg, ok := jwa.LookupSignatureAlgorithm(a.String())
	if !ok {
		return "", fmt.Errorf("unsupported alg %s", a)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key))
	if err != nil {
		return "", fmt.Errorf("sign client assertion: %w", err)
	}
	return string(signed), nil
}
