package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	nautilus "github.com/nautilus/gateway"
	"github.com/nautilus/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// The gateway executes nautilus's plans itself, level by level, so that the
// node fetches one level of a plan makes to one service go out as one
// request: nautilus's ParallelExecutor sends one `node(id: $id)` request per
// object, so a list of 50 products with a field from another service costs
// 50 requests to it (NAUTILUS.md), and gqlgen does not accept JSON-array
// batches. Here they become one document of aliased node fields,
//
//	query Op($_n0: ID!, $_n1: ID!) {
//	  n0: node(id: $_n0) { ... on Product { reviews { body } } }
//	  n1: node(id: $_n1) { ... on Product { reviews { body } } }
//	}
//
// which a subgraph resolves concurrently, through its per-request
// dataloaders: one store query per type. A level waits for the one before
// it, so a request makes at most one request per service per level of the
// plan, however long its lists. The same selection of the same object
// (nautilus plans a fragment's fields of another service twice) is fetched
// once.
//
// The executor also puts the errors of a node fetch at the path of the
// client's query (a service reports them under its own aliases), and makes
// a top-level node(id:) null when no service knows the object, as nautilus
// does.

// execution is the execution of one request's plans.
type execution struct {
	ctx  context.Context
	op   *operation
	vars map[string]any
	data map[string]any
	errs []error // *graphql.Error and *upstreamError, with client paths
	weak []*weakNode
}

// pending is a plan step to run for one object.
type pending struct {
	step   *nautilus.QueryPlanStep
	target map[string]any // the object its result merges into
	path   []any          // target's path in the response
	id     any            // target's ID, for node fetches
	weak   *weakNode      // set when target is a top-level node(id:)
}

// weakNode is a top-level node(id:) field, answered by nautilus with just
// the ID: it is null unless a service returns the object.
type weakNode struct {
	key               string
	fetched, resolved bool
}

// fetched is the result of one step for one object.
type fetched struct {
	obj  map[string]any // nil when the service returned null
	errs []error
}

func newExecution(ctx context.Context, op *operation, vars map[string]any) *execution {
	return &execution{ctx: ctx, op: op, vars: vars, data: map[string]any{}}
}

// run executes plan, merging its result into x.data.
func (x *execution) run(plan *nautilus.QueryPlan) {
	var level []pending
	for _, s := range plan.RootStep.Then {
		level = append(level, pending{step: s, target: x.data})
	}
	for len(level) > 0 && x.ctx.Err() == nil {
		batches := groupByQueryer(level)
		results := make([][]fetched, len(batches))
		if len(batches) == 1 {
			results[0] = x.fetch(plan, batches[0])
		} else {
			var wg sync.WaitGroup
			for i, b := range batches {
				wg.Go(func() { results[i] = x.fetch(plan, b) })
			}
			wg.Wait()
		}
		var next []pending
		for i, b := range batches {
			for j, p := range b {
				next = append(next, x.merge(p, results[i][j])...)
			}
		}
		level = next
	}
	for _, w := range x.weak {
		if w.fetched && !w.resolved {
			x.data[w.key] = nil
		}
	}
	x.weak = nil
}

// send sends a request of the execution to u: a query's may share an
// identical one in flight (dedupe.go), a mutation's never.
func (x *execution) send(u *upstream, query string, vars map[string]any, operationName string) (json.RawMessage, error) {
	if x.op.op.Operation == ast.Query {
		return u.sendQuery(x.ctx, query, vars, operationName)
	}
	return u.send(x.ctx, query, vars, operationName)
}

// groupByQueryer groups pendings by the service they go to, in order.
func groupByQueryer(level []pending) [][]pending {
	var out [][]pending
	index := map[graphql.Queryer]int{}
	for _, p := range level {
		i, ok := index[p.step.Queryer]
		if !ok {
			i = len(out)
			index[p.step.Queryer] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], p)
	}
	return out
}

// isRoot reports whether step selects on a root type rather than under
// node(id:).
func isRoot(step *nautilus.QueryPlanStep) bool {
	switch step.ParentType {
	case "Query", "Mutation", "Subscription":
		return true
	}
	return false
}

// fetch runs the pendings of one service: node fetches as one batch, the
// others one by one.
func (x *execution) fetch(plan *nautilus.QueryPlan, batch []pending) []fetched {
	out := make([]fetched, len(batch))
	u, isUpstream := batch[0].step.Queryer.(*upstream)
	var nodes []int
	for i, p := range batch {
		if isUpstream && !isRoot(p.step) {
			nodes = append(nodes, i)
			continue
		}
		out[i] = x.fetchOne(plan, p)
	}
	if len(nodes) > 0 {
		x.fetchNodes(plan, u, batch, nodes, out)
	}
	return out
}

