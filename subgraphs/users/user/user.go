// Package user is the users service's domain: accounts, passwords, sessions
// (refresh-token families), the address book, and who may see what. It
// declares the store and the login limiter it needs; it imports no gqlgen,
// pgx, Redis or net/http.
package user

import (
	"context"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/invisible"
)

// Role is what a user may do.
type Role string

// Roles of users. They are the auth roles of the users' access tokens.
const (
	RoleCustomer Role = auth.RoleCustomer
	RoleAdmin    Role = auth.RoleAdmin
)

// User is a registered person.
type User struct {
	// ID is a UUID: the local key of the user's global ID and the subject of
	// their access tokens.
	ID string
	// Email is normalized: trimmed and in lower case.
	Email string
	Name  string
	// Phone is in international form (+ and digits), or empty.
	Phone string
	Role  Role
	// PasswordHash is an argon2id PHC string (see HashPassword).
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Identity returns the access-token identity of u.
func (u User) Identity() auth.Identity {
	return auth.Identity{UserID: u.ID, Email: u.Email, Role: string(u.Role)}
}

// Store keeps users, their address books and their refresh tokens. IDs are
// UUIDs; the Service never passes a malformed one.
type Store interface {
	// CreateUser stores a new user.
	// Returns CONFLICT "email already registered" if a user has that email.
	CreateUser(ctx context.Context, u User) error
	// User returns the user with id.
	// Returns NOT_FOUND if there is none.
	User(ctx context.Context, id string) (User, error)
	// UserByEmail returns the user with the (normalized) email.
	// Returns NOT_FOUND if there is none.
	UserByEmail(ctx context.Context, email string) (User, error)
	// UsersByIDs returns those of the users with ids that exist, by ID.
	UsersByIDs(ctx context.Context, ids []string) (map[string]User, error)
	// UpdateUser loads the user with id, locked for the transaction, calls fn
	// with it and saves what fn leaves (every field but ID and CreatedAt) if
	// fn returns nil. Nothing is saved if fn fails.
	// Returns NOT_FOUND if there is no such user, CONFLICT if the new email
	// is taken, and fn's error.
	UpdateUser(ctx context.Context, id string, fn func(*User) error) (User, error)

	// AddressesByIDs returns those of the addresses with ids that exist, by ID.
	AddressesByIDs(ctx context.Context, ids []string) (map[string]Address, error)
	// AddressesByUserIDs returns the address books of the users with ids,
	// each sorted as SortAddresses does; users without addresses are left out.
	AddressesByUserIDs(ctx context.Context, userIDs []string) (map[string][]Address, error)
	// UpdateAddressBook loads the address book of the user with userID,
	// locked for the transaction (changes to one user's book are serialized),
	// calls fn with it and, if fn returns nil, saves the addresses fn leaves:
	// new ones are inserted, changed ones updated, missing ones deleted. It
	// refuses to save a book with more than one default address. Nothing is
	// saved if fn fails.
	// Returns NOT_FOUND if there is no such user, and fn's error.
	UpdateAddressBook(ctx context.Context, userID string, fn func(*AddressBook) error) error

	// CreateRefreshToken stores a new refresh token.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RefreshToken returns the refresh token with the SHA-256 hash.
	// Returns NOT_FOUND if there is none.
	RefreshToken(ctx context.Context, hash []byte) (RefreshToken, error)
	// RotateRefreshToken marks the token with hash used at next.CreatedAt and
	// stores next, in one transaction, provided that the token is still
	// neither used nor revoked.
	// Returns CONFLICT if it was used or revoked meanwhile (a concurrent
	// rotation won) and NOT_FOUND if there is no such token.
	RotateRefreshToken(ctx context.Context, hash []byte, next RefreshToken) error
	// RevokeRefreshFamily revokes every token of the family at time at and
	// reports whether one of them was still live (not revoked, not expired).
	RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) (bool, error)
	// DeleteExpiredRefreshTokens deletes the user's refresh tokens that
	// expired before before.
	DeleteExpiredRefreshTokens(ctx context.Context, userID string, before time.Time) error
}

// LoginLimiter counts failed sign-in attempts per account and per client
// address within a window.
type LoginLimiter interface {
	// Reserve counts an attempt to sign in to account from addr as failed
	// until Succeeded says otherwise — before the password is checked, so
	// that concurrent guesses cannot slip under the limit. If the account or
	// the address has used up its attempts, it counts nothing and returns how
	// long until the window ends. An empty addr is not counted.
	Reserve(ctx context.Context, account, addr string) (retryAfter time.Duration, err error)
	// Succeeded clears the account's failed attempts and takes back the
	// attempt reserved for addr.
	Succeeded(ctx context.Context, account, addr string) error
}

