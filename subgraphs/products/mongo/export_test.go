package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/shopgraph/shopgraph/subgraphs/products/catalog"
)

// SeedBulk stores ps (with their claims) in batches, faster than
// CreateProduct one by one, for benchmarks of big catalogs. It assigns IDs.
func (s *Store) SeedBulk(ctx context.Context, ps []*catalog.Product) error {
	const batch = 500
	for start := 0; start < len(ps); start += batch {
		var docs, claims []any
		for _, p := range ps[start:min(start+batch, len(ps))] {
			p.ID = bson.NewObjectID().Hex()
			docs = append(docs, toProductDoc(p, 1))
			for _, k := range keysOf(p) {
				claims = append(claims, claimDoc{ID: k, ProductID: p.ID, At: p.CreatedAt})
			}
		}
		if _, err := s.claims.InsertMany(ctx, claims); err != nil {
			return fmt.Errorf("seed claims: %w", err)
		}
		if _, err := s.products.InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("seed products: %w", err)
		}
	}
	return nil
}

// Claim stores a claim of key for productID as a create that died half-way
// would leave it.
func (s *Store) Claim(ctx context.Context, key, productID string) error {
	_, err := s.claims.InsertOne(ctx, claimDoc{ID: key, ProductID: productID, At: s.now()})
	return err
}
