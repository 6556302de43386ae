// Package shipment is the shipping domain: shipping methods and their rates,
// the shipments of orders with their tracking events, the carrier that
// labels and carries parcels, and the rules of how a shipment moves from
// PENDING to DELIVERED or CANCELLED. It declares the store and the carrier it
// needs; it imports no GraphQL, SQL or HTTP package.
package shipment

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/money"
)

// Status is where a shipment stands.
type Status string

// Shipment statuses, in the order a shipment goes through them.
const (
	// StatusPending: recorded; the carrier has not issued a label yet.
	StatusPending Status = "PENDING"
	// StatusLabelCreated: the carrier issued a label and a tracking number;
	// the parcel waits to be picked up.
	StatusLabelCreated Status = "LABEL_CREATED"
	// StatusInTransit: the carrier has the parcel. The order has shipped.
	StatusInTransit Status = "IN_TRANSIT"
	// StatusOutForDelivery: the parcel is on its last leg.
	StatusOutForDelivery Status = "OUT_FOR_DELIVERY"
	// StatusDelivered: the parcel arrived. Final.
	StatusDelivered Status = "DELIVERED"
	// StatusCancelled: the shipment will not go out. Final.
	StatusCancelled Status = "CANCELLED"
)

// Next returns the status that follows s, and false for a final status.
func (s Status) Next() (Status, bool) {
	switch s {
	case StatusPending:
		return StatusLabelCreated, true
	case StatusLabelCreated:
		return StatusInTransit, true
	case StatusInTransit:
		return StatusOutForDelivery, true
	case StatusOutForDelivery:
		return StatusDelivered, true
	}
	return "", false
}

// Final reports whether nothing more can happen to a shipment in status s.
func (s Status) Final() bool { return s == StatusDelivered || s == StatusCancelled }

// Shipped reports whether the carrier has the parcel (or delivered it).
func (s Status) Shipped() bool {
	return s == StatusInTransit || s == StatusOutForDelivery || s == StatusDelivered
}

// Method is a way to ship, such as STANDARD or EXPRESS, with its price in
// one currency.
type Method struct {
	// Code names the method, e.g. "EXPRESS"; orders name it in placeOrder.
	Code        string
	Name        string
	Description string
	Price       money.Money
	// EstimatedDays is how many days delivery usually takes.
	EstimatedDays int
}

// Address is where a shipment goes.
type Address struct {
	Recipient  string `json:"recipient"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postalCode"`
	Country    string `json:"country"`
	Phone      string `json:"phone,omitempty"`
}

// Line is a quantity of one SKU in the parcel.
type Line struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// TrackingEvent is one step of a shipment's journey.
type TrackingEvent struct {
	// Status is the shipment's status after the step.
	Status      Status
	Description string
	// Location is where it happened, if known, e.g. "Berlin, DE".
	Location string
	At       time.Time
}

