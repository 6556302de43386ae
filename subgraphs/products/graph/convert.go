package graph

import (
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/subgraphs/products/catalog"
	"github.com/shopgraph/shopgraph/subgraphs/products/graph/model"
)

// decodeID returns the local key of the global ID id of type typ.
// Returns INVALID_INPUT naming field if id is malformed or of another type.
func decodeID(field, id, typ string) (string, error) {
	key, err := gid.DecodeAs(id, typ)
	if err != nil {
		return "", apperr.Invalid(field, "%s", apperr.Message(err))
	}
	return key, nil
}

// decodeIDs decodes a list of global IDs of type typ.
func decodeIDs(field string, ids []string, typ string) ([]string, error) {
	out := make([]string, len(ids))
	for i, id := range ids {
		key, err := decodeID(fmt.Sprintf("%s[%d]", field, i), id, typ)
		if err != nil {
			return nil, err
		}
		out[i] = key
	}
	return out, nil
}

func deref[T any](ps []*T) []T {
	if ps == nil {
		return nil
	}
	out := make([]T, 0, len(ps))
	for _, p := range ps {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func statusPtr(s *model.ProductStatus) *catalog.Status {
	if s == nil {
		return nil
	}
	st := catalog.Status(*s)
	return &st
}

func int64Ptr(i *int) *int64 {
	if i == nil {
		return nil
	}
	v := int64(*i)
	return &v
}

func wrapProducts(ps []*catalog.Product) []*model.Product {
	out := make([]*model.Product, len(ps))
	for i, p := range ps {
		out[i] = model.NewProduct(p)
	}
	return out
}

func wrapVariants(vs []*catalog.Variant) []*model.Variant {
	out := make([]*model.Variant, len(vs))
	for i, v := range vs {
		out[i] = model.NewVariant(v)
	}
	return out
}

func wrapCategories(cs []*catalog.Category) []*model.Category {
	out := make([]*model.Category, len(cs))
	for i, c := range cs {
		out[i] = model.NewCategory(c)
	}
	return out
}

// batchErrors holds the per-representation errors of an entity batch.
type batchErrors graphql.BatchErrorList

// orNil returns the errors as a graphql.BatchErrorList, which gqlgen
// reports against each representation, or nil if there are none.
func (e batchErrors) orNil() error {
	for _, err := range e {
		if err != nil {
			return graphql.BatchErrorList(e)
		}
	}
	return nil
}

// entityKeys decodes the global IDs of an entity batch. A malformed ID, or
// one of another type, gets an INVALID_INPUT error at its index and the
// empty key, which resolves to nothing.
func entityKeys[R any](reps []R, id func(R) string, typ string) ([]string, batchErrors) {
	keys := make([]string, len(reps))
	errs := make(batchErrors, len(reps))
	for i, rep := range reps {
		key, err := decodeID("id", id(rep), typ)
		if err != nil {
			errs[i] = err
			continue
		}
		keys[i] = key
	}
	return keys, errs
}
