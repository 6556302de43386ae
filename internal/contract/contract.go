// Package contract is the language the services speak on Redis Streams: the
// stream names, the message types and their payloads. The checkout saga is
// orchestrated by orders: it sends commands to inventory, payments and
// shipping on their command streams, and they answer with events on their
// own event streams. Every payload carries the order's local ID, so every
// handler can be idempotent per order.
//
// Stream names here are unprefixed; the events package adds the deployment's
// prefix.
package contract

import (
	"time"

	"github.com/shopgraph/shopgraph/internal/money"
)

// Streams.
const (
	InventoryCommands = "inventory.commands"
	InventoryEvents   = "inventory.events"
	PaymentCommands   = "payments.commands"
	PaymentEvents     = "payments.events"
	ShippingCommands  = "shipping.commands"
	ShippingEvents    = "shipping.events"
	OrderEvents       = "orders.events"
	UserEvents        = "users.events"
)

// Inventory commands (on InventoryCommands).
const (
	// TypeReserveStock asks to reserve every line of an order, or none.
	TypeReserveStock = "ReserveStock"
	// TypeCommitStock turns an order's reservation into an allocation: on
	// hand goes down by the reserved quantities.
	TypeCommitStock = "CommitStock"
	// TypeReleaseStock releases an order's reservation (compensation), or
	// returns committed stock to on hand when Restock is set (a cancelled
	// confirmed order).
	TypeReleaseStock = "ReleaseStock"
)

// Inventory events (on InventoryEvents).
const (
	TypeStockReserved      = "StockReserved"
	TypeStockRejected      = "StockRejected"
	TypeStockCommitted     = "StockCommitted"
	TypeStockReleased      = "StockReleased"
	TypeReservationExpired = "ReservationExpired"
)

// Payment commands (on PaymentCommands).
const (
	TypeAuthorizePayment = "AuthorizePayment"
	TypeCapturePayment   = "CapturePayment"
	TypeVoidPayment      = "VoidPayment"
)

// Payment events (on PaymentEvents).
const (
	TypePaymentAuthorized = "PaymentAuthorized"
	TypePaymentDeclined   = "PaymentDeclined"
	TypePaymentFailed     = "PaymentFailed"
	TypePaymentCaptured   = "PaymentCaptured"
	TypePaymentVoided     = "PaymentVoided"
	TypePaymentRefunded   = "PaymentRefunded"
)

// Shipping commands and events.
const (
	TypeCreateShipment    = "CreateShipment"
	TypeCancelShipment    = "CancelShipment"
	TypeShipmentCreated   = "ShipmentCreated"
	TypeShipmentShipped   = "ShipmentShipped"
	TypeShipmentDelivered = "ShipmentDelivered"
	TypeShipmentCancelled = "ShipmentCancelled"
)

// Order events (on OrderEvents), for notifications and anyone else.
const (
	TypeOrderStatusChanged = "OrderStatusChanged"
)

// User events (on UserEvents).
const (
	TypeUserRegistered = "UserRegistered"
)

// Line is a quantity of one SKU.
type Line struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

// ReserveStock is the payload of TypeReserveStock.
type ReserveStock struct {
	OrderID   string    `json:"orderId"`
	Lines     []Line    `json:"lines"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// CommitStock is the payload of TypeCommitStock.
type CommitStock struct {
	OrderID string `json:"orderId"`
}

// ReleaseStock is the payload of TypeReleaseStock.
type ReleaseStock struct {
	OrderID string `json:"orderId"`
	Reason  string `json:"reason"`
	// Restock returns committed (allocated) stock to on hand as well.
	Restock bool `json:"restock,omitempty"`
}

// Shortage names a line that could not be reserved.
type Shortage struct {
	SKU       string `json:"sku"`
	Requested int    `json:"requested"`
	Available int    `json:"available"`
}

// StockResult is the payload of every inventory event.
type StockResult struct {
	OrderID   string     `json:"orderId"`
	ExpiresAt time.Time  `json:"expiresAt,omitzero"`
	Reason    string     `json:"reason,omitempty"`
	Shortages []Shortage `json:"shortages,omitempty"`
}

// AuthorizePayment is the payload of TypeAuthorizePayment.
type AuthorizePayment struct {
	OrderID        string      `json:"orderId"`
	CustomerID     string      `json:"customerId"`
	Amount         money.Money `json:"amount"`
	PaymentToken   string      `json:"paymentToken"`
	IdempotencyKey string      `json:"idempotencyKey"`
}

// PaymentCommand is the payload of TypeCapturePayment and TypeVoidPayment.
type PaymentCommand struct {
	OrderID string `json:"orderId"`
	Reason  string `json:"reason,omitempty"`
}

// PaymentResult is the payload of every payment event.
type PaymentResult struct {
	OrderID   string      `json:"orderId"`
	PaymentID string      `json:"paymentId"`
	Amount    money.Money `json:"amount"`
	// Reason explains a decline or failure, e.g. "card declined: insufficient funds".
	Reason string `json:"reason,omitempty"`
	// DeclineCode is the provider's code, e.g. "insufficient_funds".
	DeclineCode string `json:"declineCode,omitempty"`
}

// Address is a shipping address as it travels with an order.
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

// CreateShipment is the payload of TypeCreateShipment.
type CreateShipment struct {
	OrderID    string  `json:"orderId"`
	CustomerID string  `json:"customerId"`
	Method     string  `json:"method"`
	Address    Address `json:"address"`
	Lines      []Line  `json:"lines"`
}

// CancelShipment is the payload of TypeCancelShipment. A cancel for an order
// that has no shipment yet is remembered, so that a later CreateShipment for
// it creates none.
type CancelShipment struct {
	OrderID    string `json:"orderId"`
	CustomerID string `json:"customerId,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// ShipmentResult is the payload of every shipping event.
type ShipmentResult struct {
	OrderID        string `json:"orderId"`
	CustomerID     string `json:"customerId"`
	ShipmentID     string `json:"shipmentId"`
	TrackingNumber string `json:"trackingNumber,omitempty"`
	Carrier        string `json:"carrier,omitempty"`
	Reason         string `json:"reason,omitempty"`
}

// OrderStatusChanged is the payload of TypeOrderStatusChanged.
type OrderStatusChanged struct {
	OrderID string `json:"orderId"`
	// Number is the order's number for people, e.g. SG-000123.
	Number     string      `json:"number,omitempty"`
	CustomerID string      `json:"customerId"`
	Email      string      `json:"email,omitempty"`
	Status     string      `json:"status"`
	Previous   string      `json:"previous,omitempty"`
	Reason     string      `json:"reason,omitempty"`
	Total      money.Money `json:"total"`
	// TrackingNumber and Carrier are set when the order ships.
	TrackingNumber string    `json:"trackingNumber,omitempty"`
	Carrier        string    `json:"carrier,omitempty"`
	At             time.Time `json:"at"`
}

// UserRegistered is the payload of TypeUserRegistered.
type UserRegistered struct {
	UserID string `json:"userId"`
	Email  string `json:"email"`
	Name   string `json:"name"`
}
