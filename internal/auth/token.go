package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/maypok86/otter/v2"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// Issuer is the iss claim of every Shopgraph access token.
const Issuer = "shopgraph"

// Signer issues access tokens.
type Signer struct {
	key jwk.Key
	alg jwa.SignatureAlgorithm
	ttl time.Duration
	now func() time.Time
}

// NewSigner returns a Signer that signs with key (which carries its alg and
// kid) and issues tokens valid for ttl.
func NewSigner(key jwk.Key, ttl time.Duration, now func() time.Time) (*Signer, error) {
	a, ok := key.Algorithm()
	if !ok {
		return nil, errors.New("signing key has no alg")
	}
	alg, ok := jwa.LookupSignatureAlgorithm(a.String())
	if !ok {
		return nil, fmt.Errorf("unsupported alg %s", a)
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{key: key, alg: alg, ttl: ttl, now: now}, nil
}

// Issue returns a signed access token for id and its expiry time.
func (s *Signer) Issue(id Identity) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(s.ttl)
	b := jwt.NewBuilder().Issuer(Issuer).Subject(id.UserID).IssuedAt(now).NotBefore(now).Expiration(exp).
		Claim("role", id.Role)
	if id.Email != "" {
		b = b.Claim("email", id.Email)
	}
	tok, err := b.Build()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("build token: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(s.alg, s.key))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return string(signed), exp, nil
}

// IssueService returns a signed service token (OAuth2 client credentials):
// subject clientID, role SERVICE, audience aud (the one service it may call),
// the granted scopes (space-separated in the scope claim) and a jti, valid
// for ttl.
func (s *Signer) IssueService(clientID, aud string, scopes []string, ttl time.Duration) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(ttl)
	jti, err := randomID()
	if err != nil {
		return "", time.Time{}, err
	}
	tok, err := jwt.NewBuilder().Issuer(Issuer).Subject(clientID).Audience([]string{aud}).
		IssuedAt(now).NotBefore(now).Expiration(exp).JwtID(jti).
		Claim("role", RoleService).Claim("client_id", clientID).Claim("scope", strings.Join(scopes, " ")).Build()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("build service token: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(s.alg, s.key))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign service token: %w", err)
	}
	return string(signed), exp, nil
}

// TTL is the lifetime of the tokens s issues.
func (s *Signer) TTL() time.Duration { return s.ttl }

// KeySource yields the public keys that tokens are verified against.
type KeySource interface {
	Keys(ctx context.Context) (jwk.Set, error)
}

// StaticKeys is a fixed key set.
type StaticKeys struct{ Set jwk.Set }

// Keys returns the fixed set.
func (s StaticKeys) Keys(context.Context) (jwk.Set, error) { return s.Set, nil }

// RemoteKeys fetches a JWKS over HTTP and caches it, refetching at most once
// per MinRefresh (so a rotated key is picked up, and a flood of forged kids
// does not become a flood of fetches).
type RemoteKeys struct {
	URL        string
	Client     *http.Client
	MinRefresh time.Duration

	mu      sync.Mutex
	set     jwk.Set
	fetched time.Time
}

// Keys returns the cached set, fetching it when missing or stale.
func (r *RemoteKeys) Keys(ctx context.Context) (jwk.Set, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	refresh := r.MinRefresh
	if refresh == 0 {
		refresh = 5 * time.Minute
	}
	if r.set != nil && time.Since(r.fetched) < refresh {
		return r.set, nil
	}
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		if r.set != nil {
			return r.set, nil
		}
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		if r.set != nil {
			return r.set, nil
		}
		return nil, fmt.Errorf("fetch JWKS: status %d", res.StatusCode)
	}
	set, err := jwk.ParseReader(res.Body)
	if err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	r.set, r.fetched = set, time.Now()
	return set, nil
}

// Verifier verifies access tokens.
//
// It remembers the tokens it has verified (a bounded in-process cache), so
// that the same token arriving again — at the gateway, then at each service
// a request reaches, then on every request of a session — costs a map
// lookup instead of an Ed25519 verification (8–15% of the CPU of a checkout
// before). A remembered token is still refused once it expires, and is
// verified afresh when the key set changes (a JWKS refresh), so a key taken
// out of the set stops being trusted at the next refresh as before.
type Verifier struct {
	keys     KeySource
	now      func() time.Time
	verified *otter.Cache[string, verified]
}