// RegisterLimiter counts registration attempts per client address within a
// window.
type RegisterLimiter interface {
	// ReserveRegistration counts an attempt to register from addr, whatever
	// its outcome. If the address has used up its attempts, it counts
	// nothing and returns how long until the window ends. An empty addr is
	// not counted.
	ReserveRegistration(ctx context.Context, addr string) (retryAfter time.Duration, err error)
}

// NewID returns a new random UUID for a user or an address.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// ValidID reports whether id is a UUID in canonical form, as IDs are.
func ValidID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}

// NormalizeEmail returns email trimmed, in Unicode normal form NFKC and in
// lower case, so that look-alikes (full-width letters, ligatures,
// compatibility characters) name the same account.
func NormalizeEmail(email string) string {
	return strings.ToLower(norm.NFKC.String(strings.TrimSpace(email)))
}

// CheckEmail normalizes email and checks that it is a plain address
// (no display name) with a dotted domain.
// Returns INVALID_INPUT naming field otherwise.
func CheckEmail(field, email string) (string, error) {
	e := NormalizeEmail(email)
	bad := apperr.Invalid(field, "%q is not a valid email address such as ada@example.com", email)
	if e == "" {
		return "", apperr.Invalid(field, "email is required")
	}
	if !utf8.ValidString(e) || invisible.In(e) {
		return "", apperr.Invalid(field, "email must not contain invisible or control characters")
	}
	if len(e) > 254 {
		return "", apperr.Invalid(field, "email is longer than 254 characters")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return "", bad
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || len(local) > 64 || strings.HasPrefix(local, "\"") {
		return "", bad
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "", bad
	}
	for _, l := range labels {
		if !domainLabel.MatchString(l) {
			return "", bad
		}
	}
	return e, nil
}

var domainLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// CheckText trims s and checks that it is valid UTF-8 of min to max
// characters with no invisible characters (see internal/invisible).
// Returns INVALID_INPUT naming field otherwise.
func CheckText(field, label, s string, minLen, maxLen int) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", apperr.Invalid(field, "%s is not valid UTF-8", label)
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n < minLen && minLen == 1:
		return "", apperr.Invalid(field, "%s is required", label)
	case n < minLen:
		return "", apperr.Invalid(field, "%s must have at least %d characters", label, minLen)
	case n > maxLen:
		return "", apperr.Invalid(field, "%s must have at most %d characters", label, maxLen)
	}
	if invisible.In(s) {
		return "", apperr.Invalid(field, "%s must not contain control, invisible or bidi-override characters", label)
	}
	return s, nil
}

// CheckName trims and checks a user's name: 1 to 100 characters.
func CheckName(field, name string) (string, error) {
	return CheckText(field, "name", name, 1, 100)
}

// CheckPhone normalizes a phone number in international form: spaces,
// dashes, dots and parentheses are dropped, and what remains must be a +
// followed by 7 to 15 digits (E.164). An empty phone stays empty.
// Returns INVALID_INPUT naming field otherwise.
func CheckPhone(field, phone string) (string, error) {
	p := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')', '\t':
			return -1
		}
		return r
	}, phone)
	if p == "" {
		return "", nil
	}
	if !e164.MatchString(p) {
		return "", apperr.Invalid(field, "%q is not a phone number in international form such as +14155550123", phone)
	}
	return p, nil
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ProfileUpdate changes a user's profile; nil fields stay as they are.
type ProfileUpdate struct {
	Name *string
	// Phone: an empty string removes the phone number.
	Phone *string
}

// apply checks the update and applies it to u.
func (p ProfileUpdate) apply(u *User) error {
	if p.Name != nil {
		n, err := CheckName("name", *p.Name)
		if err != nil {
			return err
		}
		u.Name = n
	}
	if p.Phone != nil {
		ph, err := CheckPhone("phone", *p.Phone)
		if err != nil {
			return err
		}
		u.Phone = ph
	}
	return nil
}

// canSee reports whether the caller id may see the user with userID's data:
// the user and an admin may.
func canSee(id auth.Identity, ok bool, userID string) bool {
	return ok && id.UserID != "" && (id.UserID == userID || id.IsAdmin())
}

// serviceReadsUsers reports whether ctx carries a service token (with no
// user's token forwarded) that grants auth.ScopeUsersRead: such a service
// may see every user and address.
func serviceReadsUsers(ctx context.Context) bool {
	if _, user := auth.FromContext(ctx); user {
		return false
	}
	c, ok := auth.CallerFrom(ctx)
	return ok && c.HasScope(auth.ScopeUsersRead)
}