// fetchOne runs one step for one object, as nautilus would: a root step
// as planned, any other step under node(id: $id).
func (x *execution) fetchOne(plan *nautilus.QueryPlan, p pending) fetched {
	vars := x.stepVariables(p.step)
	if !isRoot(p.step) {
		vars["id"] = p.id
	}
	input := &graphql.QueryInput{Query: p.step.QueryString, QueryDocument: p.step.QueryDocument, Variables: vars, OperationName: plan.Operation.Name}
	var data map[string]any
	var err error
	if u, ok := p.step.Queryer.(*upstream); ok {
		data, err = decodeObject(x.send(u, input.Query, input.Variables, input.OperationName))
	} else if err = p.step.Queryer.Query(x.ctx, input, &data); data != nil {
		data, _ = plainValue(data).(map[string]any) // nautilus answers with its own object types
	}
	var f fetched
	if isRoot(p.step) {
		f.obj = data
		for _, e := range flatten(err) {
			f.errs = append(f.errs, x.relocate(e, nil, nil, p.step))
		}
		if f.obj == nil && len(f.errs) == 0 {
			f.obj = map[string]any{}
		}
		return f
	}
	f.obj, _ = data["node"].(map[string]any)
	for _, e := range flatten(err) {
		f.errs = append(f.errs, x.relocate(e, []any{"node"}, p.path, p.step))
	}
	return f
}

// fetchNodes sends the node fetches batch[i], i in idx, to u as one request.
func (x *execution) fetchNodes(plan *nautilus.QueryPlan, u *upstream, batch []pending, idx []int, out []fetched) {
	type key struct {
		fetch string // steps that select the same fetch the same
		id    any
	}
	aliasOf := map[key]int{} // the alias of each distinct fetch
	var unique []pending
	users := map[int][]int{} // alias → batch indexes
	for _, i := range idx {
		p := batch[i]
		k := key{x.op.fetches[p.step], p.id}
		a, ok := aliasOf[k]
		if !ok {
			a = len(unique)
			aliasOf[k] = a
			unique = append(unique, p)
		}
		users[a] = append(users[a], i)
	}
	query, vars := x.nodesQuery(plan, unique)
	data, err := decodeObject(x.send(u, query, vars, plan.Operation.Name))
	for a := range unique {
		obj, _ := data["n"+strconv.Itoa(a)].(map[string]any)
		for n, i := range users[a] {
			if n > 0 && obj != nil {
				obj = deepCopy(obj).(map[string]any) // each object its own copy
			}
			out[i].obj = obj
		}
	}
	for _, e := range flatten(err) {
		alias, hasAlias := -1, false
		if ge, ok := e.(*graphql.Error); ok && len(ge.Path) > 0 {
			if s, ok := ge.Path[0].(string); ok && strings.HasPrefix(s, "n") {
				if n, err := strconv.Atoi(s[1:]); err == nil && n < len(unique) {
					alias, hasAlias = n, true
				}
			}
		}
		if !hasAlias {
			// About the whole request: report it once, at the first object.
			i := users[0][0]
			out[i].errs = append(out[i].errs, x.relocate(e, nil, batch[i].path, batch[i].step))
			continue
		}
		for _, i := range users[alias] {
			out[i].errs = append(out[i].errs, x.relocate(e, []any{"n" + strconv.Itoa(alias)}, batch[i].path, batch[i].step))
		}
	}
}

// nodesQuery is the document and variables of a batch of node fetches.
func (x *execution) nodesQuery(plan *nautilus.QueryPlan, fetches []pending) (string, map[string]any) {
	vars := map[string]any{}
	var defs, body strings.Builder
	declared := map[string]bool{}
	for a, p := range fetches {
		for v := range p.step.Variables {
			if declared[v] {
				continue
			}
			declared[v] = true
			def := plan.Operation.VariableDefinitions.ForName(v)
			if def == nil {
				continue
			}
			if val, ok := x.vars[v]; ok {
				vars[v] = val
			}
			fmt.Fprintf(&defs, "$%s: %s", v, def.Type.String())
			if def.DefaultValue != nil {
				defs.WriteString(" = " + def.DefaultValue.String())
			}
			defs.WriteByte(' ')
		}
		n := strconv.Itoa(a)
		idVar := x.op.idVar + n
		vars[idVar] = p.id
		fmt.Fprintf(&defs, "$%s: ID! ", idVar)
		fmt.Fprintf(&body, "n%s: node(id: $%s) %s ", n, idVar, x.op.fetches[p.step])
	}
	return "query " + plan.Operation.Name + "(" + strings.TrimSpace(defs.String()) + ") { " + body.String() + "}", vars
}

// stepVariables are the request's variables that step uses.
func (x *execution) stepVariables(step *nautilus.QueryPlanStep) map[string]any {
	vars := map[string]any{}
	for v := range step.Variables {
		if val, ok := x.vars[v]; ok {
			vars[v] = val
		}
	}
	return vars
}

