package model

import (
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/subgraphs/products/catalog"
)

// Global ID types of the products subgraph.
const (
	TypeProduct  = "Product"
	TypeVariant  = "Variant"
	TypeCategory = "Category"
)

// Product is a catalog product as a GraphQL Node and federation entity.
type Product struct{ *catalog.Product }

// IsNode marks Product as a Node.
func (Product) IsNode() {}

// IsEntity marks Product as a federation entity.
func (Product) IsEntity() {}

// GetID returns the product's global ID.
func (p Product) GetID() string { return gid.Encode(TypeProduct, p.ID) }

// Variant is a catalog variant as a GraphQL Node and federation entity.
type Variant struct{ *catalog.Variant }

// IsNode marks Variant as a Node.
func (Variant) IsNode() {}

// IsEntity marks Variant as a federation entity.
func (Variant) IsEntity() {}

// GetID returns the variant's global ID, which encodes its SKU.
func (v Variant) GetID() string { return gid.Encode(TypeVariant, v.SKU) }

// Category is a catalog category as a GraphQL Node and federation entity.
type Category struct{ *catalog.Category }

// IsNode marks Category as a Node.
func (Category) IsNode() {}

// IsEntity marks Category as a federation entity.
func (Category) IsEntity() {}

// GetID returns the category's global ID.
func (c Category) GetID() string { return gid.Encode(TypeCategory, c.ID) }

// NewProduct wraps p; nil stays nil.
func NewProduct(p *catalog.Product) *Product {
	if p == nil {
		return nil
	}
	return &Product{p}
}

// NewVariant wraps v; nil stays nil.
func NewVariant(v *catalog.Variant) *Variant {
	if v == nil {
		return nil
	}
	return &Variant{v}
}

// NewCategory wraps c; nil stays nil.
func NewCategory(c *catalog.Category) *Category {
	if c == nil {
		return nil
	}
	return &Category{c}
}
