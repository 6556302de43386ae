package order

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// EncodeCursor returns the opaque cursor of o in a newest-first page.
func EncodeCursor(o *Order) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(o.CreatedAt.UnixMicro(), 10) + ":" + o.ID))
}

// DecodeCursor returns the position an opaque cursor names; nil for "".
// Returns INVALID_INPUT for a cursor this service did not make.
func DecodeCursor(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	bad := apperr.Invalid("after", "malformed cursor %q: pass the cursor of an order of the previous page", s)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	at, id, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, bad
	}
	us, err := strconv.ParseInt(at, 10, 64)
	if err != nil || !ValidID(id) {
		return nil, bad
	}
	return &Cursor{CreatedAt: time.UnixMicro(us).UTC(), ID: id}, nil
}

// ValidID reports whether id is a well-formed order ID (a UUID); a
// malformed one names no order.
func ValidID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}
