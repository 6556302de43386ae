package gateway

import (
	"bytes"
	"slices"
	"strings"

	nautilus "github.com/nautilus/gateway"
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

// printFetch returns the selection of a node fetch of step, the part after
// node(id: $id): `{ ... on Type { … } }`. The step's fragments are written
// inline: a batch holds the fetches of several steps, whose fragments of
// the same name may differ (nautilus splits a fragment per service).
func printFetch(step *nautilus.QueryPlanStep) string {
	var b strings.Builder
	b.WriteString("{ ... on ")
	b.WriteString(step.ParentType)
	b.WriteByte(' ')
	writeSelections(&b, step.SelectionSet, step.FragmentDefinitions)
	b.WriteString(" }")
	return b.String()
}

// writeSelections writes set, with fragment spreads written inline.
func writeSelections(b *strings.Builder, set ast.SelectionSet, fragments ast.FragmentDefinitionList) {
	b.WriteByte('{')
	empty := true
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			b.WriteByte(' ')
			if s.Alias != "" && s.Alias != s.Name {
				b.WriteString(s.Alias)
				b.WriteString(": ")
			}
			b.WriteString(s.Name)
			if len(s.Arguments) > 0 {
				b.WriteByte('(')
				for i, a := range s.Arguments {
					if i > 0 {
						b.WriteString(", ")
					}
					b.WriteString(a.Name)
					b.WriteString(": ")
					b.WriteString(a.Value.String())
				}
				b.WriteByte(')')
			}
			writeDirectives(b, s.Directives)
			if len(s.SelectionSet) > 0 {
				b.WriteByte(' ')
				writeSelections(b, s.SelectionSet, fragments)
			}
		case *ast.InlineFragment:
			if len(s.SelectionSet) == 0 {
				continue
			}
			b.WriteString(" ...")
			if s.TypeCondition != "" {
				b.WriteString(" on ")
				b.WriteString(s.TypeCondition)
			}
			writeDirectives(b, s.Directives)
			b.WriteByte(' ')
			writeSelections(b, s.SelectionSet, fragments)
		case *ast.FragmentSpread:
			f := fragments.ForName(s.Name)
			if f == nil || len(f.SelectionSet) == 0 {
				continue
			}
			b.WriteString(" ... on ")
			b.WriteString(f.TypeCondition)
			writeDirectives(b, s.Directives)
			b.WriteByte(' ')
			writeSelections(b, f.SelectionSet, fragments)
		}
		empty = false
	}
	if empty {
		b.WriteString(" __typename")
	}
	b.WriteString(" }")
}

func writeDirectives(b *strings.Builder, dirs ast.DirectiveList) {
	for _, d := range dirs {
		b.WriteString(" @")
		b.WriteString(d.Name)
		if len(d.Arguments) > 0 {
			b.WriteByte('(')
			for i, a := range d.Arguments {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(a.Name)
				b.WriteString(": ")
				b.WriteString(a.Value.String())
			}
			b.WriteByte(')')
		}
	}
}
