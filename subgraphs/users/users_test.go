package users_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

const password = "tangerine-sky-42"

func TestUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := server(t, e.config(t))

	t.Run("session lifecycle", func(t *testing.T) {
		t.Parallel()
		email := uniqueEmail("Ada")
		reg := c.register(t, "  "+strings.ToUpper(email)+" ", password, " Ada Lovelace ")
		if reg.TokenType != "Bearer" || reg.AccessToken == "" || reg.RefreshToken == "" {
			t.Fatalf("register payload %+v", reg)
		}
		if until := time.Until(reg.ExpiresAt); until < 14*time.Minute || until > 16*time.Minute {
			t.Fatalf("access token expires in %v; want 15m", until)
		}
		u := reg.User
		if u.Email != email || u.Name != "Ada Lovelace" || u.Role != "CUSTOMER" || u.Phone != nil || time.Since(u.CreatedAt) > time.Minute {
			t.Fatalf("registered user %+v", u)
		}
		if typ, _, err := gid.Decode(u.ID); err != nil || typ != "User" {
			t.Fatalf("user id %q is not a User global ID", u.ID)
		}
		if me := c.me(t, reg.AccessToken); me.ID != u.ID || me.Email != email {
			t.Fatalf("me = %+v; want the registered user", me)
		}

		login := c.login(t, strings.ToUpper(email), password)
		if login.User.ID != u.ID || login.RefreshToken == reg.RefreshToken {
			t.Fatalf("login payload %+v", login)
		}
		if me := c.me(t, login.AccessToken); me.ID != u.ID {
			t.Fatalf("me with the login's token = %+v", me)
		}

		var r1 authPayload
		c.ok(t, "", refreshMutation, map[string]any{"t": login.RefreshToken}, "refreshToken", &r1)
		if r1.RefreshToken == login.RefreshToken || r1.User.ID != u.ID || r1.TokenType != "Bearer" {
			t.Fatalf("refresh payload %+v", r1)
		}
		if me := c.me(t, r1.AccessToken); me.ID != u.ID {
			t.Fatalf("me with the refreshed token = %+v", me)
		}

		// The exchanged token fails, and presenting it again revokes the
		// whole family: the token it was exchanged for fails too.
		c.fails(t, "", refreshMutation, map[string]any{"t": login.RefreshToken}, "UNAUTHENTICATED", "")
		c.fails(t, "", refreshMutation, map[string]any{"t": r1.RefreshToken}, "UNAUTHENTICATED", "")
		// Other sessions (the registration's) are untouched.
		var r2 authPayload
		c.ok(t, "", refreshMutation, map[string]any{"t": reg.RefreshToken}, "refreshToken", &r2)

		// Logout ends that session, once.
		var out bool
		c.ok(t, "", `mutation($t: String!) { logout(refreshToken: $t) }`, map[string]any{"t": r2.RefreshToken}, "logout", &out)
		if !out {
			t.Fatal("logout returned false for a live session")
		}
		c.fails(t, "", refreshMutation, map[string]any{"t": r2.RefreshToken}, "UNAUTHENTICATED", "")
		c.ok(t, "", `mutation($t: String!) { logout(refreshToken: $t) }`, map[string]any{"t": r2.RefreshToken}, "logout", &out)
		if out {
			t.Fatal("second logout returned true")
		}
		if n := e.count(t, `SELECT count(*) FROM refresh_tokens rt JOIN users u ON u.id = rt.user_id
			WHERE u.email = $1 AND rt.revoked_at IS NULL`, email); n != 0 {
			t.Fatalf("%d refresh tokens still live after reuse and logout", n)
		}
	})

	t.Run("refresh and logout with unknown tokens", func(t *testing.T) {
		t.Parallel()
		for _, tok := range []string{"", "not-a-token", b64(strings.Repeat("x", 32)), strings.Repeat("A", 500)} {
			c.fails(t, "", refreshMutation, map[string]any{"t": tok}, "UNAUTHENTICATED", "")
			c.fails(t, "", `mutation($t: String!) { logout(refreshToken: $t) }`, map[string]any{"t": tok}, "UNAUTHENTICATED", "")
		}
	})

	t.Run("refresh tokens are stored only hashed", func(t *testing.T) {
		t.Parallel()
		p := c.register(t, uniqueEmail("hash"), password, "Hash")
		if n := e.count(t, `SELECT count(*) FROM refresh_tokens WHERE token_hash = convert_to($1, 'UTF8')
			OR encode(token_hash, 'base64') LIKE '%' || $1 || '%'`, p.RefreshToken); n != 0 {
			t.Fatal("the refresh token is stored in plain")
		}
		if n := e.count(t, `SELECT count(*) FROM refresh_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))`, p.RefreshToken); n != 1 {
			t.Fatalf("%d tokens stored under the SHA-256 of the refresh token; want 1", n)
		}
	})

	t.Run("register rejects bad input and stores nothing", func(t *testing.T) {
		t.Parallel()
		taken := uniqueEmail("taken")
		local := "lovelace" + testenv.ID()
		c.register(t, taken, password, "Taken")
		tests := []struct {
			name, email, password, userName, code, field, msg string
		}{
			{"duplicate email", taken, password, "Other", "CONFLICT", "", "email already registered"},
			{"duplicate email in other case", strings.ToUpper(taken), password, "Other", "CONFLICT", "", "email already registered"},
			{"malformed email", "ada-at-example.com", password, "Ada", "INVALID_INPUT", "email", ""},
			{"email without dotted domain", "ada@localhost", password, "Ada", "INVALID_INPUT", "email", ""},
			{"short password", uniqueEmail("short"), "abc123!", "Ada", "INVALID_INPUT", "password", "at least 10"},
			{"password without digit or symbol", uniqueEmail("letters"), "onlyletters", "Ada", "INVALID_INPUT", "password", ""},
			{"common password", uniqueEmail("common"), "Password123", "Ada", "INVALID_INPUT", "password", "common"},
			{"password with email", local + "@example.com", "My-" + strings.ToUpper(local) + "!", "Ada", "INVALID_INPUT", "password", "email"},
			{"empty name", uniqueEmail("noname"), password, "  ", "INVALID_INPUT", "name", ""},
			{"long name", uniqueEmail("longname"), password, strings.Repeat("n", 101), "INVALID_INPUT", "name", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				err := c.fails(t, "", registerMutation, map[string]any{"in": map[string]any{
					"email": tt.email, "password": tt.password, "name": tt.userName}}, tt.code, tt.field)
				if !strings.Contains(err.Message, tt.msg) {
					t.Fatalf("message %q; want it to mention %q", err.Message, tt.msg)
				}
				if n := e.count(t, `SELECT count(*) FROM users WHERE email = lower(trim($1)) AND name <> 'Taken'`, tt.email); n != 0 {
					t.Fatalf("a user with %s was stored", tt.email)
				}
			})
		}
	})

	t.Run("login failures look the same", func(t *testing.T) {
		t.Parallel()
		email := uniqueEmail("grace")
		c.register(t, email, password, "Grace")
		wrong := c.fails(t, "", loginMutation, map[string]any{"in": map[string]any{"email": email, "password": "wrong-password-1"}}, "UNAUTHENTICATED", "")
		unknown := c.fails(t, "", loginMutation, map[string]any{"in": map[string]any{"email": uniqueEmail("nobody"), "password": password}}, "UNAUTHENTICATED", "")
		empty := c.fails(t, "", loginMutation, map[string]any{"in": map[string]any{"email": "", "password": ""}}, "UNAUTHENTICATED", "")
		for _, e := range []gqlError{wrong, unknown, empty} {
			if e.Message != "invalid email or password" {
				t.Fatalf("message %q; want \"invalid email or password\"", e.Message)
			}
		}
	})

	t.Run("bad access tokens", func(t *testing.T) {
		t.Parallel()
		p := c.register(t, uniqueEmail("tok"), password, "Tok")
		sub := mustKey(t, p.User.ID)

		expiredSigner, err := auth.NewSigner(e.key, time.Minute, func() time.Time { return time.Now().Add(-time.Hour) })
		if err != nil {
			t.Fatal(err)
		}
		expired, _, err := expiredSigner.Issue(auth.Identity{UserID: sub, Role: "CUSTOMER"})
		if err != nil {
			t.Fatal(err)
		}
		otherKey, _ := testenv.SigningKey(t)
		forged := testenv.Token(t, otherKey, sub, "ADMIN")
		algNone := b64(`{"alg":"none","typ":"JWT"}`) + "." +
			b64(`{"iss":"shopgraph","sub":"`+sub+`","role":"ADMIN","exp":`+jsonNum(time.Now().Add(time.Hour).Unix())+`}`) + "."
		// The valid token with its signature swapped for another token's.
		parts := strings.Split(p.AccessToken, ".")
		swapped := parts[0] + "." + parts[1] + "." + strings.Split(forged, ".")[2]

		tests := map[string]string{"expired": expired, "signed with another key": forged, "alg none": algNone,
			"signature swapped": swapped, "garbage": "not.a.jwt"}
		for name, tok := range tests {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				r := c.do(t, tok, `{ me { id } }`, nil)
				if r.Status != http.StatusUnauthorized || len(r.Errors) != 1 || r.Errors[0].Extensions.Code != "UNAUTHENTICATED" || r.Data["me"] != nil {
					t.Fatalf("status %d, errors %+v, data %s; want 401 UNAUTHENTICATED and no data", r.Status, r.Errors, r.Data)
				}
			})
		}
		t.Run("anonymous me", func(t *testing.T) {
			t.Parallel()
			c.fails(t, "", `{ me { id } }`, nil, "UNAUTHENTICATED", "")
		})
	})

	t.Run("profile", func(t *testing.T) {
		t.Parallel()
		p := c.register(t, uniqueEmail("prof"), password, "Prof")
		const m = `mutation($in: UpdateProfileInput!) { updateProfile(input: $in) { ` + userFields + ` } }`
		var u userJSON
		c.ok(t, p.AccessToken, m, map[string]any{"in": map[string]any{"name": " Prof. X ", "phone": "+1 (415) 555-0123"}}, "updateProfile", &u)
		if u.Name != "Prof. X" || u.Phone == nil || *u.Phone != "+14155550123" {
			t.Fatalf("updated %+v", u)
		}
		c.fails(t, p.AccessToken, m, map[string]any{"in": map[string]any{"name": "New Name", "phone": "555-0123"}}, "INVALID_INPUT", "phone")
		c.fails(t, p.AccessToken, m, map[string]any{"in": map[string]any{"name": ""}}, "INVALID_INPUT", "name")
		if me := c.me(t, p.AccessToken); me.Name != "Prof. X" || *me.Phone != "+14155550123" {
			t.Fatalf("a rejected update changed the profile: %+v", me)
		}
		c.ok(t, p.AccessToken, m, map[string]any{"in": map[string]any{"phone": ""}}, "updateProfile", &u)
		if u.Phone != nil || u.Name != "Prof. X" {
			t.Fatalf("after removing the phone: %+v", u)
		}
		c.fails(t, "", m, map[string]any{"in": map[string]any{"name": "Anon"}}, "UNAUTHENTICATED", "")
	})

	t.Run("address book", func(t *testing.T) { t.Parallel(); testAddresses(t, e, c) })
	t.Run("who sees what", func(t *testing.T) { t.Parallel(); testVisibility(t, e, c) })
	t.Run("rate limits", func(t *testing.T) { t.Parallel(); testRateLimits(t, e) })
	t.Run("registration rate limit", func(t *testing.T) { t.Parallel(); testRegisterRateLimit(t, e) })
	t.Run("refresh token expiry", func(t *testing.T) {
		t.Parallel()
		clock := &fakeClock{t: time.Now()}
		cfg := e.config(t)
		cfg.Now = clock.Now
		cfg.RefreshTTL = time.Hour
		c := server(t, cfg)
		p := c.register(t, uniqueEmail("exp"), password, "Exp")
		clock.Advance(59 * time.Minute)
		var r authPayload
		c.ok(t, "", refreshMutation, map[string]any{"t": p.RefreshToken}, "refreshToken", &r)
		clock.Advance(59 * time.Minute) // the new token lives an hour from its issue
		c.ok(t, "", refreshMutation, map[string]any{"t": r.RefreshToken}, "refreshToken", &r)
		clock.Advance(61 * time.Minute)
		err := c.fails(t, "", refreshMutation, map[string]any{"t": r.RefreshToken}, "UNAUTHENTICATED", "")
		if !strings.Contains(err.Message, "expired") {
			t.Fatalf("message %q; want it to say expired", err.Message)
		}
	})
	t.Run("admin bootstrap", func(t *testing.T) { t.Parallel(); testAdmin(t, e, c) })
	t.Run("jwks", func(t *testing.T) {
		t.Parallel()
		res, err := http.Get(c.url + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		set, err := jwk.Parse(body)
		if err != nil || res.StatusCode != http.StatusOK || set.Len() != 1 {
			t.Fatalf("status %d, %d keys, %v: %s", res.StatusCode, set.Len(), err, body)
		}
		if strings.Contains(string(body), `"d"`) {
			t.Fatal("JWKS contains a private key")
		}
		p := c.register(t, uniqueEmail("jwks"), password, "Jwks")
		id, err := auth.NewVerifier(auth.StaticKeys{Set: set}, nil).Verify(context.Background(), p.AccessToken)
		if err != nil || id.UserID != mustKey(t, p.User.ID) || id.Role != "CUSTOMER" || id.Email != p.User.Email {
			t.Fatalf("verified against the JWKS: %+v, %v", id, err)
		}
	})
}

func mustKey(t *testing.T, id string) string {
	t.Helper()
	typ, key, err := gid.Decode(id)
	if err != nil {
		t.Fatal(err)
	}
	_ = typ
	return key
}

func jsonNum(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
