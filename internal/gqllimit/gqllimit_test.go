package gqllimit_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopgraph/shopgraph/internal/gqllimit"
)

// chain is `query { ...F0 } fragment F0 on Query { __typename ...F1 } …`;
// with twice, every fragment spreads the next one twice.
func chain(n int, twice bool) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range n {
		if twice {
			fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
		} else {
			fmt.Fprintf(&b, "fragment F%d on Query { __typename ...F%d }\n", i, i+1)
		}
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", n)
	return b.String()
}

// fanOut is like chain(n, true) with fields of distinct names, under
// aliases.
func fanOut(n int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range n {
		fmt.Fprintf(&b, "fragment F%d on Q { a%d: f { ...F%d } b%d: f { ...F%d } }\n", i, i, i+1, i, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Q { x }\n", n)
	return b.String()
}

func TestParse(t *testing.T) {
	t.Parallel()
	limits := gqllimit.Limits{MaxTokens: 1000, MaxFields: 100, MaxSameName: 10}
	tests := []struct {
		name, query string
		code        string // "" when accepted
		message     string
	}{
		{"small", `{ a b { c d } ...F } fragment F on Q { e }`, "", ""},
		{"syntax error", `{ a `, gqllimit.CodeParseFailed, ""},
		{"too many tokens", "{" + strings.Repeat(" a", 1000) + " }", gqllimit.CodeQueryTooLarge, "more than 1000 tokens"},
		{"duplicate fields", "{" + strings.Repeat(" __typename", 11) + " }", gqllimit.CodeMaxFieldsExceeded, `11 fields named "__typename"`},
		{"duplicates at the limit", "{" + strings.Repeat(" __typename", 10) + " }", "", ""},
		{"duplicates through an alias", "{ x: a" + strings.Repeat(" x: b", 10) + " }", gqllimit.CodeMaxFieldsExceeded, `fields named "x"`},
		{"duplicates through fragments", `{ a a ...F ...G ... on Q { a a } } fragment F on Q { a a a } fragment G on Q { a a a a }`, gqllimit.CodeMaxFieldsExceeded, `11 fields named "a"`},
		{"distinct names", `{ a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 a11 }`, "", ""},
		{"fields written", "{" + strings.Repeat(" a { b }", 51) + " }", gqllimit.CodeMaxFieldsExceeded, "at most 100"},
		{"fragment chain within limits", chain(8, false), "", ""},
		{"fragment chain: __typename at one level", chain(10, false), gqllimit.CodeMaxFieldsExceeded, `11 fields named "__typename"`},
		{"fragment fan-out", chain(22, true), gqllimit.CodeMaxFieldsExceeded, `fields named "__typename"`},
		{"small fan-out", chain(4, true), gqllimit.CodeMaxFieldsExceeded, `16 fields named`},
		{"fan-out of distinct fields", fanOut(8), gqllimit.CodeMaxFieldsExceeded, "766 fields with its fragments expanded"},
		{"fragment cycle left to validation", `{ ...F } fragment F on Q { a ...G } fragment G on Q { b ...F }`, "", ""},
		{"unknown fragment left to validation", `{ ...F }`, "", ""},
		{"unused fragment counted", "{ a } fragment F on Q {" + strings.Repeat(" x", 11) + " }", gqllimit.CodeMaxFieldsExceeded, `fields named "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := gqllimit.Parse(tt.query, limits)
			if tt.code == "" {
				if err != nil || doc == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if got := err.Extensions["code"]; got != tt.code {
				t.Errorf("code %v, want %s (%s)", got, tt.code, err.Message)
			}
			if !strings.Contains(err.Message, tt.message) {
				t.Errorf("message %q does not say %q", err.Message, tt.message)
			}
		})
	}
}
