// Package gqllimit bounds the work a GraphQL document can cost before it is
// validated. gqlparser's validation compares every pair of fields that share
// a response name in a selection set (OverlappingFieldsCanBeMerged), so a
// document of a few thousand `__typename` costs seconds; fragments that
// spread the next one twice expand exponentially, and everything that walks
// the expanded operation (validation, planning, execution) pays for it. The
// gateway and every subgraph parse with a token limit and check a document
// here before they validate it.
//
// gqlparser has the token limit (ParseQueryWithTokenLimit) but nothing that
// counts fields, so the counts are written here by hand; every fragment is
// walked once (memoised), so a check costs no more than the document's
// length.
package gqllimit

import (
	"fmt"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// Codes of the errors, in extensions.code.
const (
	// CodeQueryTooLarge: too many tokens (or bytes, checked by the caller).
	CodeQueryTooLarge = "QUERY_TOO_LARGE"
	// CodeMaxFieldsExceeded: too many fields, or one name too many times.
	CodeMaxFieldsExceeded = "MAX_FIELDS_EXCEEDED"
	// CodeParseFailed: the document is not GraphQL.
	CodeParseFailed = "GRAPHQL_PARSE_FAILED"
)

// Limits bound a document. A zero field is no limit.
type Limits struct {
	// MaxTokens bounds the lexical tokens of the document (names,
	// punctuation, values).
	MaxTokens int
	// MaxFields bounds the fields of an operation with every fragment
	// spread expanded, as it is validated and executed, and the fields
	// written in the document.
	MaxFields int
	// MaxSameName bounds the fields that share one response name in one
	// selection set, counting those of its fragments: validation compares
	// each pair of them.
	MaxSameName int
}

// Parse parses query, with at most l.MaxTokens tokens, and checks it
// against l. A refusal is a *gqlerror.Error with extensions.code set.
func Parse(query string, l Limits) (*ast.QueryDocument, *gqlerror.Error) {
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, l.MaxTokens)
	if err != nil {
		e, ok := err.(*gqlerror.Error)
		if !ok {
			e = gqlerror.Wrap(err)
		}
		code := CodeParseFailed
		if l.MaxTokens > 0 && strings.HasPrefix(e.Message, "exceeded token limit") {
			code = CodeQueryTooLarge
			e = gqlerror.Errorf("the query has more than %d tokens; at most %d are allowed", l.MaxTokens, l.MaxTokens)
		}
		return nil, withCode(e, code)
	}
	if e := Check(doc, l); e != nil {
		return nil, e
	}
	return doc, nil
}

// Check refuses a document over l.MaxFields or l.MaxSameName.
func Check(doc *ast.QueryDocument, l Limits) *gqlerror.Error {
	c := &counter{doc: doc, limits: l, memo: map[string]*fragmentCount{}}
	if l.MaxFields > 0 {
		written := 0
		for _, op := range doc.Operations {
			written = sat(written + countWritten(op.SelectionSet))
		}
		for _, f := range doc.Fragments {
			written = sat(written + countWritten(f.SelectionSet))
		}
		if written > l.MaxFields {
			return tooManyFields(written, l.MaxFields)
		}
	}
	for _, op := range doc.Operations {
		n := c.fields(op.SelectionSet)
		if c.err != nil {
			return c.err
		}
		if l.MaxFields > 0 && n > l.MaxFields {
			return tooManyFields(n, l.MaxFields)
		}
	}
	for _, f := range doc.Fragments {
		// Unused fragments are validated too.
		if c.fragment(f.Name); c.err != nil {
			return c.err
		}
	}
	return nil
}

func tooManyFields(n, limit int) *gqlerror.Error {
	return withCode(gqlerror.Errorf(
		"the operation has %s fields with its fragments expanded; at most %d are allowed", atLeast(n), limit),
		CodeMaxFieldsExceeded)
}

// atLeast writes n, or "more than a million" when it saturated.
func atLeast(n int) string {
	if n >= saturated {
		return "more than a million"
	}
	return fmt.Sprint(n)
}

// saturated caps the counts: exponential fragments must not overflow.
const saturated = 1 << 20

func sat(n int) int { return min(n, saturated) }

// countWritten counts the fields written in set, not through spreads.
func countWritten(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n = sat(n + 1 + countWritten(s.SelectionSet))
		case *ast.InlineFragment:
			n = sat(n + countWritten(s.SelectionSet))
		}
	}
	return n
}

// counter counts an operation's fields, each fragment once.
type counter struct {
	doc    *ast.QueryDocument
	limits Limits
	memo   map[string]*fragmentCount
	err    *gqlerror.Error
}

// fragmentCount is what a fragment adds where it is spread: its expanded
// fields, and its fields at that level by response name.
type fragmentCount struct {
	fields int
	names  map[string]int
}

// fields counts the expanded fields of set and checks, on the way, the
// fields of the same name in every selection set.
func (c *counter) fields(set ast.SelectionSet) int {
	n, _ := c.level(set)
	return n
}

// level returns the expanded fields of set and its fields at this level by
// response name (through inline fragments and spreads), after checking
// MaxSameName.
func (c *counter) level(set ast.SelectionSet) (int, map[string]int) {
	n := 0
	names := map[string]int{}
	var collect func(ast.SelectionSet)
	collect = func(set ast.SelectionSet) {
		for _, sel := range set {
			if c.err != nil {
				return
			}
			switch s := sel.(type) {
			case *ast.Field:
				name := s.Alias
				if name == "" {
					name = s.Name
				}
				names[name] = sat(names[name] + 1)
				n = sat(n + 1 + c.fields(s.SelectionSet))
			case *ast.InlineFragment:
				collect(s.SelectionSet)
			case *ast.FragmentSpread:
				f := c.fragment(s.Name)
				n = sat(n + f.fields)
				for k, v := range f.names {
					names[k] = sat(names[k] + v)
				}
			}
		}
	}
	collect(set)
	if c.err == nil && c.limits.MaxSameName > 0 {
		for name, k := range names {
			if k > c.limits.MaxSameName {
				c.err = withCode(gqlerror.Errorf(
					"a selection set has %s fields named %q; at most %d fields of one name are allowed in a selection set",
					atLeast(k), name, c.limits.MaxSameName), CodeMaxFieldsExceeded)
				break
			}
		}
	}
	return n, names
}

// fragment returns the counts of the fragment named name; an unknown
// fragment, or one spread inside itself, counts nothing (validation refuses
// both).
func (c *counter) fragment(name string) *fragmentCount {
	if f, ok := c.memo[name]; ok {
		return f
	}
	f := &fragmentCount{}
	c.memo[name] = f // a cycle finds it empty
	if def := c.doc.Fragments.ForName(name); def != nil {
		f.fields, f.names = c.level(def.SelectionSet)
	}
	return f
}

func withCode(e *gqlerror.Error, code string) *gqlerror.Error {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = code
	return e
}
