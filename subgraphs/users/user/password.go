package user

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// Password rules.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 128
)

// commonPasswords are passwords that meet the other rules but are among the
// first an attacker tries. Compared in lower case.
var commonPasswords = map[string]bool{}

func init() {
	for _, p := range strings.Fields(`
		password1 password12 password123 password1234 password1! password123!
		passw0rd1 passw0rd123 p@ssw0rd p@ssword1 p@ssw0rd123 p@55w0rd123
		qwerty123 qwerty1234 qwerty12345 qwertyuiop1 qwertyuiop123 1qaz2wsx3edc
		1q2w3e4r5t 1q2w3e4r5t6y zaq12wsxcde abc1234567 abcd123456 a123456789
		1234567890a 123456789a 12345qwert 12345abcde iloveyou12 iloveyou123
		welcome123 welcome1234 letmein123 letmein1234 admin12345 admin123456
		administrator1 changeme123 changeme1 football123 baseball123
		monkey1234 dragon1234 sunshine12 sunshine123 princess12 princess123
		trustno1234 master1234 shadow1234 superman123 batman1234 starwars12
		starwars123 whatever12 computer12 internet12 michael123 jennifer12
		liverpool1 chelsea123 arsenal123 summer2024 summer2025 summer2026
		winter2024 winter2025 winter2026 spring2025 autumn2025 secret1234
		default123 guest12345 test123456 testing123 hello12345 helloworld1
		freedom123 killer1234 solo123456 asdfghjkl1 asdf123456 zxcvbnm123
		shopgraph1 shopgraph123 qazwsx1234 pass123456 mypassword1`) {
		commonPasswords[p] = true
	}
}

// CheckPassword checks a new password for the account with the (normalized)
// email: 10 to 128 characters, at least one letter and one digit or symbol,
// not containing the email's local part, and not a common password.
// Returns INVALID_INPUT naming field otherwise.
func CheckPassword(field, password, email string) error {
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLen {
		return apperr.Invalid(field, "password must have at least %d characters", MinPasswordLen)
	}
	if n > MaxPasswordLen {
		return apperr.Invalid(field, "password must have at most %d characters", MaxPasswordLen)
	}
	var letter, other bool
	for _, r := range password {
		switch {
		case unicode.IsLetter(r):
			letter = true
		case unicode.IsControl(r):
			return apperr.Invalid(field, "password must not contain control characters")
		case !unicode.IsSpace(r):
			other = true
		}
	}
	if !letter || !other {
		return apperr.Invalid(field, "password must contain at least one letter and one digit or symbol")
	}
	lower := strings.ToLower(password)
	if local, _, _ := strings.Cut(email, "@"); len(local) >= 3 && strings.Contains(lower, local) {
		return apperr.Invalid(field, "password must not contain your email address")
	}
	if commonPasswords[lower] {
		return apperr.Invalid(field, "this password is too common; choose another")
	}
	return nil
}

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).
// They are stored in each hash, so they can be raised without invalidating
// existing hashes.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Hasher hashes and verifies passwords with argon2id. It lets only a few
// hashes run at a time, so that a flood of sign-ins queues instead of
// exhausting memory (each takes 19 MiB).
type Hasher struct {
	sem chan struct{}
}

// NewHasher returns a Hasher that runs up to 2 × GOMAXPROCS hashes at once.
func NewHasher() *Hasher {
	return &Hasher{sem: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the argon2id hash of password in PHC string format, with a
// fresh random salt: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches the PHC-format hash, comparing in
// constant time. A malformed hash is an error.
func (h *Hasher) Verify(ctx context.Context, hash, password string) (bool, error) {
	p, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

type phc struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

var errBadHash = errors.New("malformed argon2id password hash")

func parsePHC(s string) (phc, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phc{}, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return phc{}, errBadHash
	}
	var p phc
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return phc{}, errBadHash
	}
	// Bounds keep a corrupt hash from costing unbounded memory or time.
	if p.memory < 8*uint32(p.threads) || p.memory > 1<<20 || p.time < 1 || p.time > 16 || p.threads < 1 {
		return phc{}, errBadHash
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return phc{}, errBadHash
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return phc{}, errBadHash
	}
	return p, nil
}
