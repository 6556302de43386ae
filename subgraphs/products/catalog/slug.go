package catalog

import (
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

var slugRE = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// ValidateSlug returns INVALID_INPUT unless slug is lower-case letters and
// digits in words joined by single hyphens, at most MaxSlugLen long.
func ValidateSlug(field, slug string) error {
	if len(slug) > MaxSlugLen {
		return apperr.Invalid(field, "slug is longer than %d characters", MaxSlugLen)
	}
	if !slugRE.MatchString(slug) {
		return apperr.Invalid(field, "invalid slug %q: want lower-case letters and digits joined by single hyphens, such as red-t-shirt", slug)
	}
	return nil
}

// Slugify derives a slug from a name: accents are dropped, letters lower-
// cased, and every run of other characters becomes one hyphen, e.g.
// "Café Crème — 250 g" becomes "cafe-creme-250-g". It returns "" if the name
// has no ASCII letters or digits to build one from.
func Slugify(name string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range norm.NFKD.String(name) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// A combining mark separated from its letter: drop it.
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(unicode.ToLower(r))
		default:
			hyphen = true
		}
	}
	s := b.String()
	if len(s) > MaxSlugLen {
		// Cut at a word boundary where there is one.
		cut := s[:MaxSlugLen]
		if s[MaxSlugLen] != '-' {
			if i := strings.LastIndexByte(cut, '-'); i > 0 {
				cut = cut[:i]
			}
		}
		s = strings.TrimRight(cut, "-")
	}
	return s
}

// normalizeSlug returns the slug an admin gave, trimmed and lower-cased, or
// one derived from name when none was given.
// Returns INVALID_INPUT if the slug is malformed or none can be derived.
func normalizeSlug(given *string, name string) (string, error) {
	if given != nil {
		s := strings.ToLower(strings.TrimSpace(*given))
		return s, ValidateSlug("slug", s)
	}
	s := Slugify(name)
	if s == "" {
		return "", apperr.Invalid("slug", "cannot derive a slug from the name %q: give a slug", name)
	}
	return s, nil
}
