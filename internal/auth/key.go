package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// ParsePrivateKeyPEM parses a PKCS#8 PEM private key (Ed25519 or RSA) into a
// signing key whose key ID is its RFC 7638 thumbprint.
func ParsePrivateKeyPEM(data []byte) (jwk.Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	raw, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if rk, rerr := x509.ParsePKCS1PrivateKey(block.Bytes); rerr == nil {
			raw = rk
		} else {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
	}
	var alg jwa.SignatureAlgorithm
	switch raw.(type) {
	case ed25519.PrivateKey:
		alg = jwa.EdDSA()
	case *rsa.PrivateKey:
		alg = jwa.RS256()
	default:
		return nil, fmt.Errorf("unsupported key type %T: want Ed25519 or RSA", raw)
	}
	key, err := jwk.Import(raw)
	if err != nil {
		return nil, fmt.Errorf("import key: %w", err)
	}
	if err := key.Set(jwk.AlgorithmKey, alg); err != nil {
		return nil, err
	}
	if err := jwk.AssignKeyID(key); err != nil {
		return nil, fmt.Errorf("assign key id: %w", err)
	}
	return key, nil
}

// GenerateEd25519PEM returns a new Ed25519 private key in PKCS#8 PEM.
func GenerateEd25519PEM() ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadOrCreateKeyFile reads the PEM key at path, generating and saving an
// Ed25519 key there (mode 0600) if the file does not exist. All-in-one mode
// uses it so that tokens survive a restart without any configuration.
func LoadOrCreateKeyFile(path string) (jwk.Key, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		data, err = GenerateEd25519PEM()
		if err != nil {
			return nil, fmt.Errorf("generate signing key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create key directory: %w", err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("save signing key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	return ParsePrivateKeyPEM(data)
}

// PublicSet returns the JWKS that verifies tokens signed with the private keys.
func PublicSet(keys ...jwk.Key) (jwk.Set, error) {
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := k.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		if err := set.AddKey(pub); err != nil {
			return nil, err
		}
	}
	return set, nil
}
