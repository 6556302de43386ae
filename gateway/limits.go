package gateway

import (
	"fmt"
	"math"
	"net/http"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Codes of the limits' errors, in extensions.code.
const (
	codeQueryTooLarge         = "QUERY_TOO_LARGE"
	codeBatchTooLarge         = "BATCH_TOO_LARGE"
	codeMaxDepthExceeded      = "MAX_DEPTH_EXCEEDED"
	codeMaxAliasesExceeded    = "MAX_ALIASES_EXCEEDED"
	codeMaxCostExceeded       = "MAX_COST_EXCEEDED"
	codeIntrospectionDisabled = "INTROSPECTION_DISABLED"
)

// defaultListSize is the number of items the cost assumes of a list without
// a first or last argument.
const defaultListSize = 10

// checkStatic refuses an operation that breaks a limit that does not depend
// on the variables: depth, aliases and introspection. It runs once per
// operation, before the operation is cached.
func (g *Gateway) checkStatic(doc *ast.QueryDocument, op *ast.OperationDefinition) (int, *gqlerror.Error) {
	if g.cfg.DisableIntrospection {
		if f := introspectionField(doc, op.SelectionSet, map[string]bool{}); f != nil {
			e := requestError(codeIntrospectionDisabled, fmt.Sprintf("introspection is disabled: %s cannot be queried (__typename can)", f.Name))
			e.Locations = locationsOf(f.Position)
			return http.StatusBadRequest, e
		}
	}
	if d := depth(doc, op.SelectionSet, map[string]int{}); d > g.cfg.MaxDepth {
		return http.StatusBadRequest, requestError(codeMaxDepthExceeded, fmt.Sprintf(
			"the operation nests fields %d deep; at most %d levels are allowed", d, g.cfg.MaxDepth))
	}
	if n := aliases(doc, op.SelectionSet, map[string]bool{}); n > g.cfg.MaxAliases {
		return http.StatusBadRequest, requestError(codeMaxAliasesExceeded, fmt.Sprintf(
			"the operation has %d aliases; at most %d are allowed", n, g.cfg.MaxAliases))
	}
	return 0, nil
}

// checkCost refuses an operation whose estimated cost, with these
// variables, is above the limit.
func (g *Gateway) checkCost(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any) *gqlerror.Error {
	c := &coster{doc: doc, vars: vars, memo: map[costKey]float64{}}
	if n := c.cost(op.SelectionSet, false); n > float64(g.cfg.MaxCost) {
		return requestError(codeMaxCostExceeded, fmt.Sprintf(
			"the operation's estimated cost is %.0f; at most %d is allowed "+
				"(every field counts once per object it can appear in; a list counts its first or last argument, or %d items)",
			math.Min(n, 1e15), g.cfg.MaxCost, defaultListSize))
	}
	return nil
}

func locationsOf(p *ast.Position) []gqlerror.Location {
	if p == nil || p.Line == 0 {
		return nil
	}
	return []gqlerror.Location{{Line: p.Line, Column: p.Column}}
}

// introspectionField returns the first __schema or __type field of set.
func introspectionField(doc *ast.QueryDocument, set ast.SelectionSet, seen map[string]bool) *ast.Field {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return s
			}
		case *ast.InlineFragment:
			if f := introspectionField(doc, s.SelectionSet, seen); f != nil {
				return f
			}
		case *ast.FragmentSpread:
			if fd := doc.Fragments.ForName(s.Name); fd != nil && !seen[s.Name] {
				seen[s.Name] = true
				if f := introspectionField(doc, fd.SelectionSet, seen); f != nil {
					return f
				}
			}
		}
	}
	return nil
}

// depth is the number of nested fields of the deepest path through set.
// memo holds the depth of fragments already measured.
func depth(doc *ast.QueryDocument, set ast.SelectionSet, memo map[string]int) int {
	d := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			d = max(d, 1+depth(doc, s.SelectionSet, memo))
		case *ast.InlineFragment:
			d = max(d, depth(doc, s.SelectionSet, memo))
		case *ast.FragmentSpread:
			fd, ok := memo[s.Name]
			if !ok {
				if f := doc.Fragments.ForName(s.Name); f != nil {
					memo[s.Name] = 0 // validation rules out cycles; this guards anyway
					fd = depth(doc, f.SelectionSet, memo)
					memo[s.Name] = fd
				}
			}
			d = max(d, fd)
		}
	}
	return d
}

// aliases counts the fields of set with an alias other than their name,
// each fragment once.
func aliases(doc *ast.QueryDocument, set ast.SelectionSet, seen map[string]bool) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				n++
			}
			n += aliases(doc, s.SelectionSet, seen)
		case *ast.InlineFragment:
			n += aliases(doc, s.SelectionSet, seen)
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil && !seen[s.Name] {
				seen[s.Name] = true
				n += aliases(doc, f.SelectionSet, seen)
			}
		}
	}
	return n
}

// coster estimates the cost of an operation: the number of field values its
// result can have. A field costs 1, and its selections cost as many times as
// the objects it returns: the value of its first or last argument, or
// defaultListSize for a list without them — except a list directly under a
// field that has first or last (a connection's edges or nodes), which that
// argument already counts.
type coster struct {
	doc  *ast.QueryDocument
	vars map[string]any
	memo map[costKey]float64 // fragments already costed
}

type costKey struct {
	fragment string
	sized    bool
}

// cost is the cost of set; sized tells whether the field above it had a
// first or last argument.
func (c *coster) cost(set ast.SelectionSet, sized bool) float64 {
	total := 0.0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n, hasSize := c.size(s)
			if !hasSize && sized {
				n = 1
			}
			total += 1 + n*c.cost(s.SelectionSet, hasSize)
		case *ast.InlineFragment:
			total += c.cost(s.SelectionSet, sized)
		case *ast.FragmentSpread:
			k := costKey{s.Name, sized}
			v, ok := c.memo[k]
			if !ok {
				if f := c.doc.Fragments.ForName(s.Name); f != nil {
					c.memo[k] = 0 // validation rules out cycles; this guards anyway
					v = c.cost(f.SelectionSet, sized)
					c.memo[k] = v
				}
			}
			total += v
		}
	}
	return total
}

// size returns how many objects field f returns at most, and whether a
// first or last argument says so.
func (c *coster) size(f *ast.Field) (float64, bool) {
	if len(f.Arguments) > 0 {
		args := f.ArgumentMap(c.vars)
		for _, name := range []string{"first", "last"} {
			if n, ok := toFloat(args[name]); ok {
				return max(n, 0), true
			}
		}
	}
	if f.Definition != nil && f.Definition.Type.Elem != nil {
		return defaultListSize, false
	}
	return 1, false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
