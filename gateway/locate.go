package gateway

import (
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// locate gives each error with a path the location, in the request's query
// text, of the field the path ends at. The services' own locations are of
// the documents the gateway sent them, not of the client's.
func locate(errs []*gqlerror.Error, op *operation, p params) {
	doc, def := op.doc, op.op
	reparsed := false
	for _, e := range errs {
		if len(e.Path) == 0 || len(e.Locations) > 0 {
			continue
		}
		if !reparsed && p.Query != op.text {
			// The cached operation was parsed from the same tokens
			// formatted differently: its positions are not this text's.
			reparsed = true
			d, err := parser.ParseQuery(&ast.Source{Input: p.Query})
			if err != nil {
				return
			}
			o, gerr := selectOperation(d, p.OperationName)
			if gerr != nil {
				return
			}
			doc, def = d, o
		}
		if f := fieldAt(doc, def.SelectionSet, e.Path); f != nil {
			e.Locations = locationsOf(f.Position)
		}
	}
}

// fieldAt returns the field that path ends at, through fragments.
func fieldAt(doc *ast.QueryDocument, set ast.SelectionSet, path ast.Path) *ast.Field {
	var found *ast.Field
	sets := []ast.SelectionSet{set}
	for _, el := range path {
		name, ok := el.(ast.PathName)
		if !ok {
			continue // a list index
		}
		var fields []*ast.Field
		for _, s := range sets {
			fields = append(fields, fieldsWithKey(doc, s, string(name), map[string]bool{})...)
		}
		if len(fields) == 0 {
			return found
		}
		found = fields[0]
		sets = sets[:0]
		for _, f := range fields {
			sets = append(sets, f.SelectionSet)
		}
	}
	return found
}

// fieldsWithKey returns the fields of set whose response key is key.
func fieldsWithKey(doc *ast.QueryDocument, set ast.SelectionSet, key string, seen map[string]bool) []*ast.Field {
	var out []*ast.Field
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias == key {
				out = append(out, s)
			}
		case *ast.InlineFragment:
			out = append(out, fieldsWithKey(doc, s.SelectionSet, key, seen)...)
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil && !seen[s.Name] {
				seen[s.Name] = true
				out = append(out, fieldsWithKey(doc, f.SelectionSet, key, seen)...)
			}
		}
	}
	return out
}
