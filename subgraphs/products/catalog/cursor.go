package catalog

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// Sort is the order of a product list. Ties are broken by product ID, in
// the same direction, so that every order is total and pages are stable.
type Sort string

// Product orders.
const (
	SortNewest    Sort = "NEWEST"     // createdAt descending
	SortNameAsc   Sort = "NAME_ASC"   // SortName ascending
	SortNameDesc  Sort = "NAME_DESC"  // SortName descending
	SortPriceAsc  Sort = "PRICE_ASC"  // MinPrice ascending
	SortPriceDesc Sort = "PRICE_DESC" // MinPrice descending
)

// Valid reports whether s is one of the orders.
func (s Sort) Valid() bool {
	switch s {
	case SortNewest, SortNameAsc, SortNameDesc, SortPriceAsc, SortPriceDesc:
		return true
	}
	return false
}

// Descending reports whether s lists the largest key first.
func (s Sort) Descending() bool {
	return s == SortNewest || s == SortNameDesc || s == SortPriceDesc
}

// Cursor is a position in a product list: the sort key of a product and
// its ID. Only the key of Sort is set.
type Cursor struct {
	Sort Sort
	ID   string
	// CreatedAt for SortNewest (millisecond precision).
	CreatedAt time.Time
	// Name is the SortName for the name orders.
	Name string
	// Price is the MinPrice amount for the price orders.
	Price int64
}

// CursorOf returns the position of p in a list sorted by s.
func CursorOf(p *Product, s Sort) Cursor {
	c := Cursor{Sort: s, ID: p.ID}
	switch s {
	case SortNewest:
		c.CreatedAt = p.CreatedAt
	case SortNameAsc, SortNameDesc:
		c.Name = SortName(p.Name)
	case SortPriceAsc, SortPriceDesc:
		c.Price = p.MinPrice().Amount
	}
	return c
}

type cursorJSON struct {
	S  Sort    `json:"s"`
	ID string  `json:"i"`
	T  *int64  `json:"t,omitempty"`
	N  *string `json:"n,omitempty"`
	P  *int64  `json:"p,omitempty"`
}

// Encode returns the opaque text form of c.
func (c Cursor) Encode() string {
	j := cursorJSON{S: c.Sort, ID: c.ID}
	switch c.Sort {
	case SortNewest:
		ms := c.CreatedAt.UnixMilli()
		j.T = &ms
	case SortNameAsc, SortNameDesc:
		j.N = &c.Name
	case SortPriceAsc, SortPriceDesc:
		j.P = &c.Price
	}
	b, _ := json.Marshal(j)
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
	if err := json.Unmarshal(raw, &j); err != nil || j.ID == "" || !j.S.Valid() {
		return Cursor{}, bad
	}
	c := Cursor{Sort: j.S, ID: j.ID}
	switch j.S {
	case SortNewest:
		if j.T == nil {
			return Cursor{}, bad
		}
		c.CreatedAt = time.UnixMilli(*j.T).UTC()
	case SortNameAsc, SortNameDesc:
		if j.N == nil {
			return Cursor{}, bad
		}
		c.Name = *j.N
	case SortPriceAsc, SortPriceDesc:
		if j.P == nil {
			return Cursor{}, bad
		}
		c.Price = *j.P
	}
	return c, nil
}
