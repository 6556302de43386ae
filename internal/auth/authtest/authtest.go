// Package authtest makes signing keys for tests: the auth package's own
// tests and the test environment (internal/testenv) share it.
package authtest

import (
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/shopgraph/shopgraph/internal/auth"
)

// KeyPair returns a fresh Ed25519 signing key and the public key set that
// verifies it.
func KeyPair(t testing.TB) (jwk.Key, jwk.Set) {
	t.Helper()
	pemKey, err := auth.GenerateEd25519PEM()
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.ParsePrivateKeyPEM(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	set, err := auth.PublicSet(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, set
}
