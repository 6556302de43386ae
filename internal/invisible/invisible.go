// Package invisible tells the characters that a name or an address must not
// hold because they show nothing, or change how the text around them is
// shown: a look-alike name, a reversed address line. Services refuse them
// in what people type and others read.
package invisible

import (
	"strings"
	"unicode"
)

// Is reports whether r is a control character (Cc), a format character
// (Cf: zero-width spaces, bidi embeddings, overrides and isolates such as
// U+202E and U+2066–U+2069, the BOM, the soft hyphen) or a line or paragraph
// separator. The zero-width non-joiner and joiner (U+200C, U+200D) are not:
// Persian, Indic scripts and emoji need them.
func Is(r rune) bool {
	if r == '\u200c' || r == '\u200d' {
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.In(r, unicode.Zl, unicode.Zp)
}

// In reports whether s holds a character for which Is is true.
func In(s string) bool { return strings.ContainsFunc(s, Is) }
