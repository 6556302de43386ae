package gateway

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shopgraph/shopgraph/internal/gid"
)

// shaper turns the data nautilus returns into the response the GraphQL spec
// requires. nautilus leaves a field out when the service behind it failed,
// returns fields nobody selected, drops id and __typename under the
// gateway's own node(id:) field, and its map has no order. The shaper walks
// the operation's selections against the schema, in order:
//   - every selected field is present, null if nautilus has no value;
//   - a null in a non-null position nulls the nearest nullable parent;
//   - id and __typename of an object that implements Node are filled in from
//     its global ID (Shopgraph global IDs name their type, see internal/gid);
//   - fields are written in the order they were selected.
//
// GraphQL execution libraries do this while they resolve; nautilus has no
// such step and gqlparser has no executor, so it is written here by hand.
type shaper struct {
	schema    *ast.Schema
	fragments ast.FragmentDefinitionList
	vars      map[string]any
	// nulled are the paths of non-null fields found null or missing.
	nulled []ast.Path
}

// orderedObject is a JSON object whose keys keep their order.
type orderedObject []objectField

type objectField struct {
	key   string
	value any
}

// MarshalJSON writes the object with its keys in order.
func (o orderedObject) MarshalJSON() ([]byte, error) {
	return appendJSON(nil, o)
}

// appendJSON appends the JSON of a shaped value to buf. It writes the
// shaper's own types itself: json.Marshal would encode every nested
// orderedObject on its own, then check and compact its output again at
// every level.
func appendJSON(buf []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case orderedObject:
		buf = append(buf, '{')
		for i, f := range t {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendQuote(buf, f.key) // a GraphQL name: plain ASCII
			buf = append(buf, ':')
			var err error
			if buf, err = appendJSON(buf, f.value); err != nil {
				return nil, err
			}
		}
		return append(buf, '}'), nil
	case []any:
		buf = append(buf, '[')
		for i, e := range t {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendJSON(buf, e); err != nil {
				return nil, err
			}
		}
		return append(buf, ']'), nil
	case bool:
		return strconv.AppendBool(buf, t), nil
	case json.Number: // as a service wrote it (see decodeObject)
		return append(buf, t...), nil
	}
	b, err := json.Marshal(v) // strings (with JSON's escaping), maps, other numbers
	if err != nil {
		return nil, err
	}
	return append(buf, b...), nil
}

// root shapes the data of operation op. It returns nil when a non-null root
// field is null: then data is null.
func (s *shaper) root(data map[string]any, op *ast.OperationDefinition) orderedObject {
	typ := rootType(s.schema, op)
	if data == nil {
		data = map[string]any{}
	}
	out, ok := s.object(data, typ, []ast.SelectionSet{op.SelectionSet}, nil, "")
	if !ok {
		return nil
	}
	return out
}

// rootType is the type of op's root selections.
func rootType(schema *ast.Schema, op *ast.OperationDefinition) *ast.Definition {
	switch op.Operation {
	case ast.Mutation:
		return schema.Mutation
	case ast.Subscription:
		return schema.Subscription
	default:
		return schema.Query
	}
}

// object shapes one object of declared type typ. nodeID is the argument of
// a node(id:) field that returned it, if any. It reports false when the
// object must be null.
func (s *shaper) object(raw map[string]any, typ *ast.Definition, sets []ast.SelectionSet, path ast.Path, nodeID string) (orderedObject, bool) {
	concrete := s.concreteType(raw, typ, nodeID)
	keys, groups := s.collect(typ, concrete, sets)
	out := make(orderedObject, 0, len(keys))
	ok := true
	for _, key := range keys {
		fields := groups[key]
		f := fields[0]
		fpath := append(slices.Clip(path), ast.PathName(key))
		rv, has := raw[key]
		switch {
		case f.Name == "__typename":
			if !has && concrete != nil {
				rv = concrete.Name
			}
			if rv == nil {
				s.nulled = append(s.nulled, fpath)
				ok = false
			}
			out = append(out, objectField{key, rv})
			continue
		case len(path) == 0 && (f.Name == "__schema" || f.Name == "__type"):
			// Answered by nautilus itself, which leaves out newer
			// introspection fields (isRepeatable, specifiedByURL): pass it on.
			out = append(out, objectField{key, rv})
			continue
		case f.Name == "id" && rv == nil && nodeID != "":
			rv = nodeID
		}
		if f.Definition == nil {
			out = append(out, objectField{key, rv})
			continue
		}
		var sub []ast.SelectionSet
		for _, ff := range fields {
			if len(ff.SelectionSet) > 0 {
				sub = append(sub, ff.SelectionSet)
			}
		}
		childNode := ""
		if len(path) == 0 && f.Name == "node" {
			childNode, _ = f.ArgumentMap(s.vars)["id"].(string)
		}
		v, vok := s.value(rv, f.Definition.Type, sub, fpath, childNode)
		if !vok {
			ok = false
		}
		out = append(out, objectField{key, v})
	}
	if concrete == nil {
		// Of unknown type: keep what the service sent for fragments on
		// the object types, unshaped, rather than drop it.
		rest, _ := s.collect(typ, anyType, sets)
		for _, key := range rest {
			if _, done := groups[key]; !done {
				if rv, has := raw[key]; has {
					out = append(out, objectField{key, rv})
				}
			}
		}
	}
	return out, ok
}

