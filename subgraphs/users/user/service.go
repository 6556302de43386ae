package user

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
)

// TokenIssuer issues access tokens; *auth.Signer is one.
type TokenIssuer interface {
	Issue(id auth.Identity) (token string, expiresAt time.Time, err error)
}

// Config is what a Service needs.
type Config struct {
	Store   Store
	Limiter LoginLimiter
	// Registrations limits registrations per client address; nil means no
	// limit.
	Registrations RegisterLimiter
	Tokens        TokenIssuer
	// RefreshTTL is the lifetime of a refresh token.
	RefreshTTL time.Duration
	Log        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service is the users service's use cases. Every method that acts for a
// signed-in user takes the caller's identity from ctx (auth.FromContext).
type Service struct {
	store      Store
	limiter    LoginLimiter
	registers  RegisterLimiter
	tokens     TokenIssuer
	refreshTTL time.Duration
	log        *slog.Logger
	now        func() time.Time
	hasher     *Hasher
	// dummyHash is verified against when the email is unknown, so that a
	// wrong email takes as long as a wrong password.
	dummyHash string
}

// NewService returns a Service.
func NewService(c Config) (*Service, error) {
	if c.Store == nil || c.Limiter == nil || c.Tokens == nil {
		return nil, errors.New("user: Store, Limiter and Tokens are required")
	}
	if c.RefreshTTL <= 0 {
		return nil, errors.New("user: RefreshTTL must be positive")
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	s := &Service{store: c.Store, limiter: c.Limiter, registers: c.Registrations, tokens: c.Tokens, refreshTTL: c.RefreshTTL,
		log: c.Log, now: c.Now, hasher: NewHasher()}
	dummy, err := s.hasher.Hash(context.Background(), NewID())
	if err != nil {
		return nil, err
	}
	s.dummyHash = dummy
	return s, nil
}

// RegisterInput is a new account.
type RegisterInput struct {
	Email, Password, Name string
	// ClientAddr is the address the attempt comes from, for the rate limit;
	// empty if unknown.
	ClientAddr string
}

// Register creates a customer account and signs it in. Every attempt is
// counted per client address; once the address is over its limit, attempts
// are refused before anything is checked or hashed, until the window ends.
// Returns INVALID_INPUT for a bad field, CONFLICT "email already
// registered" and RATE_LIMITED with the time to wait.
func (s *Service) Register(ctx context.Context, in RegisterInput) (Session, error) {
	if s.registers != nil {
		wait, err := s.registers.ReserveRegistration(ctx, in.ClientAddr)
		if err != nil {
			return Session{}, fmt.Errorf("register: rate limit: %w", err)
		}
		if wait > 0 {
			s.log.WarnContext(ctx, "register rate-limited", "addr", in.ClientAddr, "retry_after", wait)
			return Session{}, apperr.Errorf(apperr.RateLimited, "too many registrations from this address; try again in %s", humanDuration(wait))
		}
	}
	email, err := CheckEmail("email", in.Email)
	if err != nil {
		return Session{}, err
	}
	if err := CheckPassword("password", in.Password, email); err != nil {
		return Session{}, err
	}
	name, err := CheckName("name", in.Name)
	if err != nil {
		return Session{}, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return Session{}, err
	}
	now := s.now().UTC()
	u := User{ID: NewID(), Email: email, Name: name, Role: RoleCustomer, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return Session{}, fmt.Errorf("register: %w", err)
	}
	s.log.InfoContext(ctx, "user registered", "user_id", u.ID)
	return s.startSession(ctx, u)
}

// LoginInput is a sign-in attempt.
type LoginInput struct {
	Email, Password string
	// ClientAddr is the address the attempt comes from, for the rate limit;
	// empty if unknown.
	ClientAddr string
}

func invalidCredentials() error {
	return apperr.Errorf(apperr.Unauthenticated, "invalid email or password")
}

// Login signs in with email and password. Failed attempts are counted per
// account and per client address; once either is over its limit, attempts
// are refused before the password is checked, until the window ends.
// Returns UNAUTHENTICATED "invalid email or password" for an unknown email
// and a wrong password alike, and RATE_LIMITED with the time to wait.
func (s *Service) Login(ctx context.Context, in LoginInput) (Session, error) {
	email := NormalizeEmail(in.Email)
	account := accountKey(email)
	wait, err := s.limiter.Reserve(ctx, account, in.ClientAddr)
	if err != nil {
		return Session{}, fmt.Errorf("login: rate limit: %w", err)
	}
	if wait > 0 {
		s.log.WarnContext(ctx, "login rate-limited", "account", account, "addr", in.ClientAddr, "retry_after", wait)
		return Session{}, apperr.Errorf(apperr.RateLimited, "too many failed sign-in attempts; try again in %s", humanDuration(wait))
	}
	var u User
	err = apperr.Errorf(apperr.NotFound, "no such user")
	// Nothing longer than any valid email or password can match.
	if email != "" && len(email) <= 254 && len(in.Password) <= 4*MaxPasswordLen {
		u, err = s.store.UserByEmail(ctx, email)
	}
	switch {
	case apperr.Code(err) == apperr.NotFound:
		// Spend the time a real check takes, so timing does not tell
		// which emails are registered.
		_, _ = s.hasher.Verify(ctx, s.dummyHash, in.Password)
		return Session{}, invalidCredentials()
	case err != nil:
		return Session{}, fmt.Errorf("login: %w", err)
	}
	ok, err := s.hasher.Verify(ctx, u.PasswordHash, in.Password)
	if err != nil {
		return Session{}, fmt.Errorf("login: user %s: %w", u.ID, err)
	}
	if !ok {
		return Session{}, invalidCredentials()
	}
	if err := s.limiter.Succeeded(ctx, account, in.ClientAddr); err != nil {
		// The user proved their password; a stale counter must not stop them.
		s.log.WarnContext(ctx, "login: clear rate limit", "err", err)
	}
	if err := s.store.DeleteExpiredRefreshTokens(ctx, u.ID, s.now()); err != nil {
		s.log.WarnContext(ctx, "login: delete expired refresh tokens", "err", err)
	}
	return s.startSession(ctx, u)
}

// accountKey is the rate-limit key of an email: its SHA-256, so that keys
// are of bounded length and do not spell out addresses.
func accountKey(email string) string {
	h := sha256.Sum256([]byte(email))
	return hex.EncodeToString(h[:16])
}

// humanDuration rounds d up to whole seconds or minutes for people.
func humanDuration(d time.Duration) string {
	if d <= time.Minute {
		n := int(math.Ceil(d.Seconds()))
		if n == 1 {
			return "1 second"
		}
		return fmt.Sprintf("%d seconds", n)
	}
	return fmt.Sprintf("%d minutes", int(math.Ceil(d.Minutes())))
}

// startSession issues an access token and the first refresh token of a new
// family for u.
func (s *Service) startSession(ctx context.Context, u User) (Session, error) {
	return s.issue(ctx, u, NewID(), nil)
}

// issue issues an access token and a refresh token in family. If rotated is
// set, the refresh token with that hash is exchanged (marked used) for the
// new one, atomically.
func (s *Service) issue(ctx context.Context, u User, family string, rotated []byte) (Session, error) {
	token, hash, err := newRefreshToken()
	if err != nil {
		return Session{}, err
	}
	now := s.now().UTC()
	rt := RefreshToken{Hash: hash, FamilyID: family, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.refreshTTL)}
	if rotated == nil {
		err = s.store.CreateRefreshToken(ctx, rt)
	} else {
		err = s.store.RotateRefreshToken(ctx, rotated, rt)
	}
	if err != nil {
		return Session{}, err
	}
	access, exp, err := s.tokens.Issue(u.Identity())
	if err != nil {
		return Session{}, fmt.Errorf("issue access token: %w", err)
	}
	return Session{AccessToken: access, AccessExpiresAt: exp, RefreshToken: token, User: u}, nil
}

// Refresh exchanges a refresh token for a new access token and a new refresh
// token in the same family; the presented token stops working. Presenting a
// token that was already exchanged means it was copied: the whole family is
// revoked.
// Returns UNAUTHENTICATED if the token is unknown, expired, revoked or reused.
func (s *Service) Refresh(ctx context.Context, token string) (Session, error) {
	invalid := apperr.Errorf(apperr.Unauthenticated, "invalid refresh token")
	if !wellFormedRefreshToken(token) {
		return Session{}, invalid
	}
	hash := HashRefreshToken(token)
	rt, err := s.store.RefreshToken(ctx, hash)
	if apperr.Code(err) == apperr.NotFound {
		return Session{}, invalid
	} else if err != nil {
		return Session{}, fmt.Errorf("refresh: %w", err)
	}
	now := s.now()
	switch {
	case rt.RevokedAt != nil:
		return Session{}, apperr.Errorf(apperr.Unauthenticated, "session ended; sign in again")
	case rt.UsedAt != nil:
		return Session{}, s.reused(ctx, rt)
	case !now.Before(rt.ExpiresAt):
		return Session{}, apperr.Errorf(apperr.Unauthenticated, "refresh token expired; sign in again")
	}
	u, err := s.store.User(ctx, rt.UserID)
	if apperr.Code(err) == apperr.NotFound {
		return Session{}, invalid
	} else if err != nil {
		return Session{}, fmt.Errorf("refresh: %w", err)
	}
	sess, err := s.issue(ctx, u, rt.FamilyID, hash)
	if apperr.Code(err) == apperr.Conflict {
		// Another request exchanged the same token first.
		return Session{}, s.reused(ctx, rt)
	}
	if err != nil {
		return Session{}, fmt.Errorf("refresh: %w", err)
	}
	return sess, nil
}

// reused revokes the family of a refresh token presented a second time.
func (s *Service) reused(ctx context.Context, rt RefreshToken) error {
	if _, err := s.store.RevokeRefreshFamily(ctx, rt.FamilyID, s.now()); err != nil {
		return fmt.Errorf("refresh: revoke family: %w", err)
	}
	s.log.WarnContext(ctx, "refresh token reused; session revoked", "user_id", rt.UserID, "family", rt.FamilyID)
	return apperr.Errorf(apperr.Unauthenticated, "refresh token already used; the session has been ended for safety, sign in again")
}

// Logout ends the session (the refresh-token family) that token belongs to.
// It reports whether this call ended it (false: it had already ended).
// Returns UNAUTHENTICATED if the token is unknown.
func (s *Service) Logout(ctx context.Context, token string) (bool, error) {
	invalid := apperr.Errorf(apperr.Unauthenticated, "invalid refresh token")
	if !wellFormedRefreshToken(token) {
		return false, invalid
	}
	rt, err := s.store.RefreshToken(ctx, HashRefreshToken(token))
	if apperr.Code(err) == apperr.NotFound {
		return false, invalid
	} else if err != nil {
		return false, fmt.Errorf("logout: %w", err)
	}
	ended, err := s.store.RevokeRefreshFamily(ctx, rt.FamilyID, s.now())
	if err != nil {
		return false, fmt.Errorf("logout: %w", err)
	}
	return ended, nil
}

// Me returns the signed-in user.
// Returns UNAUTHENTICATED without a signed-in caller, and NOT_FOUND if the
// caller is not a user (a service) or their account no longer exists.
func (s *Service) Me(ctx context.Context) (User, error) {
	id, err := auth.Require(ctx)
	if err != nil {
		return User{}, err
	}
	if !ValidID(id.UserID) {
		return User{}, apperr.Errorf(apperr.NotFound, "no such user")
	}
	return s.store.User(ctx, id.UserID)
}

// signedInUser returns the caller's user ID.
// Returns UNAUTHENTICATED without a signed-in caller, and NOT_FOUND if the
// caller is not a user.
func signedInUser(ctx context.Context) (string, error) {
	id, err := auth.Require(ctx)
	if err != nil {
		return "", err
	}
	if !ValidID(id.UserID) {
		return "", apperr.Errorf(apperr.NotFound, "no such user")
	}
	return id.UserID, nil
}

// UpdateProfile changes the signed-in user's profile.
// Returns UNAUTHENTICATED, NOT_FOUND if the account no longer exists, and
// INVALID_INPUT for a bad field (and then changes nothing).
func (s *Service) UpdateProfile(ctx context.Context, p ProfileUpdate) (User, error) {
	uid, err := signedInUser(ctx)
	if err != nil {
		return User{}, err
	}
	return s.store.UpdateUser(ctx, uid, func(u *User) error {
		if err := p.apply(u); err != nil {
			return err
		}
		u.UpdatedAt = s.now().UTC()
		return nil
	})
}

// UsersByIDs returns, by ID, those of the users with ids that exist and that
// the caller may see: themselves, or anyone for admins and for services
// granted auth.ScopeUsersRead.
func (s *Service) UsersByIDs(ctx context.Context, ids []string) (map[string]User, error) {
	caller, ok := auth.FromContext(ctx)
	service := serviceReadsUsers(ctx)
	var visible []string
	for _, id := range ids {
		if ValidID(id) && (service || canSee(caller, ok, id)) {
			visible = append(visible, id)
		}
	}
	if len(visible) == 0 {
		return map[string]User{}, nil
	}
	return s.store.UsersByIDs(ctx, visible)
}

// AddressesByIDs returns, by ID, those of the addresses with ids that exist
// and that the caller may see: their own, or any for admins and for services
// granted auth.ScopeUsersRead.
func (s *Service) AddressesByIDs(ctx context.Context, ids []string) (map[string]Address, error) {
	caller, ok := auth.FromContext(ctx)
	service := serviceReadsUsers(ctx)
	if !service && (!ok || caller.UserID == "") {
		return map[string]Address{}, nil
	}
	var valid []string
	for _, id := range ids {
		if ValidID(id) {
			valid = append(valid, id)
		}
	}
	if len(valid) == 0 {
		return map[string]Address{}, nil
	}
	as, err := s.store.AddressesByIDs(ctx, valid)
	if err != nil {
		return nil, err
	}
	for id, a := range as {
		if !service && !canSee(caller, ok, a.UserID) {
			delete(as, id)
		}
	}
	return as, nil
}

// AddressBooks returns the address books of users, by user ID. It does not
// check who is asking: call it only for users the caller was allowed to get
// (from UsersByIDs, Me or a Session).
func (s *Service) AddressBooks(ctx context.Context, userIDs []string) (map[string][]Address, error) {
	var valid []string
	for _, id := range userIDs {
		if ValidID(id) {
			valid = append(valid, id)
		}
	}
	if len(valid) == 0 {
		return map[string][]Address{}, nil
	}
	return s.store.AddressesByUserIDs(ctx, valid)
}

// AddAddress adds an address to the signed-in user's address book.
// Returns UNAUTHENTICATED, INVALID_INPUT for a bad field, and CONFLICT if the
// book is full.
func (s *Service) AddAddress(ctx context.Context, in AddressInput) (Address, error) {
	return s.editBook(ctx, func(b *AddressBook, now time.Time) (Address, error) {
		return b.Add(NewID(), in, now)
	})
}

// UpdateAddress replaces the fields of one of the signed-in user's addresses.
// Returns UNAUTHENTICATED, NOT_FOUND if the user has no such address, and
// INVALID_INPUT for a bad field.
func (s *Service) UpdateAddress(ctx context.Context, id string, in AddressInput) (Address, error) {
	return s.editBook(ctx, func(b *AddressBook, now time.Time) (Address, error) {
		return b.Update(id, in, now)
	})
}

// RemoveAddress removes one of the signed-in user's addresses.
// Returns UNAUTHENTICATED and NOT_FOUND if the user has no such address.
func (s *Service) RemoveAddress(ctx context.Context, id string) error {
	_, err := s.editBook(ctx, func(b *AddressBook, _ time.Time) (Address, error) {
		return Address{}, b.Remove(id)
	})
	return err
}

// SetDefaultAddress makes one of the signed-in user's addresses the default.
// Returns UNAUTHENTICATED and NOT_FOUND if the user has no such address.
func (s *Service) SetDefaultAddress(ctx context.Context, id string) (Address, error) {
	return s.editBook(ctx, func(b *AddressBook, now time.Time) (Address, error) {
		return b.SetDefault(id, now)
	})
}

func (s *Service) editBook(ctx context.Context, fn func(*AddressBook, time.Time) (Address, error)) (Address, error) {
	uid, err := signedInUser(ctx)
	if err != nil {
		return Address{}, err
	}
	var out Address
	err = s.store.UpdateAddressBook(ctx, uid, func(b *AddressBook) error {
		a, err := fn(b, s.now().UTC())
		out = a
		return err
	})
	return out, err
}

// EnsureAdmin makes sure that the user with email exists, is an ADMIN and
// has password: it creates the user or promotes the existing one and sets
// the password. It runs at start-up with the configured admin credentials.
// Returns INVALID_INPUT if the email or the password breaks the rules.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) error {
	email, err := CheckEmail("email", email)
	if err != nil {
		return err
	}
	if err := CheckPassword("password", password, email); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	for range 3 {
		u, err := s.store.UserByEmail(ctx, email)
		if apperr.Code(err) == apperr.NotFound {
			local, _, _ := strings.Cut(email, "@")
			u = User{ID: NewID(), Email: email, Name: local, Role: RoleAdmin, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
			err = s.store.CreateUser(ctx, u)
			if apperr.Code(err) == apperr.Conflict {
				continue // created concurrently (another replica starting)
			}
			if err == nil {
				s.log.InfoContext(ctx, "admin user created", "user_id", u.ID)
			}
			return err
		} else if err != nil {
			return err
		}
		_, err = s.store.UpdateUser(ctx, u.ID, func(u *User) error {
			u.Role, u.PasswordHash, u.UpdatedAt = RoleAdmin, hash, now
			return nil
		})
		if apperr.Code(err) == apperr.NotFound {
			continue // deleted concurrently
		}
		if err == nil {
			s.log.InfoContext(ctx, "admin user updated", "user_id", u.ID)
		}
		return err
	}
	return errors.New("ensure admin: user keeps changing concurrently")
}
