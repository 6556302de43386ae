package auth

// The OAuth2 authorization server of service identities: the client
// credentials grant (RFC 6749 §4.4) at POST /oauth/token, with client
// authentication by client_secret_basic or private_key_jwt (RFC 7523), one
// audience per token (RFC 8707 "resource", or "audience"), and the RFC 8414
// metadata.
//
// Written by hand on jwx rather than on ory/fosite or zitadel/oidc's op:
// both are full OAuth2/OIDC providers built around a storage interface for
// authorization codes, refresh tokens, sessions and consent (fosite also
// issues opaque HMAC tokens by default), of which this grant needs none. The
// grant is one form, two ways to authenticate a client and one signed JWT,
// issued with the same key and JWKS as the users' tokens so that every
// service verifies both the same way.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/redis/go-redis/v9"
)

// Scopes of service tokens.
const (
	// ScopeVariantsRead lets a service read the catalog's variants by SKU
	// (the products service's variantsBySku).
	ScopeVariantsRead = "variants:read"
	// ScopeUsersRead lets a service read any user and address (the users
	// service's node and _entities), with no user's token forwarded. No
	// service of Shopgraph needs it today; grant it to a client of your own
	// (e.g. a CRM export) in its clients file entry.
	ScopeUsersRead = "users:read"
)

// Client assertion type of private_key_jwt (RFC 7523 §2.2).
const jwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// maxAssertionLifetime bounds how far in the future a private_key_jwt
// assertion may expire: the replay cache keeps its jti until then.
const maxAssertionLifetime = 10 * time.Minute

// OAuthClient is a service allowed to get tokens.
type OAuthClient struct {
	ID string `json:"client_id"`
	// SecretSHA256 are the hex SHA-256 digests of the client's secrets
	// (client_secret_basic); two during a rotation. Secrets are random
	// (32 bytes or more), so a plain digest is enough: there is nothing to
	// guess, unlike a password.
	SecretSHA256 []string `json:"client_secret_sha256,omitempty"`
	// PublicKeyFile is a PEM public key (Ed25519, RSA or EC) that the
	// client's private_key_jwt assertions are signed with.
	PublicKeyFile string `json:"public_key_file,omitempty"`
	// JWKS holds the client's public keys, as an alternative to
	// PublicKeyFile.
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// Scopes the client may ask for, and the services (audiences) it may
	// get tokens for.
	Scopes    []string `json:"scopes"`
	Audiences []string `json:"audiences"`

	keys jwk.Set
}