// value shapes a value of type t. It reports false when the value is null in
// a non-null position (the caller must then be null itself).
func (s *shaper) value(raw any, t *ast.Type, sets []ast.SelectionSet, path ast.Path, nodeID string) (any, bool) {
	if raw == nil {
		if t.NonNull {
			s.nulled = append(s.nulled, path)
			return nil, false
		}
		return nil, true
	}
	if t.Elem != nil {
		list, isList := raw.([]any)
		if !isList {
			return raw, true
		}
		out := make([]any, len(list))
		for i, item := range list {
			v, ok := s.value(item, t.Elem, sets, append(slices.Clip(path), ast.PathIndex(i)), "")
			if !ok {
				return s.null(t, path)
			}
			out[i] = v
		}
		return out, true
	}
	def := s.schema.Types[t.NamedType]
	m, isObject := raw.(map[string]any)
	if def == nil || !def.IsCompositeType() || !isObject {
		return raw, true
	}
	obj, ok := s.object(m, def, sets, path, nodeID)
	if !ok {
		return s.null(t, path)
	}
	return obj, true
}

// null is the value of a position whose content had to be nulled.
func (s *shaper) null(t *ast.Type, path ast.Path) (any, bool) {
	if t.NonNull {
		s.nulled = append(s.nulled, path)
		return nil, false
	}
	return nil, true
}

// concreteType returns the object type of raw: typ itself if it is an
// object type, else the type its __typename or global ID names, or nil.
func (s *shaper) concreteType(raw map[string]any, typ *ast.Definition, nodeID string) *ast.Definition {
	if typ.Kind == ast.Object {
		return typ
	}
	candidates := []string{}
	if tn, ok := raw["__typename"].(string); ok {
		candidates = append(candidates, tn)
	}
	for _, id := range []any{raw["id"], nodeID} {
		if sid, ok := id.(string); ok && sid != "" {
			if tn, _, err := gid.Decode(sid); err == nil {
				candidates = append(candidates, tn)
			}
		}
	}
	for _, tn := range candidates {
		if def := s.schema.Types[tn]; def != nil && def.Kind == ast.Object && s.possible(typ, def) {
			return def
		}
	}
	return nil
}

// possible reports whether object type obj is a possible type of abstract.
func (s *shaper) possible(abstract, obj *ast.Definition) bool {
	return slices.ContainsFunc(s.schema.GetPossibleTypes(abstract), func(d *ast.Definition) bool { return d.Name == obj.Name })
}

// collect groups the fields selected on an object by response key, in
// order, following fragments whose type condition applies. When the
// object's concrete type is unknown, only fragments on the declared type
// itself apply.
func (s *shaper) collect(declared, concrete *ast.Definition, sets []ast.SelectionSet) ([]string, map[string][]*ast.Field) {
	var keys []string
	groups := map[string][]*ast.Field{}
	visited := map[string]bool{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if s.skipped(sel.Directives) {
					continue
				}
				if _, seen := groups[sel.Alias]; !seen {
					keys = append(keys, sel.Alias)
				}
				groups[sel.Alias] = append(groups[sel.Alias], sel)
			case *ast.InlineFragment:
				if !s.skipped(sel.Directives) && s.applies(sel.TypeCondition, declared, concrete) {
					walk(sel.SelectionSet)
				}
			case *ast.FragmentSpread:
				f := s.fragments.ForName(sel.Name)
				if f == nil || visited[sel.Name] || s.skipped(sel.Directives) || !s.applies(f.TypeCondition, declared, concrete) {
					continue
				}
				visited[sel.Name] = true
				walk(f.SelectionSet)
			}
		}
	}
	for _, set := range sets {
		walk(set)
	}
	return keys, groups
}

// anyType, as the concrete type, makes every fragment apply.
var anyType = &ast.Definition{}

func (s *shaper) applies(cond string, declared, concrete *ast.Definition) bool {
	switch {
	case cond == "" || cond == declared.Name || concrete == anyType:
		return true
	case concrete == nil:
		return false
	case cond == concrete.Name:
		return true
	}
	def := s.schema.Types[cond]
	return def != nil && def.IsAbstractType() && s.possible(def, concrete)
}

// skipped evaluates @skip and @include.
func (s *shaper) skipped(dirs ast.DirectiveList) bool {
	if d := dirs.ForName("skip"); d != nil {
		if v, _ := d.ArgumentMap(s.vars)["if"].(bool); v {
			return true
		}
	}
	if d := dirs.ForName("include"); d != nil {
		if v, _ := d.ArgumentMap(s.vars)["if"].(bool); !v {
			return true
		}
	}
	return false
}
