package catalog

import (
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/money"
)

func TestSlugify(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"words", "Red T-Shirt", "red-t-shirt"},
		{"accents", "Café Crème — 250 g", "cafe-creme-250-g"},
		{"punctuation runs", "  --Hello,,  World!!--  ", "hello-world"},
		{"ligature", "ﬁne Ⅻ", "fine-xii"},
		{"nothing usable", "日本語 !!", ""},
		{"long", strings.Repeat("ab ", 60), strings.TrimSuffix(strings.Repeat("ab-", 33), "-")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Slugify(tt.in)
			if got != tt.want {
				t.Errorf("Slugify(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got != "" {
				if err := ValidateSlug("slug", got); err != nil {
					t.Errorf("derived slug is invalid: %v", err)
				}
			}
		})
	}
}

func TestValidateSKU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{"AB", true},
		{NormalizeSKU(" tee-s_1 "), true},
		{"0-" + strings.Repeat("X", 62), true},
		{"0-" + strings.Repeat("X", 63), false},
		{"A", false},
		{"-AB", false},
		{"_AB", false},
		{"AB CD", false},
		{"ab", false}, // not normalized
		{"ÄB", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			err := ValidateSKU("sku", tt.in)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateSKU(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	t.Parallel()
	p := &Product{ID: "abc", Name: "Red Shirt", CreatedAt: time.UnixMilli(1_700_000_000_123).UTC(),
		Variants: []Variant{{Price: money.Money{Amount: 900, Currency: "USD"}}, {Price: money.Money{Amount: 500, Currency: "USD"}}}}
	for _, s := range []Sort{SortNewest, SortNameAsc, SortNameDesc, SortPriceAsc, SortPriceDesc} {
		t.Run(string(s), func(t *testing.T) {
			t.Parallel()
			want := CursorOf(p, s)
			got, err := DecodeCursor(want.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("round trip: got %+v, want %+v", got, want)
			}
		})
	}
	if c := CursorOf(p, SortPriceAsc); c.Price != 500 {
		t.Errorf("price cursor %d, want the lowest price", c.Price)
	}
	if c := CursorOf(p, SortNameAsc); c.Name != "red shirt" {
		t.Errorf("name cursor %q", c.Name)
	}
	for _, bad := range []string{"", "x", "!!!!", "e30", "eyJzIjoiTkVXRVNUIiwiaSI6ImEifQ", "eyJzIjoiQk9HVVMiLCJpIjoiYSIsInQiOjF9"} {
		t.Run("malformed "+bad, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeCursor(bad)
			if ae, ok := apperr.As(err); !ok || ae.Code != apperr.InvalidInput || ae.Field != "after" {
				t.Errorf("DecodeCursor(%q) = %v", bad, err)
			}
		})
	}
}

func TestDescendants(t *testing.T) {
	t.Parallel()
	all := []*Category{{ID: "a"}, {ID: "b", ParentID: "a"}, {ID: "c", ParentID: "b"}, {ID: "d"}, {ID: "e", ParentID: "a"}}
	got := strings.Join(descendants(all, "a"), ",")
	if got != "a,b,e,c" {
		t.Errorf("got %s", got)
	}
	if got := strings.Join(descendants(all, "d"), ","); got != "d" {
		t.Errorf("got %s", got)
	}
}
