package user

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

func TestCheckEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "ada@example.com", "ada@example.com", true},
		{"upper case and spaces", "  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com", true},
		{"plus tag", "ada+shop@mail.example.co.uk", "ada+shop@mail.example.co.uk", true},
		{"empty", "", "", false},
		{"no at", "ada.example.com", "", false},
		{"no dotted domain", "ada@localhost", "", false},
		{"display name", "Ada <ada@example.com>", "", false},
		{"two ats", "ada@@example.com", "", false},
		{"trailing dot", "ada@example.com.", "", false},
		{"empty label", "ada@example..com", "", false},
		{"space inside", "ada lovelace@example.com", "", false},
		{"quoted local part", `"ada"@example.com`, "", false},
		{"domain label with underscore", "ada@ex_ample.com", "", false},
		{"full-width letters fold to ASCII (NFKC)", "\uff41\uff44\uff41@example.com", "ada@example.com", true},
		{"ligature folds (NFKC)", "\ufb01nn@example.com", "finn@example.com", true},
		{"upper-case domain in full width", "ada@\uff25XAMPLE.com", "ada@example.com", true},
		{"zero-width space", "ada\u200b@example.com", "", false},
		{"bidi override", "ada\u202e@example.com", "", false},
		{"NUL", "ada\x00@example.com", "", false},
		{"too long", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190) + ".com", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := CheckEmail("email", tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("CheckEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if e, ok := apperr.As(err); !ok || e.Code != apperr.InvalidInput || e.Field != "email" {
				t.Fatalf("CheckEmail(%q) = %q, %v; want INVALID_INPUT on field email", tt.in, got, err)
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, password, email string
		wantMsg               string // "" means valid
	}{
		{"good", "correct-horse-7", "ada@example.com", ""},
		{"letters and symbol", "tangerine!sky", "ada@example.com", ""},
		{"unicode letters and digit", "пароль-надёжный1", "ada@example.com", ""},
		{"exactly 10", "abcdefgh1!", "ada@example.com", ""},
		{"too short", "abc123!", "ada@example.com", "at least 10"},
		{"nine runes", "abcdefg1!", "ada@example.com", "at least 10"},
		{"too long", strings.Repeat("a1", 65), "ada@example.com", "at most 128"},
		{"letters only", "onlylettershere", "ada@example.com", "one letter and one digit"},
		{"digits only", "12345678901", "ada@example.com", "one letter and one digit"},
		{"letters and spaces", "only letters here", "ada@example.com", "one letter and one digit"},
		{"contains local part", "xxlovelace99", "lovelace@example.com", "email"},
		{"contains local part in other case", "LoveLace-2026", "lovelace@example.com", "email"},
		{"short local part is ignored", "bobcat-2026!", "bo@example.com", ""},
		{"common", "Password123", "ada@example.com", "too common"},
		{"common with symbol", "qwerty1234", "ada@example.com", "too common"},
		{"control character", "abcdefgh1\x00x", "ada@example.com", "control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckPassword("password", tt.password, tt.email)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("CheckPassword(%q) = %v; want nil", tt.password, err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.InvalidInput || e.Field != "password" || !strings.Contains(e.Message, tt.wantMsg) {
				t.Fatalf("CheckPassword(%q) = %v; want INVALID_INPUT on password mentioning %q", tt.password, err, tt.wantMsg)
			}
		})
	}
}

func TestCheckCountry(t *testing.T) {
	t.Parallel()
	valid := map[string]string{"US": "US", "de": "DE", " gb ": "GB", "AQ": "AQ", "SS": "SS", "BQ": "BQ", "AX": "AX"}
	for in, want := range valid {
		t.Run("valid "+in, func(t *testing.T) {
			t.Parallel()
			if got, err := CheckCountry("country", in); err != nil || got != want {
				t.Fatalf("CheckCountry(%q) = %q, %v; want %q", in, got, err, want)
			}
		})
	}
	// Retired, reserved, user-assigned, region, 3-letter and numeric codes.
	for _, in := range []string{"", "U", "USA", "840", "ZZ", "XX", "EU", "UN", "UK", "YU", "SU", "CS", "AN", "DD", "ZR", "XK", "EA", "IC", "AC", "TA", "QO", "001", "U1", "ÜS"} {
		t.Run("invalid "+in, func(t *testing.T) {
			t.Parallel()
			if got, err := CheckCountry("country", in); apperr.Code(err) != apperr.InvalidInput {
				t.Fatalf("CheckCountry(%q) = %q, %v; want INVALID_INPUT", in, got, err)
			}
		})
	}
}

func TestCheckPhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"+14155550123", "+14155550123", true},
		{"+1 (415) 555-0123", "+14155550123", true},
		{"+49 30.1234567", "+49301234567", true},
		{"", "", true},
		{"   ", "", true},
		{"4155550123", "", false},
		{"+0123456789", "", false},
		{"+12345", "", false},
		{"+1234567890123456", "", false},
		{"+1 415 CALL NOW", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := CheckPhone("phone", tt.in)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("CheckPhone(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if !tt.ok && apperr.Code(err) != apperr.InvalidInput {
				t.Fatalf("CheckPhone(%q) error code %s; want INVALID_INPUT", tt.in, apperr.Code(err))
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Ada Lovelace", "Ada Lovelace", true},
		{"  Ada  ", "Ada", true},
		{"李", "李", true},
		{strings.Repeat("é", 100), strings.Repeat("é", 100), true},
		{"", "", false},
		{"   ", "", false},
		{strings.Repeat("é", 101), "", false},
		{"Ada\nLovelace", "", false},
		{"Ada\u200bLovelace", "", false},  // zero-width space
		{"Ada \u202eecalevol", "", false}, // right-to-left override
		{"\u2066Ada\u2069", "", false},    // left-to-right isolate … pop
		{"Ada\u2067x\u2068y", "", false},  // right-to-left and first-strong isolates
		{"\ufeffAda", "", false},          // byte order mark
		{"Ada\u00adLovelace", "", false},  // soft hyphen
		{"Ada\u2028Lovelace", "", false},  // line separator
		{"Ada\x00", "", false},            // NUL
		{"Ada\xff", "", false},            // not UTF-8
		{"\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", true}, // Persian with a zero-width non-joiner
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := CheckName("name", tt.in)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("CheckName(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestHasher(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := NewHasher()
	a, err := h.Hash(ctx, "correct-horse-7")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Hash(ctx, "correct-horse-7")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with the expected parameters", a)
	}
	if a == b {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	tests := []struct {
		name, hash, password string
		want                 bool
		wantErr              bool
	}{
		{"right password", a, "correct-horse-7", true, false},
		{"right password, other salt", b, "correct-horse-7", true, false},
		{"wrong password", a, "correct-horse-8", false, false},
		{"empty password", a, "", false, false},
		{"bcrypt hash", "$2a$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234", "x", false, true},
		{"key cut short", a[:len(a)-30], "correct-horse-7", false, true},
		{"absurd memory", strings.Replace(a, "m=19456", "m=99999999", 1), "correct-horse-7", false, true},
		{"empty", "", "x", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, err := h.Verify(ctx, tt.hash, tt.password)
			if ok != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("Verify = %v, %v; want %v, error %v", ok, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{300 * time.Millisecond, "1 second"},
		{42 * time.Second, "42 seconds"},
		{time.Minute, "60 seconds"},
		{61 * time.Second, "2 minutes"},
		{14*time.Minute + 10*time.Second, "15 minutes"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := humanDuration(tt.d); got != tt.want {
				t.Fatalf("humanDuration(%v) = %q; want %q", tt.d, got, tt.want)
			}
		})
	}
}
