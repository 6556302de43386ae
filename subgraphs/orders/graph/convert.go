package graph

import (
	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/subgraphs/orders/cart"
	"github.com/shopgraph/shopgraph/subgraphs/orders/graph/model"
	"github.com/shopgraph/shopgraph/subgraphs/orders/order"
)

// Global ID types.
const (
	typeCart    = "Cart"
	typeOrder   = "Order"
	typeUser    = "User"
	typeVariant = "Variant"
)

func toCart(v cart.View) *model.Cart {
	c := &model.Cart{
		ID:        gid.Encode(typeCart, v.CustomerID),
		Items:     make([]*model.CartItem, len(v.Lines)),
		ItemCount: v.ItemCount,
		Subtotal:  v.Subtotal,
	}
	if !v.UpdatedAt.IsZero() {
		t := v.UpdatedAt
		c.UpdatedAt = &t
	}
	for i, l := range v.Lines {
		unit, total := l.UnitPrice, l.LineTotal
		c.Items[i] = &model.CartItem{
			Sku: l.SKU, Variant: &model.Variant{ID: gid.Encode(typeVariant, l.SKU)},
			ProductName: l.ProductName, VariantName: l.VariantName, Quantity: l.Quantity,
			UnitPrice: &unit, LineTotal: &total, Available: l.Available,
		}
	}
	return c
}

func toOrder(o *order.Order) *model.Order {
	if o == nil {
		return nil
	}
	sub, ship, total := o.Subtotal, o.ShippingCost, o.Total
	a := o.Address
	return &model.Order{
		ID:           gid.Encode(typeOrder, o.ID),
		Number:       o.DisplayNumber(),
		Customer:     &model.User{ID: gid.Encode(typeUser, o.CustomerID)},
		Status:       model.OrderStatus(o.Status),
		StatusReason: optional(o.StatusReason),
		Subtotal:     &sub,
		ShippingCost: &ship,
		Total:        &total,
		ShippingAddress: &model.ShippingAddress{
			Recipient: a.Recipient, Line1: a.Line1, Line2: optional(a.Line2), City: a.City,
			Region: optional(a.Region), PostalCode: a.PostalCode, Country: a.Country, Phone: optional(a.Phone),
		},
		ShippingMethod:     o.ShippingMethod.Code,
		ShippingMethodName: o.ShippingMethod.Name,
		CreatedAt:          o.CreatedAt,
		UpdatedAt:          o.UpdatedAt,
	}
}

func toLine(l order.Line) *model.OrderLine {
	unit, total := l.UnitPrice, l.Total()
	return &model.OrderLine{
		Sku: l.SKU, Variant: &model.Variant{ID: gid.Encode(typeVariant, l.SKU)},
		ProductName: l.ProductName, VariantName: l.VariantName, Quantity: l.Quantity,
		UnitPrice: &unit, LineTotal: &total,
	}
}

func toConnection(p order.Page) *model.OrderConnection {
	c := &model.OrderConnection{Edges: make([]*model.OrderEdge, len(p.Orders)), PageInfo: &model.PageInfo{HasNextPage: p.HasNext}}
	for i, o := range p.Orders {
		c.Edges[i] = &model.OrderEdge{Cursor: order.EncodeCursor(o), Node: toOrder(o)}
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.StartCursor, c.PageInfo.EndCursor = &c.Edges[0].Cursor, &c.Edges[n-1].Cursor
	}
	return c
}

// sku returns the SKU that exactly one of variantID and sku names.
// Returns INVALID_INPUT if both or neither are given, or variantID is not a
// Variant's global ID.
func sku(variantID, sku *string) (string, error) {
	switch {
	case variantID != nil && sku != nil:
		return "", apperr.Invalid("variantId", "give either variantId or sku, not both")
	case sku != nil:
		return *sku, nil
	case variantID != nil:
		key, err := gid.DecodeAs(*variantID, typeVariant)
		if err != nil {
			return "", apperr.Invalid("variantId", "%s", apperr.Message(err))
		}
		return key, nil
	}
	return "", apperr.Invalid("variantId", "name the variant by variantId or sku")
}

// orderKey returns the local key of an order's global ID.
// Returns INVALID_INPUT if id is not an Order's global ID.
func orderKey(id string) (string, error) {
	key, err := gid.DecodeAs(id, typeOrder)
	if err != nil {
		return "", apperr.Invalid("id", "%s", apperr.Message(err))
	}
	return key, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// pageSize is first, or the schema's default if it was passed as null.
func pageSize(first *int) int {
	if first == nil {
		return 20
	}
	return *first
}
