// Package mongo is the products service's catalog.Store on MongoDB (or the
// embedded FerretDB v1).
//
// FerretDB v1 has no multi-document transactions, does not enforce a unique
// index on a field inside an array (variants.sku) across documents, and
// answers an update that breaks a unique index with an internal error rather
// than a duplicate-key error. So uniqueness of SKUs and product slugs rests
// on inserts into the claims collection (one document per SKU or slug, whose
// _id is unique everywhere): a product's keys are claimed before the product
// is written and released if that fails. Product updates are optimistic: a
// product carries a version, and a replace only succeeds against the version
// it read.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/sync/errgroup"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/subgraphs/products/catalog"
)

// Collection names.
const (
	productsColl   = "products"
	categoriesColl = "categories"
	claimsColl     = "claims"
)

// orphanAge is how old a claim whose product does not hold the key must be
// before another product may take it over: older than any create or update
// still in flight. Such a claim is left behind only if the process died
// between claiming and writing the product.
const orphanAge = time.Minute

// maxUpdateAttempts bounds the optimistic retries of UpdateProduct.
const maxUpdateAttempts = 8

// Store is the catalog.Store on a MongoDB database.
type Store struct {
	db         *mongo.Database
	products   *mongo.Collection
	categories *mongo.Collection
	claims     *mongo.Collection
	log        *slog.Logger
	now        func() time.Time
}

var (
	_ catalog.Store   = (*Store)(nil)
	_ catalog.Scanner = (*Store)(nil)
)

// NewStore returns the store on db and creates its indexes.
func NewStore(ctx context.Context, db *mongo.Database, log *slog.Logger, now func() time.Time) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	s := &Store{
		db:         db,
		products:   db.Collection(productsColl),
		categories: db.Collection(categoriesColl),
		claims:     db.Collection(claimsColl),
		log:        log,
		now:        now,
	}
	if err := s.createIndexes(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) createIndexes(ctx context.Context) error {
	asc := func(keys ...string) bson.D {
		d := bson.D{}
		for _, k := range keys {
			dir := 1
			if strings.HasPrefix(k, "-") {
				k, dir = k[1:], -1
			}
			d = append(d, bson.E{Key: k, Value: dir})
		}
		return d
	}
	indexes := []struct {
		coll   *mongo.Collection
		name   string
		keys   bson.D
		unique bool
	}{
		// Also enforced through claims; the index guards real MongoDB too.
		{s.products, "slug_unique", asc("slug"), true},
		{s.products, "skus", asc("skus"), false},
		{s.products, "categoryIds", asc("categoryIds"), false},
		{s.products, "status_newest", asc("status", "-createdAt", "-_id"), false},
		{s.products, "status_name", asc("status", "sortName", "_id"), false},
		{s.products, "status_price", asc("status", "minPrice", "_id"), false},
		{s.categories, "slug_unique", asc("slug"), true},
		// Also makes sure the claims collection exists from the start.
		{s.claims, "productId", asc("productId"), false},
	}
	// One at a time: FerretDB v1.24.2's createIndexes panics (and drops the
	// connection) when two or more of the indexes it is given exist already,
	// as they do at every start but the first.
	for _, ix := range indexes {
		model := mongo.IndexModel{Keys: ix.keys, Options: options.Index().SetName(ix.name).SetUnique(ix.unique)}
		if _, err := ix.coll.Indexes().CreateOne(ctx, model); err != nil {
			return fmt.Errorf("create index %s.%s: %w", ix.coll.Name(), ix.name, err)
		}
	}
	return nil
}

// productDoc is a product as stored. SKUs, Currency, MinPrice and SortName
// are derived from the rest, for queries and indexes.
type productDoc struct {
	ID          string         `bson:"_id"`
	Slug        string         `bson:"slug"`
	Name        string         `bson:"name"`
	SortName    string         `bson:"sortName"`
	Description string         `bson:"description"`
	Status      string         `bson:"status"`
	CategoryIDs []string       `bson:"categoryIds"`
	Attributes  []attributeDoc `bson:"attributes"`
	Images      []imageDoc     `bson:"images"`
	Variants    []variantDoc   `bson:"variants"`
	SKUs        []string       `bson:"skus"`
	Currency    string         `bson:"currency"`
	MinPrice    int64          `bson:"minPrice"`
	CreatedAt   time.Time      `bson:"createdAt"`
	UpdatedAt   time.Time      `bson:"updatedAt"`
	Version     int64          `bson:"version"`
}

