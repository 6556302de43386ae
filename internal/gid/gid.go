// Package gid encodes and decodes Shopgraph's global IDs. A global ID names its
// type and the owning service's local key: base64url("Type:key"). Every service
// can tell from an ID which type it names; that is what nautilus relies on when
// it joins a type across services through node(id:).
package gid

import (
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// Encode returns the global ID of the entity of type typ with local key key.
func Encode(typ, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(typ + ":" + key))
}

// Decode returns the type and local key of a global ID.
// Returns INVALID_INPUT if id is not a well-formed global ID.
func Decode(id string) (typ, key string, err error) {
	raw, derr := base64.RawURLEncoding.DecodeString(strings.TrimRight(id, "="))
	if derr != nil {
		return "", "", apperr.Errorf(apperr.InvalidInput, "malformed ID %q", id)
	}
	typ, key, ok := strings.Cut(string(raw), ":")
	if !ok || typ == "" || key == "" {
		return "", "", apperr.Errorf(apperr.InvalidInput, "malformed ID %q", id)
	}
	// No key that a service issues holds a NUL, a control or format
	// character or broken UTF-8; refused here, they never reach a store
	// (PostgreSQL rejects NUL in text, which would be an internal error).
	if !utf8.Valid(raw) || strings.ContainsFunc(string(raw), invisible) {
		return "", "", apperr.Errorf(apperr.InvalidInput, "malformed ID %q: it holds control or invisible characters", id)
	}
	return typ, key, nil
}

// invisible reports whether r is a control (Cc) or format (Cf) character.
func invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// DecodeAs returns the local key of a global ID that must name type typ.
// Returns INVALID_INPUT if id is malformed or names another type.
func DecodeAs(id, typ string) (string, error) {
	t, key, err := Decode(id)
	if err != nil {
		return "", err
	}
	if t != typ {
		return "", apperr.Errorf(apperr.InvalidInput, "ID %q is not a %s", id, typ)
	}
	return key, nil
}
