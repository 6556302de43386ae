package auth_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/auth/authtest"
)

// swappableKeys is a KeySource whose set a test replaces, as a JWKS refresh
// does after a key rotation.
type swappableKeys struct {
	mu  sync.Mutex
	set jwk.Set
}

func (k *swappableKeys) Keys(context.Context) (jwk.Set, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.set, nil
}

func (k *swappableKeys) swap(set jwk.Set) {
	k.mu.Lock()
	k.set = set
	k.mu.Unlock()
}

// TestVerifiedTokensStillExpire: a token the verifier has seen (and so
// remembers) is refused once it expires, like one it has never seen.
func TestVerifiedTokensStillExpire(t *testing.T) {
	t.Parallel()
	key, set := authtest.KeyPair(t)
	start := time.Now()
	var mu sync.Mutex
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	signer, err := auth.NewSigner(key, time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	v := auth.NewVerifier(auth.StaticKeys{Set: set}, clock)
	tok, _, _ := signer.Issue(auth.Identity{UserID: "u1", Role: auth.RoleCustomer})
	for range 2 {
		if id, err := v.Verify(context.Background(), tok); err != nil || id.UserID != "u1" {
			t.Fatalf("Verify = %+v, %v", id, err)
		}
	}
	mu.Lock()
	now = start.Add(2 * time.Minute)
	mu.Unlock()
	for range 2 {
		if _, err := v.Verify(context.Background(), tok); apperr.Code(err) != apperr.Unauthenticated {
			t.Fatalf("Verify(expired, seen before) = %v, want UNAUTHENTICATED", err)
		}
	}
}

// TestVerifiedTokensFollowTheKeySet: when the key set changes and no longer
// holds the key that signed a remembered token, the token is refused.
func TestVerifiedTokensFollowTheKeySet(t *testing.T) {
	t.Parallel()
	key, set := authtest.KeyPair(t)
	_, otherSet := authtest.KeyPair(t)
	keys := &swappableKeys{set: set}
	v := auth.NewVerifier(keys, nil)
	signer, _ := auth.NewSigner(key, time.Minute, nil)
	tok, _, _ := signer.IssueService("orders", "products", []string{auth.ScopeVariantsRead}, time.Minute)
	id, err := v.Verify(context.Background(), tok)
	if err != nil || id.Role != auth.RoleService || !id.HasScope(auth.ScopeVariantsRead) {
		t.Fatalf("Verify = %+v, %v", id, err)
	}
	// What a caller does with the identity does not change what is remembered.
	id.Scopes[0] = "everything"
	if again, err := v.Verify(context.Background(), tok); err != nil || !again.HasScope(auth.ScopeVariantsRead) || !again.For("products") {
		t.Fatalf("Verify again = %+v, %v", again, err)
	}
	keys.swap(otherSet)
	if _, err := v.Verify(context.Background(), tok); apperr.Code(err) != apperr.Unauthenticated {
		t.Fatalf("Verify after the key left the set = %v, want UNAUTHENTICATED", err)
	}
}

// BenchmarkVerify: the same token verified again (as each service a request
// reaches does, and every request of a session) against the first time.
//
//	go test -run '^$' -bench Verify -count 5 ./internal/auth/
func BenchmarkVerify(b *testing.B) {
	key, set := authtest.KeyPair(b)
	signer, _ := auth.NewSigner(key, time.Hour, nil)
	b.Run("first", func(b *testing.B) {
		toks := make([]string, b.N)
		for i := range toks {
			// A user each: tokens with equal claims issued in the same
			// second are the same token.
			toks[i], _, _ = signer.Issue(auth.Identity{UserID: fmt.Sprint("u", i), Role: auth.RoleCustomer})
		}
		v := auth.NewVerifier(auth.StaticKeys{Set: set}, nil)
		b.ResetTimer()
		for i := range b.N {
			if _, err := v.Verify(context.Background(), toks[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("again", func(b *testing.B) {
		tok, _, _ := signer.Issue(auth.Identity{UserID: "u1", Role: auth.RoleCustomer})
		v := auth.NewVerifier(auth.StaticKeys{Set: set}, nil)
		for b.Loop() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