// HashSecret returns the hex SHA-256 digest of a client secret, as
// OAuthClient.SecretSHA256 holds it.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// LoadOAuthClients reads a clients file: {"clients": [OAuthClient, …]}.
func LoadOAuthClients(path string) ([]OAuthClient, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read OAuth clients: %w", err)
	}
	var f struct {
		Clients []OAuthClient `json:"clients"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse OAuth clients %s: %w", path, err)
	}
	return f.Clients, nil
}

// ReplayCache remembers the jti of every private_key_jwt assertion until it
// expires, so that an assertion is used once.
type ReplayCache interface {
	// FirstUse records jti until exp and reports whether it was new.
	FirstUse(ctx context.Context, jti string, exp time.Time) (bool, error)
}

// MemoryReplayCache is a ReplayCache for one process.
type MemoryReplayCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
	now  func() time.Time
}

// NewMemoryReplayCache returns an empty cache.
func NewMemoryReplayCache(now func() time.Time) *MemoryReplayCache {
	if now == nil {
		now = time.Now
	}
	return &MemoryReplayCache{seen: map[string]time.Time{}, now: now}
}

// FirstUse implements ReplayCache.
func (c *MemoryReplayCache) FirstUse(_ context.Context, jti string, exp time.Time) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, until := range c.seen {
		if now.After(until) {
			delete(c.seen, k)
		}
	}
	if _, ok := c.seen[jti]; ok {
		return false, nil
	}
	c.seen[jti] = exp
	return true, nil
}

// TokenServer is the OAuth2 token endpoint and its metadata.
type TokenServer struct {
	clients map[string]*OAuthClient
	signer  *Signer
	ttl     time.Duration
	replay  ReplayCache
	now     func() time.Time
	log     *slog.Logger
	// scopes are every scope some client may have, for the metadata.
	scopes []string
}

// NewTokenServer returns a token endpoint that issues tokens valid for ttl,
// signed by signer, to clients. replay may be nil for a process-local cache.
func NewTokenServer(clients []OAuthClient, signer *Signer, ttl time.Duration, replay ReplayCache, now func() time.Time, log *slog.Logger) (*TokenServer, error) {
	if now == nil {
		now = time.Now
	}
	if replay == nil {
		replay = NewMemoryReplayCache(now)
	}
	s := &TokenServer{clients: map[string]*OAuthClient{}, signer: signer, ttl: ttl, replay: replay, now: now, log: log}
	for i := range clients {
		c := clients[i]
		if c.ID == "" {
			return nil, errors.New("OAuth client without client_id")
		}
		if _, dup := s.clients[c.ID]; dup {
			return nil, fmt.Errorf("OAuth client %s listed twice", c.ID)
		}
		set, err := clientKeys(c)
		if err != nil {
			return nil, fmt.Errorf("OAuth client %s: %w", c.ID, err)
		}
		c.keys = set
		if len(c.SecretSHA256) == 0 && set.Len() == 0 {
			return nil, fmt.Errorf("OAuth client %s has neither a secret nor a public key", c.ID)
		}
		for _, sc := range c.Scopes {
			if !slices.Contains(s.scopes, sc) {
				s.scopes = append(s.scopes, sc)
			}
		}
		s.clients[c.ID] = &c
	}
	slices.Sort(s.scopes)
	return s, nil
}

func clientKeys(c OAuthClient) (jwk.Set, error) {
	set := jwk.NewSet()
	if len(c.JWKS) > 0 {
		parsed, err := jwk.Parse(c.JWKS)
		if err != nil {
			return nil, fmt.Errorf("parse jwks: %w", err)
		}
		set = parsed
	}
	if c.PublicKeyFile != "" {
		data, err := os.ReadFile(c.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read public key: %w", err)
		}
		key, err := ParsePublicKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("public key %s: %w", c.PublicKeyFile, err)
		}
		if err := set.AddKey(key); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// ParsePublicKeyPEM parses a PEM (PKIX) public key.
func ParsePublicKeyPEM(data []byte) (jwk.Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	raw, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	key, err := jwk.Import(raw)
	if err != nil {
		return nil, fmt.Errorf("import key: %w", err)
	}
	if err := jwk.AssignKeyID(key); err != nil {
		return nil, err
	}
	return key, nil
}

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	status int
	code   string
	desc   string
	basic  bool // the client tried HTTP Basic: answer with WWW-Authenticate
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func invalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", desc: desc}
}

func invalidClient(basic bool) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client authentication failed", basic: basic}
}

// Routes adds the token endpoint and the metadata to mux.
func (s *TokenServer) Routes(mux *http.ServeMux) {
	mux.HandleFunc("/oauth/token", s.serveToken)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.serveMetadata)
}

// baseURL is the scheme and host this request reached.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *TokenServer) serveMetadata(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                base,
		"token_endpoint":                        base + "/oauth/token",
		"jwks_uri":                              base + "/.well-known/jwks.json",
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"EdDSA", "RS256", "ES256"},
		"scopes_supported":         s.scopes,
		"response_types_supported": []string{"token"},
	})
}

func (s *TokenServer) serveToken(w http.ResponseWriter, r *http.Request) {
	res, err := s.token(r)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		var oe *oauthError
		if !errors.As(err, &oe) {
			s.log.ErrorContext(r.Context(), "oauth token", "err", err)
			oe = &oauthError{status: http.StatusInternalServerError, code: "server_error", desc: "internal error"}
		}
		if oe.basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="shopgraph", charset="UTF-8"`)
		}
		w.WriteHeader(oe.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": oe.code, "error_description": oe.desc})
		return
	}
	_ = json.NewEncoder(w).Encode(res)
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

func (s *TokenServer) token(r *http.Request) (*tokenResponse, error) {
	if r.Method != http.MethodPost {
		return nil, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", desc: "use POST"}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	form := r.PostForm
	for k, v := range form {
		if len(v) > 1 {
			return nil, invalidRequest("parameter " + k + " repeated")
		}
	}
	client, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return nil, invalidRequest("grant_type is missing")
	default:
		return nil, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", desc: "only client_credentials is supported"}
	}
	aud := form.Get("resource")
	if aud == "" {
		aud = form.Get("audience")
	}
	if aud == "" {
		return nil, invalidRequest("name the service the token is for: resource (or audience)")
	}
	if !slices.Contains(client.Audiences, aud) {
		return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_target", desc: "the client may not get tokens for " + strconv.Quote(aud)}
	}
	scopes := client.Scopes
	if sc := form.Get("scope"); sc != "" {
		scopes = strings.Fields(sc)
		for _, x := range scopes {
			if !slices.Contains(client.Scopes, x) {
				return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_scope", desc: "scope " + strconv.Quote(x) + " is not allowed for this client"}
			}
		}
	}
	tok, _, err := s.signer.IssueService(client.ID, aud, scopes, s.ttl)
	if err != nil {
		return nil, err
	}
	return &tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(s.ttl / time.Second), Scope: strings.Join(scopes, " ")}, nil
}