// verified is a token that passed Verify under the key set set.
type verified struct {
	id  Identity
	set jwk.Set
}

// verifiedTokens bounds the tokens a Verifier remembers, and verifiedFor how
// long it remembers one (less if the token expires sooner).
const (
	verifiedTokens = 10_000
	verifiedFor    = 5 * time.Minute
)

// NewVerifier returns a Verifier that trusts the keys from src.
func NewVerifier(src KeySource, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{keys: src, now: now, verified: otter.Must(&otter.Options[string, verified]{
		MaximumSize:      verifiedTokens,
		ExpiryCalculator: otter.ExpiryWriting[string, verified](verifiedFor),
	})}
}

// VerifyUser is Verify for a token that must be a user's (a customer's or an
// admin's): where a client or a user's forwarded token is expected. A
// service token is refused: it is only its service's own credential
// (ServiceMiddleware), never someone's identity.
// Returns UNAUTHENTICATED as Verify does, and for a service token.
func (v *Verifier) VerifyUser(ctx context.Context, token string) (Identity, error) {
	id, err := v.Verify(ctx, token)
	if err != nil {
		return Identity{}, err
	}
	if id.Role == RoleService {
		return Identity{}, apperr.Errorf(apperr.Unauthenticated, "a service token is not a user's token")
	}
	return id, nil
}

// Verify checks token's signature, issuer and lifetime and returns the
// identity it carries.
// Returns UNAUTHENTICATED if the token is expired, forged, unsigned
// (alg none) or malformed.
func (v *Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	set, err := v.keys.Keys(ctx)
	if err != nil {
		return Identity{}, fmt.Errorf("verify token: %w", err)
	}
	if e, ok := v.verified.GetIfPresent(token); ok && e.set == set {
		if v.now().After(e.id.Expires.Add(acceptableSkew)) {
			v.verified.Invalidate(token)
			return Identity{}, apperr.Errorf(apperr.Unauthenticated, "token expired")
		}
		id := e.id
		id.Scopes, id.Audience = slices.Clone(id.Scopes), slices.Clone(id.Audience)
		return id, nil
	}
	id, err := v.verify(token, set)
	if err != nil {
		return Identity{}, err
	}
	if !id.Expires.IsZero() {
		v.verified.Set(token, verified{id: id, set: set})
		id.Scopes, id.Audience = slices.Clone(id.Scopes), slices.Clone(id.Audience)
	}
	return id, nil
}

// acceptableSkew is the clock skew tolerated on a token's lifetime.
const acceptableSkew = 5 * time.Second

// verify checks token against set (see Verify).
func (v *Verifier) verify(token string, set jwk.Set) (Identity, error) {
	tok, err := jwt.ParseString(token,
		jwt.WithKeySet(set),
		jwt.WithValidate(true),
		jwt.WithIssuer(Issuer),
		jwt.WithClock(jwt.ClockFunc(v.now)),
		jwt.WithAcceptableSkew(acceptableSkew),
	)
	if err != nil {
		if errors.Is(err, jwt.TokenExpiredError()) {
			return Identity{}, apperr.Errorf(apperr.Unauthenticated, "token expired")
		}
		return Identity{}, apperr.Errorf(apperr.Unauthenticated, "invalid token")
	}
	sub, _ := tok.Subject()
	var role, email string
	_ = tok.Get("role", &role)
	_ = tok.Get("email", &email)
	if sub == "" || role == "" {
		return Identity{}, apperr.Errorf(apperr.Unauthenticated, "invalid token")
	}
	exp, _ := tok.Expiration()
	id := Identity{UserID: sub, Email: email, Role: role, Token: token, Expires: exp}
	if role == RoleService {
		var scope string
		_ = tok.Get("scope", &scope)
		id.Scopes = strings.Fields(scope)
		id.Audience, _ = tok.Audience()
		if len(id.Audience) == 0 {
			return Identity{}, apperr.Errorf(apperr.Unauthenticated, "invalid token: a service token needs an audience")
		}
	}
	return id, nil
}

// JWKSHandler serves set as a JSON Web Key Set.
func JWKSHandler(set jwk.Set) http.Handler {
	body, err := json.Marshal(set)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err != nil {
			http.Error(w, "jwks unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	})
}

// randomID returns 16 random bytes in hex.
func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