// merge merges the result of p into its target and returns the fetches
// that depend on it.
func (x *execution) merge(p pending, f fetched) []pending {
	x.errs = append(x.errs, f.errs...)
	if f.obj == nil {
		return nil
	}
	if p.weak != nil {
		p.weak.resolved = true
	}
	mergeInto(p.target, f.obj)
	weak := map[string]*weakNode{}
	if isRoot(p.step) && !isUpstream(p.step) {
		// nautilus answered these top-level node(id:) fields with the ID alone.
		for _, sel := range p.step.SelectionSet {
			if fd, ok := sel.(*ast.Field); ok && fd.Name == "node" && p.target[fd.Alias] != nil {
				w := &weakNode{key: fd.Alias}
				weak[fd.Alias] = w
				x.weak = append(x.weak, w)
			}
		}
	}
	var next []pending
	for _, d := range p.step.Then {
		rel := d.InsertionPoint[min(len(p.step.InsertionPoint), len(d.InsertionPoint)):]
		var w *weakNode
		if len(rel) == 1 {
			w = weak[rel[0]]
		}
		collectTargets(p.target, rel, p.path, func(obj map[string]any, path []any) {
			id, ok := obj["id"]
			if !ok || id == nil {
				return // the shaper reports the fields that stay missing
			}
			if w != nil {
				w.fetched = true
			}
			next = append(next, pending{step: d, target: obj, path: path, id: id, weak: w})
		})
	}
	return next
}

func isUpstream(step *nautilus.QueryPlanStep) bool {
	_, ok := step.Queryer.(*upstream)
	return ok
}

// collectTargets calls found for every object at the relative insertion
// point rel under v, at path.
func collectTargets(v any, rel []string, path []any, found func(map[string]any, []any)) {
	switch t := v.(type) {
	case map[string]any:
		if len(rel) == 0 {
			found(t, path)
			return
		}
		collectTargets(t[rel[0]], rel[1:], append(slices.Clip(path), rel[0]), found)
	case []any:
		for i, item := range t {
			collectTargets(item, rel, append(slices.Clip(path), i), found)
		}
	}
}

// mergeInto copies the fields of src into dst, merging objects and lists of
// objects that both have.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		switch sv := v.(type) {
		case map[string]any:
			if dv, ok := dst[k].(map[string]any); ok {
				mergeInto(dv, sv)
				continue
			}
		case []any:
			if dv, ok := dst[k].([]any); ok && len(dv) == len(sv) {
				mergeLists(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

func mergeLists(dst, src []any) {
	for i := range src {
		dm, dok := dst[i].(map[string]any)
		sm, sok := src[i].(map[string]any)
		switch {
		case dok && sok:
			mergeInto(dm, sm)
		case src[i] != nil:
			dst[i] = src[i]
		}
	}
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// decodeObject decodes the data of a service's response (see
// upstream.send), numbers kept as written.
func decodeObject(raw json.RawMessage, err error) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out map[string]any
	if derr := dec.Decode(&out); derr != nil {
		return nil, append(graphql.ErrorList{fmt.Errorf("decode a service's data: %w", derr)}, flatten(err)...)
	}
	return out, err
}

// plainValue converts nautilus's result objects (which have ToMap) into
// maps.
func plainValue(v any) any {
	switch t := v.(type) {
	case interface{ ToMap() map[string]any }:
		if m := t.ToMap(); m != nil {
			return plainValue(m)
		}
		return nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = plainValue(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = plainValue(e)
		}
		return out
	}
	return v
}

// relocate returns e with its path moved from the fetch's document to the
// client's query: prefix, the path of the fetched object in the service's
// response (such as ["n3"]), is replaced by at, the object's path in the
// client's response. An upstream failure is placed at the step's first
// field.
func (x *execution) relocate(e error, prefix, at []any, step *nautilus.QueryPlanStep) error {
	switch t := e.(type) {
	case *graphql.Error:
		if len(t.Path) < len(prefix) || !slices.Equal(t.Path[:len(prefix)], prefix) {
			return &graphql.Error{Message: t.Message, Extensions: t.Extensions, Path: nil}
		}
		path := append(slices.Clip(at), t.Path[len(prefix):]...)
		return &graphql.Error{Message: t.Message, Extensions: t.Extensions, Path: path}
	case *upstreamError:
		c := *t
		if key := firstKey(step.SelectionSet, step.FragmentDefinitions); key != "" {
			c.path = append(slices.Clip(at), key)
		}
		return &c
	}
	return e
}

// firstKey is the response key of the first field of set.
func firstKey(set ast.SelectionSet, fragments ast.FragmentDefinitionList) string {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			return s.Alias
		case *ast.InlineFragment:
			if k := firstKey(s.SelectionSet, fragments); k != "" {
				return k
			}
		case *ast.FragmentSpread:
			if f := fragments.ForName(s.Name); f != nil {
				if k := firstKey(f.SelectionSet, fragments); k != "" {
					return k
				}
			}
		}
	}
	return ""
}
