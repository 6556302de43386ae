package graph

import (
	"context"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/graph/model"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

// Global ID types.
const (
	typeShipment = "Shipment"
	typeOrder    = "Order"
	typeUser     = "User"
)

func toShipment(s *shipment.Shipment) *model.Shipment {
	if s == nil {
		return nil
	}
	a := s.Address
	out := &model.Shipment{
		ID:       gid.Encode(typeShipment, s.ID),
		Order:    &model.Order{ID: gid.Encode(typeOrder, s.OrderID)},
		Customer: &model.User{ID: gid.Encode(typeUser, s.CustomerID)},
		Method:   s.Method,
		Carrier:  optional(s.Carrier), TrackingNumber: optional(s.TrackingNumber),
		Status: model.ShipmentStatus(s.Status),
		Address: &model.ShipmentAddress{
			Recipient: a.Recipient, Line1: a.Line1, Line2: optional(a.Line2), City: a.City, Region: optional(a.Region),
			PostalCode: a.PostalCode, Country: a.Country, Phone: optional(a.Phone),
		},
		Lines:              make([]*model.ShipmentLine, len(s.Lines)),
		CancellationReason: optional(s.CancelReason),
		Events:             make([]*model.TrackingEvent, len(s.Events)),
		CreatedAt:          s.CreatedAt,
		UpdatedAt:          s.UpdatedAt,
	}
	for i, l := range s.Lines {
		out.Lines[i] = &model.ShipmentLine{Sku: l.SKU, Quantity: l.Quantity}
	}
	for i, e := range s.Events {
		out.Events[i] = &model.TrackingEvent{
			Status: model.ShipmentStatus(e.Status), Description: e.Description, Location: optional(e.Location), At: e.At,
		}
	}
	return out
}

func toMethod(m shipment.Method) *model.ShippingMethod {
	price := m.Price
	return &model.ShippingMethod{
		Code: m.Code, Name: m.Name, Description: m.Description, Price: &price, EstimatedDays: m.EstimatedDays,
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// adminKey returns the local key of the shipment ID id for an admin's
// mutation: who may call it is checked before what they sent.
func adminKey(ctx context.Context, id string) (string, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return "", err
	}
	key, err := gid.DecodeAs(id, typeShipment)
	if err != nil {
		return "", apperr.Invalid("id", "%s", apperr.Message(err))
	}
	return key, nil
}