// Shipment is the parcel that carries one order. Each order has at most one.
type Shipment struct {
	// ID is the shipment's UUID.
	ID string
	// OrderID and CustomerID are the orders and users services' local IDs.
	OrderID    string
	CustomerID string
	// Method is the code of the shipping method, e.g. "STANDARD".
	Method string
	// Carrier and TrackingNumber are set once the label is created.
	Carrier        string
	TrackingNumber string
	Status         Status
	Address        Address
	Lines          []Line
	// CancelReason says why a CANCELLED shipment was cancelled.
	CancelReason string
	// LabelVoided reports that the label of a cancelled shipment was voided
	// with the carrier.
	LabelVoided bool
	// Events are the tracking events, oldest first. A store's Update saves
	// the events appended to it.
	Events    []TrackingEvent
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Cancellation records that an order was cancelled before it had a
// shipment, so that a late CreateShipment for it creates none.
type Cancellation struct {
	OrderID    string
	CustomerID string
	Reason     string
	At         time.Time
}

// Notice is a shipping event to publish on contract.ShippingEvents, keyed by
// the order ID: the answer to a saga command, or news of a shipment.
type Notice struct {
	// Type is one of contract's shipment event types.
	Type   string
	Result contract.ShipmentResult
}

// Result is the payload of the events about s, with reason.
func (s *Shipment) Result(reason string) contract.ShipmentResult {
	return contract.ShipmentResult{
		OrderID: s.OrderID, CustomerID: s.CustomerID, ShipmentID: s.ID,
		TrackingNumber: s.TrackingNumber, Carrier: s.Carrier, Reason: reason,
	}
}

// StateNotice is the event that tells where s stands: ShipmentCancelled,
// ShipmentDelivered, ShipmentShipped (in transit or out for delivery) or
// ShipmentCreated, carrying reason. A repeated command is answered with it.
func (s *Shipment) StateNotice(reason string) Notice {
	typ := contract.TypeShipmentCreated
	switch {
	case s.Status == StatusCancelled:
		typ = contract.TypeShipmentCancelled
		if reason == "" {
			reason = s.CancelReason
		}
	case s.Status == StatusDelivered:
		typ = contract.TypeShipmentDelivered
	case s.Status.Shipped():
		typ = contract.TypeShipmentShipped
	}
	return Notice{Type: typ, Result: s.Result(reason)}
}

// record moves s to status to at at, with a tracking event.
func (s *Shipment) record(to Status, description, location string, at time.Time) {
	s.Status = to
	s.UpdatedAt = at
	s.Events = append(s.Events, TrackingEvent{Status: to, Description: description, Location: location, At: at})
}

// destination is where the parcel goes, for tracking events: "City, CC".
func (s *Shipment) destination() string {
	if s.Address.City == "" {
		return s.Address.Country
	}
	return s.Address.City + ", " + s.Address.Country
}

// Labelled records the label the carrier issued for a PENDING shipment and
// returns the ShipmentCreated event.
// Returns CONFLICT if s is not PENDING.
func (s *Shipment) Labelled(carrier, trackingNumber string, at time.Time) (Notice, error) {
	if s.Status != StatusPending {
		return Notice{}, apperr.Errorf(apperr.Conflict, "the shipment is %s; it already has a label", s.Status)
	}
	s.Carrier, s.TrackingNumber = carrier, trackingNumber
	s.record(StatusLabelCreated, fmt.Sprintf("Shipping label created with %s, tracking number %s", carrier, trackingNumber), "", at)
	return Notice{Type: contract.TypeShipmentCreated, Result: s.Result("")}, nil
}

// Step moves a shipment that has a label one status on (LABEL_CREATED →
// IN_TRANSIT → OUT_FOR_DELIVERY → DELIVERED) and returns the events to
// publish: ShipmentShipped when it goes IN_TRANSIT, ShipmentDelivered when it
// is DELIVERED, none when it goes out for delivery.
// Returns CONFLICT if s is PENDING (no label yet), DELIVERED or CANCELLED.
func (s *Shipment) Step(at time.Time) ([]Notice, error) {
	switch s.Status {
	case StatusPending:
		return nil, apperr.Errorf(apperr.Conflict, "the shipment has no label yet")
	case StatusDelivered:
		return nil, apperr.Errorf(apperr.Conflict, "the shipment was already delivered")
	case StatusCancelled:
		return nil, apperr.Errorf(apperr.Conflict, "the shipment was cancelled")
	}
	next, _ := s.Status.Next()
	switch next {
	case StatusInTransit:
		s.record(next, "Picked up by "+s.Carrier, "", at)
		return []Notice{{Type: contract.TypeShipmentShipped, Result: s.Result("")}}, nil
	case StatusOutForDelivery:
		s.record(next, "Out for delivery", s.destination(), at)
		return nil, nil
	default: // StatusDelivered
		s.record(next, "Delivered to "+s.Address.Recipient, s.destination(), at)
		return []Notice{{Type: contract.TypeShipmentDelivered, Result: s.Result("")}}, nil
	}
}

// Cancel cancels a shipment that has not shipped and returns the
// ShipmentCancelled event.
// Returns CONFLICT if s is already cancelled, in transit or delivered.
func (s *Shipment) Cancel(reason string, at time.Time) (Notice, error) {
	switch {
	case s.Status == StatusCancelled:
		return Notice{}, apperr.Errorf(apperr.Conflict, "the shipment is already cancelled")
	case s.Status == StatusDelivered:
		return Notice{}, apperr.Errorf(apperr.Conflict, "the shipment was already delivered")
	case s.Status.Shipped():
		return Notice{}, apperr.Errorf(apperr.Conflict, "the shipment is %s: the carrier has the parcel", s.Status)
	}
	s.CancelReason = reason
	s.record(StatusCancelled, "Cancelled: "+reason, "", at)
	return Notice{Type: contract.TypeShipmentCancelled, Result: s.Result(reason)}, nil
}

// visibleTo reports whether the user userID (or an admin) may see s.
func (s *Shipment) visibleTo(userID string, admin bool) bool {
	return admin || (userID != "" && s.CustomerID == userID)
}

// sortByCreated sorts shipments the oldest first.
func sortByCreated(shs []Shipment) {
	slices.SortFunc(shs, func(a, b Shipment) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
