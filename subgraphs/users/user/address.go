package user

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// MaxAddresses is how many addresses one user may keep.
const MaxAddresses = 50

// Address is a postal address in a user's address book.
type Address struct {
	// ID is a UUID: the local key of the address's global ID.
	ID     string
	UserID string
	// Recipient, Line1, City, PostalCode and Country are required; the
	// other strings may be empty.
	Recipient  string
	Line1      string
	Line2      string
	City       string
	Region     string
	PostalCode string
	// Country is an ISO 3166-1 alpha-2 code in upper case.
	Country string
	// Phone is in international form (+ and digits), or empty.
	Phone string
	// IsDefault marks the user's one default address.
	IsDefault bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AddressInput is an address as a client gives it.
type AddressInput struct {
	Recipient, Line1, Line2, City, Region, PostalCode, Country, Phone string
	// IsDefault, if set, makes the address the default one (true) or not
	// (false).
	IsDefault *bool
}

// check validates and normalizes the input into the fields of a.
// Returns INVALID_INPUT naming the first field at fault.
func (in AddressInput) check(a *Address) error {
	var err error
	text := func(dst *string, field, label, s string, minLen, maxLen int) {
		if err == nil {
			*dst, err = CheckText(field, label, s, minLen, maxLen)
		}
	}
	var out Address
	text(&out.Recipient, "recipient", "recipient", in.Recipient, 1, 100)
	text(&out.Line1, "line1", "address line 1", in.Line1, 1, 200)
	text(&out.Line2, "line2", "address line 2", in.Line2, 0, 200)
	text(&out.City, "city", "city", in.City, 1, 100)
	text(&out.Region, "region", "region", in.Region, 0, 100)
	text(&out.PostalCode, "postalCode", "postal code", in.PostalCode, 1, 20)
	if err != nil {
		return err
	}
	if !postalCode.MatchString(out.PostalCode) {
		return apperr.Invalid("postalCode", "postal code may contain only letters, digits, spaces and dashes")
	}
	if out.Country, err = CheckCountry("country", in.Country); err != nil {
		return err
	}
	if out.Phone, err = CheckPhone("phone", in.Phone); err != nil {
		return err
	}
	a.Recipient, a.Line1, a.Line2, a.City, a.Region = out.Recipient, out.Line1, out.Line2, out.City, out.Region
	a.PostalCode, a.Country, a.Phone = strings.ToUpper(out.PostalCode), out.Country, out.Phone
	return nil
}

var postalCode = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 -]*$`)

// notISO are two-letter codes that x/text/language knows as countries but
// that are not assigned ISO 3166-1 alpha-2 codes (any more): the Netherlands
// Antilles, Serbia and Montenegro, the Neutral Zone, the Soviet Union,
// Yugoslavia, and the user-assigned XK.
var notISO = map[string]bool{"AN": true, "CS": true, "NT": true, "SU": true, "YU": true, "XK": true}

// CheckCountry returns the ISO 3166-1 alpha-2 code in upper case.
// Returns INVALID_INPUT naming field if code is not a currently assigned one.
func CheckCountry(field, code string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(code))
	bad := apperr.Invalid(field, "%q is not an ISO 3166-1 alpha-2 country code such as US or DE", code)
	if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' || notISO[c] {
		return "", bad
	}
	r, err := language.ParseRegion(c)
	// Canonicalize maps retired codes (BU, DD, ZR, UK…) to their successors;
	// M49 is 0 for the exceptionally reserved ones (AC, EA, IC, UN…).
	if err != nil || !r.IsCountry() || r.Canonicalize() != r || r.M49() == 0 || r.String() != c {
		return "", bad
	}
	return c, nil
}

// AddressBook is one user's addresses. Its methods apply the rules: valid
// fields, at most MaxAddresses, at most one default, the first address the
// default.
type AddressBook struct {
	UserID    string
	Addresses []Address
}

func (b *AddressBook) index(id string) int {
	return slices.IndexFunc(b.Addresses, func(a Address) bool { return a.ID == id })
}

func notFound() error { return apperr.Errorf(apperr.NotFound, "no such address") }

// Add adds a new address with id, created at now.
// Returns INVALID_INPUT for a bad field and CONFLICT if the book is full.
func (b *AddressBook) Add(id string, in AddressInput, now time.Time) (Address, error) {
	a := Address{ID: id, UserID: b.UserID, CreatedAt: now, UpdatedAt: now}
	if err := in.check(&a); err != nil {
		return Address{}, err
	}
	if len(b.Addresses) >= MaxAddresses {
		return Address{}, apperr.Errorf(apperr.Conflict, "an address book holds at most %d addresses; remove one first", MaxAddresses)
	}
	b.Addresses = append(b.Addresses, a)
	if len(b.Addresses) == 1 || (in.IsDefault != nil && *in.IsDefault) {
		b.setDefault(id)
	}
	return b.get(id), nil
}

// Update replaces the fields of the address with id.
// Returns NOT_FOUND if the book has no such address and INVALID_INPUT for a
// bad field.
func (b *AddressBook) Update(id string, in AddressInput, now time.Time) (Address, error) {
	i := b.index(id)
	if i < 0 {
		return Address{}, notFound()
	}
	a := b.Addresses[i]
	if err := in.check(&a); err != nil {
		return Address{}, err
	}
	a.UpdatedAt = now
	b.Addresses[i] = a
	if in.IsDefault != nil {
		if *in.IsDefault {
			b.setDefault(id)
		} else {
			b.Addresses[i].IsDefault = false
		}
	}
	return b.get(id), nil
}

// Remove removes the address with id.
// Returns NOT_FOUND if the book has no such address.
func (b *AddressBook) Remove(id string) error {
	i := b.index(id)
	if i < 0 {
		return notFound()
	}
	b.Addresses = slices.Delete(b.Addresses, i, i+1)
	return nil
}

// SetDefault makes the address with id the default one, and no other.
// Returns NOT_FOUND if the book has no such address.
func (b *AddressBook) SetDefault(id string, now time.Time) (Address, error) {
	i := b.index(id)
	if i < 0 {
		return Address{}, notFound()
	}
	for j := range b.Addresses {
		if b.Addresses[j].IsDefault != (j == i) {
			b.Addresses[j].UpdatedAt = now
		}
	}
	b.setDefault(id)
	return b.get(id), nil
}

func (b *AddressBook) setDefault(id string) {
	for j := range b.Addresses {
		b.Addresses[j].IsDefault = b.Addresses[j].ID == id
	}
}

func (b *AddressBook) get(id string) Address { return b.Addresses[b.index(id)] }

// SortAddresses sorts an address book for display: the default address
// first, then the oldest first.
func SortAddresses(as []Address) {
	slices.SortStableFunc(as, func(x, y Address) int {
		switch {
		case x.IsDefault != y.IsDefault:
			if x.IsDefault {
				return -1
			}
			return 1
		case !x.CreatedAt.Equal(y.CreatedAt):
			return x.CreatedAt.Compare(y.CreatedAt)
		}
		return strings.Compare(x.ID, y.ID)
	})
}
