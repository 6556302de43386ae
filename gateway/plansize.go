package gateway

import (
	"maps"
	"slices"

	"github.com/nautilus/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// maxPlanSteps bounds the fetch steps of one operation's plan.
//
// nautilus's planner queues the steps it discovers in a 50-slot channel that
// the same goroutine drains: an operation whose plan has more than 50 steps
// (say, 60 aliased fields that each need another service) blocks it forever,
// and with it the request. The gateway counts the steps before planning and
// refuses larger operations.
const maxPlanSteps = 40

// gatewayLocation stands for the fields nautilus answers itself (node, the
// id of a Node).
const gatewayLocation = "(gateway)"

// fieldLocations maps "Type.field" to the services that resolve it, as
// nautilus's planner sees them.
type fieldLocations map[string][]string

func newFieldLocations(sources []*graphql.RemoteSchema, names map[string]string) fieldLocations {
	locs := fieldLocations{}
	for _, src := range sources {
		for name, def := range src.Schema.Types {
			for _, f := range def.Fields {
				key := name + "." + f.Name
				locs[key] = append(locs[key], names[src.URL])
			}
			// nautilus asks any service that defines the type for its
			// __typename.
			key := name + ".__typename"
			locs[key] = append(locs[key], names[src.URL])
		}
	}
	locs["Query.node"] = []string{gatewayLocation}
	return locs
}

// planSteps estimates, from above, the number of steps nautilus's planner
// makes for the selections set of type parent resolved at location loc: a
// step per foreign service per selection set, as the planner groups them.
//
// A __typename that loc cannot answer counts as a step of its own: nautilus
// sends it to any service that defines the type, not necessarily one the
// other fields go to. A chain of fragments on Query that each select
// __typename and spread the next makes a step per fragment.
func (l fieldLocations) planSteps(doc *ast.QueryDocument, set ast.SelectionSet, parent, loc string) int {
	return l.steps(doc, set, parent, loc, map[string]map[string]bool{})
}

func (l fieldLocations) steps(doc *ast.QueryDocument, set ast.SelectionSet, parent, loc string, memo map[string]map[string]bool) int {
	type pending struct {
		field    *ast.Field
		parent   string
		location string
	}
	foreign := map[string][]pending{}
	var order []string
	n := 0
	var walk func(ast.SelectionSet, string)
	walk = func(set ast.SelectionSet, parent string) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				locs := l[parent+"."+s.Name]
				if s.Name == "id" && loc == gatewayLocation {
					locs = append(locs, gatewayLocation)
				}
				if len(locs) == 0 || slices.Contains(locs, loc) {
					n += l.steps(doc, s.SelectionSet, fieldType(s), loc, memo)
					continue
				}
				target := foreignTarget(s, locs)
				if _, ok := foreign[target]; !ok {
					order = append(order, target)
				}
				foreign[target] = append(foreign[target], pending{s, parent, locs[0]})
			case *ast.InlineFragment:
				cond := s.TypeCondition
				if cond == "" {
					cond = parent
				}
				walk(s.SelectionSet, cond)
			case *ast.FragmentSpread:
				if f := doc.Fragments.ForName(s.Name); f != nil {
					// nautilus plans a spread's foreign fields once more on
					// their own.
					n += len(l.foreignServices(doc, f.SelectionSet, f.TypeCondition, loc, memo))
					walk(f.SelectionSet, f.TypeCondition)
				}
			}
		}
	}
	walk(set, parent)
	for _, target := range order {
		n++
		for _, p := range foreign[target] {
			n += l.steps(doc, p.field.SelectionSet, fieldType(p.field), p.location, memo)
		}
	}
	return n
}

// foreignTarget names the step a field of another service joins: the
// service's, or one of its own for __typename.
func foreignTarget(f *ast.Field, locs []string) string {
	if f.Name == "__typename" {
		return "__typename " + locs[0]
	}
	return locs[0]
}

// foreignServices returns the steps (see foreignTarget) other than loc's
// that the fields of set (directly, or through fragments) need. memo holds
// the answer for each fragment and location already walked.
func (l fieldLocations) foreignServices(doc *ast.QueryDocument, set ast.SelectionSet, parent, loc string, memo map[string]map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if locs := l[parent+"."+s.Name]; len(locs) > 0 && !slices.Contains(locs, loc) {
				out[foreignTarget(s, locs)] = true
			}
		case *ast.InlineFragment:
			cond := s.TypeCondition
			if cond == "" {
				cond = parent
			}
			maps.Copy(out, l.foreignServices(doc, s.SelectionSet, cond, loc, memo))
		case *ast.FragmentSpread:
			key := s.Name + "\x00" + loc
			got, ok := memo[key]
			if !ok {
				memo[key] = nil // validation rules out cycles; this guards anyway
				if f := doc.Fragments.ForName(s.Name); f != nil {
					got = l.foreignServices(doc, f.SelectionSet, f.TypeCondition, loc, memo)
				}
				memo[key] = got
			}
			maps.Copy(out, got)
		}
	}
	return out
}

// fieldType is the name of a validated field's type.
func fieldType(f *ast.Field) string {
	if f.Definition == nil {
		return ""
	}
	return f.Definition.Type.Name()
}