type attributeDoc struct {
	Name  string `bson:"name"`
	Value string `bson:"value"`
}

type imageDoc struct {
	URL string `bson:"url"`
	Alt string `bson:"alt"`
}

type variantDoc struct {
	SKU      string      `bson:"sku"`
	Name     string      `bson:"name"`
	Options  []optionDoc `bson:"options"`
	Amount   int64       `bson:"amount"`
	Currency string      `bson:"currency"`
}

type optionDoc struct {
	Name  string `bson:"name"`
	Value string `bson:"value"`
}

func toProductDoc(p *catalog.Product, version int64) productDoc {
	d := productDoc{
		ID: p.ID, Slug: p.Slug, Name: p.Name, SortName: catalog.SortName(p.Name),
		Description: p.Description, Status: string(p.Status),
		CategoryIDs: nonNil(p.CategoryIDs),
		Attributes:  make([]attributeDoc, len(p.Attributes)),
		Images:      make([]imageDoc, len(p.Images)),
		Variants:    make([]variantDoc, len(p.Variants)),
		SKUs:        p.SKUs(),
		Currency:    p.Currency(),
		MinPrice:    p.MinPrice().Amount,
		CreatedAt:   p.CreatedAt, UpdatedAt: p.UpdatedAt,
		Version: version,
	}
	for i, a := range p.Attributes {
		d.Attributes[i] = attributeDoc(a)
	}
	for i, img := range p.Images {
		d.Images[i] = imageDoc(img)
	}
	for i, v := range p.Variants {
		vd := variantDoc{SKU: v.SKU, Name: v.Name, Options: make([]optionDoc, len(v.Options)),
			Amount: v.Price.Amount, Currency: v.Price.Currency}
		for j, o := range v.Options {
			vd.Options[j] = optionDoc(o)
		}
		d.Variants[i] = vd
	}
	return d
}

