package invisible_test

import (
	"testing"

	"github.com/shopgraph/shopgraph/internal/invisible"
)

func TestIn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, s string
		want    bool
	}{
		{"plain", "Ada Lovelace", false},
		{"accents and CJK", "Zoë 李", false},
		{"Persian with a zero-width non-joiner", "می\u200cخواهم", false},
		{"emoji with a zero-width joiner", "👩\u200d💻", false},
		{"NUL", "Ada\x00", true},
		{"newline", "Ada\nLovelace", true},
		{"DEL", "Ada\x7f", true},
		{"zero-width space", "Ada\u200bLovelace", true},
		{"right-to-left override", "Ada \u202eecalevol", true},
		{"left-to-right embedding", "\u202aAda", true},
		{"isolates", "\u2066Ada\u2069", true},
		{"right-to-left isolate", "\u2067Ada", true},
		{"first-strong isolate", "\u2068Ada", true},
		{"byte order mark", "\ufeffAda", true},
		{"soft hyphen", "Ada\u00adLovelace", true},
		{"word joiner", "Ada\u2060", true},
		{"line separator", "Ada\u2028", true},
		{"paragraph separator", "Ada\u2029", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := invisible.In(tt.s); got != tt.want {
				t.Errorf("In(%q) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}
