package user

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"
)

// RefreshToken is a stored refresh token. The token itself is never stored:
// only its SHA-256 hash. Each belongs to a family, the chain of tokens that
// descend from one sign-in by rotation; revoking the family ends the session.
type RefreshToken struct {
	Hash      []byte
	FamilyID  string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is when the token was exchanged for its successor, if it was.
	UsedAt *time.Time
	// RevokedAt is when the token's family was revoked, if it was.
	RevokedAt *time.Time
}

// refreshTokenBytes is the entropy of a refresh token.
const refreshTokenBytes = 32

// newRefreshToken returns a new random refresh token (32 bytes, base64url)
// and its hash.
func newRefreshToken() (token string, hash []byte, err error) {
	b := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("refresh token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashRefreshToken(token), nil
}

// HashRefreshToken returns the SHA-256 hash of a refresh token, the form in
// which it is stored and looked up.
func HashRefreshToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// wellFormedRefreshToken reports whether token could be one we issued; others
// are refused without a look-up.
func wellFormedRefreshToken(token string) bool {
	b, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil && len(b) == refreshTokenBytes
}

// Session is what signing in yields.
type Session struct {
	AccessToken string
	// AccessExpiresAt is when the access token expires.
	AccessExpiresAt time.Time
	RefreshToken    string
	User            User
}