func (d *productDoc) product() *catalog.Product {
	p := &catalog.Product{
		ID: d.ID, Slug: d.Slug, Name: d.Name, Description: d.Description,
		Status:      catalog.Status(d.Status),
		CategoryIDs: nonNil(d.CategoryIDs),
		Attributes:  make([]catalog.Attribute, len(d.Attributes)),
		Images:      make([]catalog.Image, len(d.Images)),
		Variants:    make([]catalog.Variant, len(d.Variants)),
		CreatedAt:   d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	for i, a := range d.Attributes {
		p.Attributes[i] = catalog.Attribute(a)
	}
	for i, img := range d.Images {
		p.Images[i] = catalog.Image(img)
	}
	for i, vd := range d.Variants {
		v := catalog.Variant{SKU: vd.SKU, Name: vd.Name, Options: make([]catalog.Option, len(vd.Options)),
			ProductID: d.ID}
		v.Price.Amount, v.Price.Currency = vd.Amount, vd.Currency
		for j, o := range vd.Options {
			v.Options[j] = catalog.Option(o)
		}
		p.Variants[i] = v
	}
	return p
}

// claimDoc reserves a unique key (a SKU or a product slug) for a product.
type claimDoc struct {
	ID        string    `bson:"_id"` // "sku:" + SKU or "slug:" + slug
	ProductID string    `bson:"productId"`
	At        time.Time `bson:"at"`
}

func skuKey(sku string) string   { return "sku:" + sku }
func slugKey(slug string) string { return "slug:" + slug }

// keysOf returns the claim keys a product holds.
func keysOf(p *catalog.Product) []string {
	keys := []string{slugKey(p.Slug)}
	for _, sku := range p.SKUs() {
		keys = append(keys, skuKey(sku))
	}
	return keys
}

// CreateProduct implements catalog.Store.
func (s *Store) CreateProduct(ctx context.Context, p *catalog.Product) error {
	p.ID = bson.NewObjectID().Hex()
	keys := keysOf(p)
	if err := s.claim(ctx, p.ID, keys); err != nil {
		return err
	}
	if _, err := s.products.InsertOne(ctx, toProductDoc(p, 1)); err != nil {
		s.release(ctx, p.ID, keys)
		if mongo.IsDuplicateKeyError(err) {
			return conflictSlug(p.Slug)
		}
		return fmt.Errorf("insert product: %w", err)
	}
	return nil
}

// UpdateProduct implements catalog.Store.
func (s *Store) UpdateProduct(ctx context.Context, id string, fn func(*catalog.Product) error) (*catalog.Product, error) {
	for range maxUpdateAttempts {
		var d productDoc
		err := s.products.FindOne(ctx, bson.M{"_id": id}).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, apperr.Errorf(apperr.NotFound, "there is no product with this ID")
		}
		if err != nil {
			return nil, fmt.Errorf("load product: %w", err)
		}
		old := d.product()
		p := old.Clone()
		if err := fn(p); err != nil {
			return nil, err
		}
		p.ID = old.ID
		oldKeys, newKeys := keysOf(old), keysOf(p)
		for _, sku := range old.SKUs() {
			if p.Variant(sku) == nil {
				return nil, fmt.Errorf("update product %s: variant %s removed", id, sku)
			}
		}
		added := minus(newKeys, oldKeys)
		if err := s.claim(ctx, id, added); err != nil {
			return nil, err
		}
		res, err := s.products.ReplaceOne(ctx, bson.M{"_id": id, "version": d.Version}, toProductDoc(p, d.Version+1))
		if err != nil {
			s.release(ctx, id, added)
			if mongo.IsDuplicateKeyError(err) {
				return nil, conflictSlug(p.Slug)
			}
			return nil, fmt.Errorf("replace product: %w", err)
		}
		if res.MatchedCount == 0 {
			// Changed since we read it: release what we claimed and start over.
			s.release(ctx, id, added)
			continue
		}
		s.release(ctx, id, minus(oldKeys, newKeys))
		for i := range p.Variants {
			p.Variants[i].ProductID = p.ID
		}
		return p, nil
	}
	return nil, apperr.Errorf(apperr.Conflict, "the product is being changed by someone else; try again")
}

// claim reserves keys for productID, all or none.
// Returns CONFLICT naming the first key another product holds.
func (s *Store) claim(ctx context.Context, productID string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	for attempt := 0; ; attempt++ {
		docs := make([]any, len(keys))
		at := s.now().UTC()
		for i, k := range keys {
			docs[i] = claimDoc{ID: k, ProductID: productID, At: at}
		}
		_, err := s.claims.InsertMany(ctx, docs)
		if err == nil {
			return nil
		}
		s.release(ctx, productID, keys)
		if !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("claim keys: %w", err)
		}
		taken, err := s.takenClaims(ctx, productID, keys)
		if err != nil {
			return err
		}
		if len(taken) == 0 {
			// A concurrent claim was released in the meantime.
			if attempt < 2 {
				continue
			}
			return apperr.Errorf(apperr.Conflict, "the product is being changed by someone else; try again")
		}
		reclaimed, err := s.reclaimOrphans(ctx, taken)
		if err != nil {
			return err
		}
		if reclaimed && attempt < 2 {
			continue
		}
		return conflictKey(taken[0].ID)
	}
}

