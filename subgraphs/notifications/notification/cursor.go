package notification

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// Cursor is a position in a user's notifications, newest first: the
// creation time (milliseconds, as the store keeps it) and ID of the last
// notification of a page.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// CursorOf returns the position of n.
func CursorOf(n *Notification) Cursor {
	return Cursor{CreatedAt: n.CreatedAt, ID: n.ID}
}

type cursorJSON struct {
	T  int64  `json:"t"`
	ID string `json:"i"`
}

// Encode returns the opaque text form of c.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(cursorJSON{T: c.CreatedAt.UnixMilli(), ID: c.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a cursor made by Encode.
// Returns INVALID_INPUT (field "after") if s is not such a cursor.
func DecodeCursor(s string) (Cursor, error) {
	bad := apperr.Invalid("after", "malformed cursor %q: pass the cursor or endCursor of a previous page", s)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	var j cursorJSON
	if err := json.Unmarshal(raw, &j); err != nil || j.ID == "" || j.T <= 0 {
		return Cursor{}, bad
	}
	return Cursor{CreatedAt: time.UnixMilli(j.T).UTC(), ID: j.ID}, nil
}
