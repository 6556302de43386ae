package gateway

import (
	"bytes"
	"slices"

	"github.com/nautilus/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
)

// printOperation returns the text of a document with one operation: op with
// the selections set, the variables they use and the fragments they use.
func printOperation(doc *ast.QueryDocument, op *ast.OperationDefinition, set ast.SelectionSet) string {
	fragments := map[string]bool{}
	variables := map[string]bool{}
	useArgs := func(args ast.ArgumentList) {
		for _, v := range graphql.ExtractVariables(args) {
			variables[v] = true
		}
	}
	useDirectives := func(dirs ast.DirectiveList) {
		for _, d := range dirs {
			useArgs(d.Arguments)
		}
	}
	var visit func(ast.SelectionSet)
	visit = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				useArgs(s.Arguments)
				useDirectives(s.Directives)
				visit(s.SelectionSet)
			case *ast.InlineFragment:
				useDirectives(s.Directives)
				visit(s.SelectionSet)
			case *ast.FragmentSpread:
				useDirectives(s.Directives)
				if !fragments[s.Name] {
					fragments[s.Name] = true
					if f := doc.Fragments.ForName(s.Name); f != nil {
						useDirectives(f.Directives)
						visit(f.SelectionSet)
					}
				}
			}
		}
	}
	useDirectives(op.Directives)
	visit(set)
	one := *op
	one.SelectionSet = set
	one.VariableDefinitions = slices.DeleteFunc(slices.Clone(op.VariableDefinitions), func(v *ast.VariableDefinition) bool {
		return !variables[v.Variable]
	})
	out := &ast.QueryDocument{Operations: ast.OperationList{&one}}
	for _, f := range doc.Fragments {
		if fragments[f.Name] {
			out.Fragments = append(out.Fragments, f)
		}
	}
	var buf bytes.Buffer
	formatter.NewFormatter(&buf).FormatQueryDocument(out)
	return buf.String()
}