// takenClaims returns the claims of keys held by products other than
// productID, in the order of keys.
func (s *Store) takenClaims(ctx context.Context, productID string, keys []string) ([]claimDoc, error) {
	cur, err := s.claims.Find(ctx, bson.M{"_id": bson.M{"$in": keys}, "productId": bson.M{"$ne": productID}})
	if err != nil {
		return nil, fmt.Errorf("find claims: %w", err)
	}
	var found []claimDoc
	if err := cur.All(ctx, &found); err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	byKey := map[string]claimDoc{}
	for _, c := range found {
		byKey[c.ID] = c
	}
	var out []claimDoc
	for _, k := range keys {
		if c, ok := byKey[k]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// reclaimOrphans deletes the claims among taken whose product does not hold
// the key and that are older than orphanAge, and reports whether it deleted
// any.
func (s *Store) reclaimOrphans(ctx context.Context, taken []claimDoc) (bool, error) {
	reclaimed := false
	for _, c := range taken {
		if s.now().Sub(c.At) < orphanAge {
			continue
		}
		var d productDoc
		err := s.products.FindOne(ctx, bson.M{"_id": c.ProductID}).Decode(&d)
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return false, fmt.Errorf("load claim owner: %w", err)
		}
		if err == nil && holds(d.product(), c.ID) {
			continue
		}
		res, err := s.claims.DeleteOne(ctx, bson.M{"_id": c.ID, "productId": c.ProductID, "at": c.At})
		if err != nil {
			return false, fmt.Errorf("delete orphaned claim: %w", err)
		}
		if res.DeletedCount > 0 {
			s.log.WarnContext(ctx, "reclaimed orphaned key", "key", c.ID, "product", c.ProductID)
			reclaimed = true
		}
	}
	return reclaimed, nil
}

func holds(p *catalog.Product, key string) bool {
	for _, k := range keysOf(p) {
		if k == key {
			return true
		}
	}
	return false
}

// release deletes productID's claims of keys. A failure only leaves an
// orphaned claim behind, which a later claim reclaims; it is logged.
func (s *Store) release(ctx context.Context, productID string, keys []string) {
	if len(keys) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if _, err := s.claims.DeleteMany(ctx, bson.M{"_id": bson.M{"$in": keys}, "productId": productID}); err != nil {
		s.log.ErrorContext(ctx, "release claims", "product", productID, "err", err)
	}
}

func conflictKey(key string) error {
	kind, v, _ := strings.Cut(key, ":")
	if kind == "sku" {
		return &apperr.Error{Code: apperr.Conflict, Field: "sku",
			Message: fmt.Sprintf("SKU %q is already used by another product", v)}
	}
	return conflictSlug(v)
}

func conflictSlug(slug string) error {
	return &apperr.Error{Code: apperr.Conflict, Field: "slug",
		Message: fmt.Sprintf("slug %q is already used by another product; give another slug", slug)}
}

// lookupParallel is how many equality reads one lookup runs at once. On
// real MongoDB they overlap; the embedded FerretDB client has one
// connection, so there they queue on it, which is still correct.
const lookupParallel = 8

// ProductsByIDs implements catalog.Store: one `_id` equality read per key
// (FerretDB v1 answers `{_id: {$in: …}}` by scanning the collection).
func (s *Store) ProductsByIDs(ctx context.Context, ids []string) ([]*catalog.Product, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	found := make([]*catalog.Product, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookupParallel)
	for i, id := range ids {
		g.Go(func() error {
			p, err := s.productByID(gctx, id)
			found[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return compact(found), nil
}

// productByID reads one product by `_id` equality; nil if there is none.
func (s *Store) productByID(ctx context.Context, id string) (*catalog.Product, error) {
	var d productDoc
	err := s.products.FindOne(ctx, bson.M{"_id": id}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find product: %w", err)
	}
	return d.product(), nil
}

// owner returns the product that holds the unique key (a claim's _id):
// the claim names it, and the product must still hold the key. A claim
// whose product does not (left behind by a create or update that failed
// half-way, or not yet written) is ignored. Nil if there is none.
func (s *Store) owner(ctx context.Context, key string) (*catalog.Product, error) {
	var c claimDoc
	err := s.claims.FindOne(ctx, bson.M{"_id": key}).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find claim: %w", err)
	}
	p, err := s.productByID(ctx, c.ProductID)
	if err != nil || p == nil || !holds(p, key) {
		return nil, err
	}
	return p, nil
}

// ProductBySlug implements catalog.Store: through the slug's claim, two
// `_id` equality reads.
func (s *Store) ProductBySlug(ctx context.Context, slug string) (*catalog.Product, error) {
	p, err := s.owner(ctx, slugKey(slug))
	if err != nil {
		return nil, fmt.Errorf("find product by slug: %w", err)
	}
	if p == nil {
		return nil, apperr.Errorf(apperr.NotFound, "there is no product with slug %q", slug)
	}
	return p, nil
}

// ProductsBySKUs implements catalog.Store: the claims collection is the
// SKU → product index (its _id is "sku:" + SKU), so each SKU costs two
// `_id` equality reads, whatever the size of the catalog.
func (s *Store) ProductsBySKUs(ctx context.Context, skus []string) ([]*catalog.Product, error) {
	if len(skus) == 0 {
		return nil, nil
	}
	found := make([]*catalog.Product, len(skus))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookupParallel)
	for i, sku := range skus {
		g.Go(func() error {
			p, err := s.owner(gctx, skuKey(sku))
			found[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("find products by SKU: %w", err)
	}
	// Two SKUs of one product find it twice: keep one.
	seen := map[string]bool{}
	out := make([]*catalog.Product, 0, len(found))
	for _, p := range found {
		if p != nil && !seen[p.ID] {
			seen[p.ID] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// scanBatch is how many products one round trip of EachProduct brings: the
// embedded FerretDB has one connection, and other reads wait for each batch.
const scanBatch = 256

// EachProduct implements catalog.Scanner: one find over the products
// collection, without filter or sort (FerretDB v1 scans the collection for
// any query but an `_id` equality, so a pass in storage order is the
// cheapest), read batch by batch.
func (s *Store) EachProduct(ctx context.Context, fn func(*catalog.Product) error) error {
	cur, err := s.products.Find(ctx, bson.M{}, options.Find().SetBatchSize(scanBatch))
	if err != nil {
		return fmt.Errorf("scan products: %w", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		var d productDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("scan products: decode: %w", err)
		}
		if err := fn(d.product()); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("scan products: %w", err)
	}
	return nil
}

// ListProducts implements catalog.Store.
func (s *Store) ListProducts(ctx context.Context, q catalog.ProductQuery) ([]*catalog.Product, error) {
	key, dir := sortKey(q.Sort)
	conds := filterOf(q)
	if q.After != nil {
		var v any
		switch q.Sort {
		case catalog.SortNewest:
			v = q.After.CreatedAt
		case catalog.SortNameAsc, catalog.SortNameDesc:
			v = q.After.Name
		default:
			v = q.After.Price
		}
		op := "$gt"
		if dir < 0 {
			op = "$lt"
		}
		conds = append(conds, bson.M{"$or": bson.A{
			bson.M{key: bson.M{op: v}},
			bson.M{key: v, "_id": bson.M{op: q.After.ID}},
		}})
	}
	opts := options.Find().
		SetSort(bson.D{{Key: key, Value: dir}, {Key: "_id", Value: dir}}).
		SetLimit(int64(max(q.Limit, 1)))
	return s.findProducts(ctx, and(conds), opts)
}

// CountProducts implements catalog.Store.
func (s *Store) CountProducts(ctx context.Context, q catalog.ProductQuery) (int, error) {
	n, err := s.products.CountDocuments(ctx, and(filterOf(q)))
	if err != nil {
		return 0, fmt.Errorf("count products: %w", err)
	}
	return int(n), nil
}

func sortKey(s catalog.Sort) (string, int) {
	dir := 1
	if s.Descending() {
		dir = -1
	}
	switch s {
	case catalog.SortNameAsc, catalog.SortNameDesc:
		return "sortName", dir
	case catalog.SortPriceAsc, catalog.SortPriceDesc:
		return "minPrice", dir
	default:
		return "createdAt", dir
	}
}

// filterOf returns the conditions of q other than its position.
func filterOf(q catalog.ProductQuery) []bson.M {
	var conds []bson.M
	if q.Statuses != nil {
		st := make([]string, len(q.Statuses))
		for i, s := range q.Statuses {
			st[i] = string(s)
		}
		conds = append(conds, bson.M{"status": bson.M{"$in": st}})
	}
	if q.CategoryIDs != nil {
		conds = append(conds, bson.M{"categoryIds": bson.M{"$in": q.CategoryIDs}})
	}
	if q.Currency != "" {
		conds = append(conds, bson.M{"currency": q.Currency})
	}
	if q.MinPrice != nil {
		conds = append(conds, bson.M{"minPrice": bson.M{"$gte": *q.MinPrice}})
	}
	if q.MaxPrice != nil {
		conds = append(conds, bson.M{"minPrice": bson.M{"$lte": *q.MaxPrice}})
	}
	if q.Search != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(q.Search), Options: "i"}
		conds = append(conds, bson.M{"$or": bson.A{
			bson.M{"name": re},
			bson.M{"description": re},
		}})
	}
	return conds
}

func and(conds []bson.M) bson.M {
	switch len(conds) {
	case 0:
		return bson.M{}
	case 1:
		return conds[0]
	}
	return bson.M{"$and": conds}
}

func (s *Store) findProducts(ctx context.Context, filter any, opts ...options.Lister[options.FindOptions]) ([]*catalog.Product, error) {
	cur, err := s.products.Find(ctx, filter, opts...)
	if err != nil {
		return nil, fmt.Errorf("find products: %w", err)
	}
	var docs []productDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read products: %w", err)
	}
	out := make([]*catalog.Product, len(docs))
	for i := range docs {
		out[i] = docs[i].product()
	}
	return out, nil
}

// categoryDoc is a category as stored.
type categoryDoc struct {
	ID          string    `bson:"_id"`
	Slug        string    `bson:"slug"`
	Name        string    `bson:"name"`
	Description string    `bson:"description"`
	ParentID    string    `bson:"parentId,omitempty"`
	CreatedAt   time.Time `bson:"createdAt"`
}

func (d *categoryDoc) category() *catalog.Category {
	return &catalog.Category{ID: d.ID, Slug: d.Slug, Name: d.Name, Description: d.Description,
		ParentID: d.ParentID, CreatedAt: d.CreatedAt.UTC()}
}

// CreateCategory implements catalog.Store.
func (s *Store) CreateCategory(ctx context.Context, c *catalog.Category) error {
	c.ID = bson.NewObjectID().Hex()
	_, err := s.categories.InsertOne(ctx, categoryDoc{ID: c.ID, Slug: c.Slug, Name: c.Name,
		Description: c.Description, ParentID: c.ParentID, CreatedAt: c.CreatedAt})
	if mongo.IsDuplicateKeyError(err) {
		return &apperr.Error{Code: apperr.Conflict, Field: "slug",
			Message: fmt.Sprintf("slug %q is already used by another category; give another slug", c.Slug)}
	}
	if err != nil {
		return fmt.Errorf("insert category: %w", err)
	}
	return nil
}

// Categories implements catalog.Store.
func (s *Store) Categories(ctx context.Context) ([]*catalog.Category, error) {
	return s.findCategories(ctx, bson.M{})
}

// CategoriesByIDs implements catalog.Store.
func (s *Store) CategoriesByIDs(ctx context.Context, ids []string) ([]*catalog.Category, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return s.findCategories(ctx, bson.M{"_id": bson.M{"$in": ids}})
}

func (s *Store) findCategories(ctx context.Context, filter any) ([]*catalog.Category, error) {
	cur, err := s.categories.Find(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("find categories: %w", err)
	}
	var docs []categoryDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read categories: %w", err)
	}
	out := make([]*catalog.Category, len(docs))
	for i := range docs {
		out[i] = docs[i].category()
	}
	return out, nil
}

// minus returns the members of a that are not in b.
func minus(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// compact returns ps without its nils.
func compact(ps []*catalog.Product) []*catalog.Product {
	out := ps[:0]
	for _, p := range ps {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