// authenticate finds and authenticates the client: client_secret_basic or
// private_key_jwt, exactly one of them.
func (s *TokenServer) authenticate(r *http.Request) (*OAuthClient, error) {
	form := r.PostForm
	id, secret, basic := r.BasicAuth()
	assertion := form.Get("client_assertion")
	switch {
	case basic && assertion != "":
		return nil, invalidRequest("use one client authentication method")
	case basic:
		return s.authenticateSecret(id, secret)
	case assertion != "":
		if form.Get("client_assertion_type") != jwtBearerAssertion {
			return nil, invalidRequest("client_assertion_type must be " + jwtBearerAssertion)
		}
		return s.authenticateAssertion(r, assertion)
	case form.Get("client_secret") != "":
		return nil, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client_secret_post is not supported: use HTTP Basic"}
	default:
		return nil, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client authentication required", basic: true}
	}
}

func (s *TokenServer) authenticateSecret(id, secret string) (*OAuthClient, error) {
	// RFC 6749 §2.3.1: both are form-urlencoded inside the Basic header.
	id, err1 := urlUnescape(id)
	secret, err2 := urlUnescape(secret)
	if err1 != nil || err2 != nil {
		return nil, invalidClient(true)
	}
	c, ok := s.clients[id]
	got := HashSecret(secret)
	match := 0
	if ok {
		for _, h := range c.SecretSHA256 {
			match |= subtle.ConstantTimeCompare([]byte(strings.ToLower(h)), []byte(got))
		}
	}
	if match != 1 {
		return nil, invalidClient(true)
	}
	return c, nil
}

func (s *TokenServer) authenticateAssertion(r *http.Request, assertion string) (*OAuthClient, error) {
	// The client is named by the assertion's iss and sub (RFC 7523 §3); its
	// keys verify the signature.
	unverified, err := jwt.ParseString(assertion, jwt.WithVerify(false), jwt.WithValidate(false))
	if err != nil {
		return nil, invalidClient(false)
	}
	sub, _ := unverified.Subject()
	c, ok := s.clients[sub]
	if !ok || c.keys.Len() == 0 {
		return nil, invalidClient(false)
	}
	if id := r.PostForm.Get("client_id"); id != "" && id != sub {
		return nil, invalidClient(false)
	}
	base := baseURL(r)
	tok, err := jwt.ParseString(assertion,
		jwt.WithKeySet(c.keys, jws.WithRequireKid(false), jws.WithInferAlgorithmFromKey(true)),
		jwt.WithValidate(true),
		jwt.WithIssuer(sub),
		jwt.WithSubject(sub),
		jwt.WithClock(jwt.ClockFunc(s.now)),
		jwt.WithAcceptableSkew(5*time.Second),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.JwtIDKey),
		jwt.WithValidator(jwt.ValidatorFunc(func(_ context.Context, t jwt.Token) error {
			auds, _ := t.Audience()
			for _, a := range auds {
				if a == base+"/oauth/token" || a == base || a == Issuer {
					return nil
				}
			}
			return errors.New("assertion audience is not this token endpoint")
		})),
	)
	if err != nil {
		return nil, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client assertion rejected: " + assertionProblem(err)}
	}
	exp, _ := tok.Expiration()
	if exp.After(s.now().Add(maxAssertionLifetime)) {
		return nil, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client assertion rejected: it expires too late"}
	}
	jti, _ := tok.JwtID()
	first, err := s.replay.FirstUse(r.Context(), sub+"\x00"+jti, exp)
	if err != nil {
		return nil, fmt.Errorf("replay cache: %w", err)
	}
	if !first {
		return nil, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: "client assertion rejected: already used"}
	}
	return c, nil
}

func assertionProblem(err error) string {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return "expired"
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return "not yet valid"
	default:
		return "invalid signature or claims"
	}
}

func urlUnescape(s string) (string, error) { return url.QueryUnescape(s) }

// RedisReplayCache is a ReplayCache shared by every replica of the users
// service: SET NX with the assertion's remaining lifetime.
type RedisReplayCache struct {
	Client redis.Cmdable
	Prefix string
	Now    func() time.Time
}

// FirstUse implements ReplayCache.
func (c RedisReplayCache) FirstUse(ctx context.Context, jti string, exp time.Time) (bool, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	ttl := exp.Sub(now()) + 10*time.Second // and the verifier's skew
	if ttl < time.Second {
		ttl = time.Second
	}
	sum := sha256.Sum256([]byte(jti))
	return c.Client.SetNX(ctx, c.Prefix+"oauth-jti:"+hex.EncodeToString(sum[:]), 1, ttl).Result()
}
