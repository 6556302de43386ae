package order

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shopgraph/shopgraph/internal/money"
)

// Kind is what an event records. The kinds are the values of the GraphQL
// enum OrderEventType, and what the store keeps as the event's type.
type Kind string

// Event kinds.
const (
	KindPlaced             Kind = "PLACED"
	KindStockReserved      Kind = "STOCK_RESERVED"
	KindStockRejected      Kind = "STOCK_REJECTED"
	KindPaymentAuthorized  Kind = "PAYMENT_AUTHORIZED"
	KindPaymentDeclined    Kind = "PAYMENT_DECLINED"
	KindPaymentFailed      Kind = "PAYMENT_FAILED"
	KindStockCommitted     Kind = "STOCK_COMMITTED"
	KindStockCommitFailed  Kind = "STOCK_COMMIT_FAILED"
	KindReservationExpired Kind = "RESERVATION_EXPIRED"
	KindShipmentCreated    Kind = "SHIPMENT_CREATED"
	KindShipped            Kind = "SHIPPED"
	KindPaymentCaptured    Kind = "PAYMENT_CAPTURED"
	KindDelivered          Kind = "DELIVERED"
	KindCancelled          Kind = "CANCELLED"
	KindStockReleased      Kind = "STOCK_RELEASED"
	KindPaymentVoided      Kind = "PAYMENT_VOIDED"
	KindShipmentCancelled  Kind = "SHIPMENT_CANCELLED"
	KindRefunded           Kind = "REFUNDED"
)

// Event is one fact in an order's stream.
type Event struct {
	OrderID string
	// Version is the event's position in the stream, from 1.
	Version int
	At      time.Time
	Data    EventData
}

// EventData is the body of an event; its JSON form is what the store keeps.
type EventData interface {
	// Kind is the event's kind.
	Kind() Kind
	// Describe tells people what happened, for the order's timeline.
	Describe() string
	// apply folds the event into o.
	apply(o *Order, at time.Time)
}

// Placed starts an order: the customer placed it.
type Placed struct {
	Number         int64       `json:"number"`
	CustomerID     string      `json:"customerId"`
	Email          string      `json:"email,omitempty"`
	IdempotencyKey string      `json:"idempotencyKey"`
	Lines          []Line      `json:"lines"`
	Subtotal       money.Money `json:"subtotal"`
	ShippingCost   money.Money `json:"shippingCost"`
	Total          money.Money `json:"total"`
	Address        Address     `json:"address"`
	ShippingCode   string      `json:"shippingMethod"`
	ShippingName   string      `json:"shippingMethodName"`
}

// StockReserved: inventory holds every line until ExpiresAt.
type StockReserved struct {
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// Shortage is a line inventory could not reserve.
type Shortage struct {
	SKU       string `json:"sku"`
	Requested int    `json:"requested"`
	Available int    `json:"available"`
}

// StockRejected: some line was not in stock; the order is rejected.
type StockRejected struct {
	Reason    string     `json:"reason,omitempty"`
	Shortages []Shortage `json:"shortages,omitempty"`
}

// PaymentAuthorized: the amount is held on the customer's card.
type PaymentAuthorized struct {
	PaymentID string      `json:"paymentId"`
	Amount    money.Money `json:"amount"`
}

// PaymentDeclined: the card was declined; the order is cancelled.
type PaymentDeclined struct {
	PaymentID string `json:"paymentId,omitempty"`
	Reason    string `json:"reason"`
	Code      string `json:"code,omitempty"`
}

// PaymentFailed: the payment could not be processed; the order is cancelled.
type PaymentFailed struct {
	PaymentID string `json:"paymentId,omitempty"`
	Reason    string `json:"reason"`
}

// StockCommitted: the reserved stock is allocated; the order is confirmed.
type StockCommitted struct{}

// StockCommitFailed: the reservation could not be allocated; the order is
// cancelled.
type StockCommitFailed struct {
	Reason string `json:"reason"`
}

// ReservationExpired: the reservation lapsed before the order was paid; the
// order is cancelled.
type ReservationExpired struct {
	Reason string `json:"reason,omitempty"`
}

// ShipmentCreated: shipping created the order's shipment.
type ShipmentCreated struct {
	ShipmentID string `json:"shipmentId"`
}

// ShipmentShipped: the order was handed to the carrier.
type ShipmentShipped struct {
	ShipmentID     string `json:"shipmentId,omitempty"`
	TrackingNumber string `json:"trackingNumber,omitempty"`
	Carrier        string `json:"carrier,omitempty"`
}

// PaymentCaptured: the authorized amount was collected.
type PaymentCaptured struct {
	PaymentID string      `json:"paymentId,omitempty"`
	Amount    money.Money `json:"amount"`
}

// ShipmentDelivered: the order reached the customer.
type ShipmentDelivered struct {
	ShipmentID string `json:"shipmentId,omitempty"`
}

// Who cancelled an order.
const (
	ByCustomer = "customer"
	ByAdmin    = "admin"
	BySystem   = "system"
)

// OrderCancelled: the customer (or an administrator) cancelled the order, or a
// step timed out.
type OrderCancelled struct {
	Reason string `json:"reason"`
	By     string `json:"by"`
}

// StockReleased: inventory confirmed that the order holds no stock any more.
type StockReleased struct {
	Reason string `json:"reason,omitempty"`
}

// PaymentVoided: payments confirmed that nothing is held on the card.
type PaymentVoided struct {
	PaymentID string `json:"paymentId,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// ShipmentCancelled: shipping cancelled the order's shipment.
type ShipmentCancelled struct {
	ShipmentID string `json:"shipmentId,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// Refunded: money was given back.
type Refunded struct {
	PaymentID string      `json:"paymentId,omitempty"`
	Amount    money.Money `json:"amount"`
	Reason    string      `json:"reason,omitempty"`
}

// Kind implements EventData.
func (Placed) Kind() Kind             { return KindPlaced }
func (StockReserved) Kind() Kind      { return KindStockReserved }
func (StockRejected) Kind() Kind      { return KindStockRejected }
func (PaymentAuthorized) Kind() Kind  { return KindPaymentAuthorized }
func (PaymentDeclined) Kind() Kind    { return KindPaymentDeclined }
func (PaymentFailed) Kind() Kind      { return KindPaymentFailed }
func (StockCommitted) Kind() Kind     { return KindStockCommitted }
func (StockCommitFailed) Kind() Kind  { return KindStockCommitFailed }
func (ReservationExpired) Kind() Kind { return KindReservationExpired }
func (ShipmentCreated) Kind() Kind    { return KindShipmentCreated }
func (ShipmentShipped) Kind() Kind    { return KindShipped }
func (PaymentCaptured) Kind() Kind    { return KindPaymentCaptured }
func (ShipmentDelivered) Kind() Kind  { return KindDelivered }
func (OrderCancelled) Kind() Kind     { return KindCancelled }
func (StockReleased) Kind() Kind      { return KindStockReleased }
func (PaymentVoided) Kind() Kind      { return KindPaymentVoided }
func (ShipmentCancelled) Kind() Kind  { return KindShipmentCancelled }
func (Refunded) Kind() Kind           { return KindRefunded }

// Describe implements EventData.
func (d Placed) Describe() string {
	n := 0
	for _, l := range d.Lines {
		n += l.Quantity
	}
	return fmt.Sprintf("Order %s placed: %s, total %s.", FormatNumber(d.Number), plural(n, "item"), d.Total)
}

// Describe implements EventData.
func (d StockReserved) Describe() string { return "Stock reserved; waiting for the payment." }

// Describe implements EventData.
func (d StockRejected) Describe() string { return "Rejected: " + rejection(d) }

// Describe implements EventData.
func (d PaymentAuthorized) Describe() string {
	return fmt.Sprintf("Payment of %s authorized.", d.Amount)
}

// Describe implements EventData.
func (d PaymentDeclined) Describe() string { return "Payment declined: " + sentence(d.Reason) }

// Describe implements EventData.
func (d PaymentFailed) Describe() string { return "Payment failed: " + sentence(d.Reason) }

// Describe implements EventData.
func (d StockCommitted) Describe() string { return "Order confirmed: the stock is allocated." }

// Describe implements EventData.
func (d StockCommitFailed) Describe() string {
	return "Cancelled: the reserved stock could not be allocated (" + strings.TrimSuffix(d.Reason, ".") + ")."
}

// Describe implements EventData.
func (d ReservationExpired) Describe() string {
	return "Cancelled: the stock reservation expired before the payment was completed."
}

// Describe implements EventData.
func (d ShipmentCreated) Describe() string { return "Shipment created; the order is being packed." }

// Describe implements EventData.
func (d ShipmentShipped) Describe() string {
	switch {
	case d.Carrier != "" && d.TrackingNumber != "":
		return fmt.Sprintf("Shipped with %s, tracking number %s.", d.Carrier, d.TrackingNumber)
	case d.TrackingNumber != "":
		return fmt.Sprintf("Shipped, tracking number %s.", d.TrackingNumber)
	}
	return "Shipped."
}

// Describe implements EventData.
func (d PaymentCaptured) Describe() string { return fmt.Sprintf("Payment of %s collected.", d.Amount) }

// Describe implements EventData.
func (d ShipmentDelivered) Describe() string { return "Delivered." }

// Describe implements EventData.
func (d OrderCancelled) Describe() string {
	switch d.By {
	case ByCustomer:
		return "Cancelled by the customer: " + sentence(d.Reason)
	case ByAdmin:
		return "Cancelled by the shop: " + sentence(d.Reason)
	}
	return "Cancelled: " + sentence(d.Reason)
}

// Describe implements EventData.
func (d StockReleased) Describe() string { return "The order's stock was released." }

// Describe implements EventData.
func (d PaymentVoided) Describe() string {
	return "The payment's authorization was released; nothing was charged."
}

// Describe implements EventData.
func (d ShipmentCancelled) Describe() string { return "Shipment cancelled." }

// Describe implements EventData.
func (d Refunded) Describe() string {
	if d.Reason == "" {
		return fmt.Sprintf("Refunded %s.", d.Amount)
	}
	return fmt.Sprintf("Refunded %s: %s", d.Amount, sentence(d.Reason))
}

func (d Placed) apply(o *Order, at time.Time) {
	o.Number, o.CustomerID, o.Email, o.IdempotencyKey = d.Number, d.CustomerID, d.Email, d.IdempotencyKey
	o.Lines = d.Lines
	o.Subtotal, o.ShippingCost, o.Total = d.Subtotal, d.ShippingCost, d.Total
	o.Address = d.Address
	o.ShippingMethod = ShippingMethod{Code: d.ShippingCode, Name: d.ShippingName, Price: d.ShippingCost}
	o.CreatedAt = at
	o.Progress.Refunded = money.Money{Currency: d.Total.Currency}
	o.setStatus(StatusPending, "")
}

func (d StockReserved) apply(o *Order, _ time.Time) {
	o.Progress.Stock, o.Progress.PaymentRequested = Reserved, true
	o.setStatus(StatusAwaitingPayment, "")
}

func (d StockRejected) apply(o *Order, _ time.Time) {
	o.Progress.Stock = Rejected
	o.setStatus(StatusRejected, d.Describe())
}

func (d PaymentAuthorized) apply(o *Order, _ time.Time) {
	o.Progress.Payment, o.Progress.PaymentID, o.Progress.CommitRequested = Authorized, d.PaymentID, true
}

func (d PaymentDeclined) apply(o *Order, _ time.Time) {
	o.Progress.Payment = Declined
	if d.PaymentID != "" {
		o.Progress.PaymentID = d.PaymentID
	}
	o.setStatus(StatusCancelled, d.Describe())
}

func (d PaymentFailed) apply(o *Order, _ time.Time) {
	o.Progress.Payment = Failed
	if d.PaymentID != "" {
		o.Progress.PaymentID = d.PaymentID
	}
	o.setStatus(StatusCancelled, d.Describe())
}

func (d StockCommitted) apply(o *Order, _ time.Time) {
	o.Progress.Stock, o.Progress.ShipmentRequested = Committed, true
	o.setStatus(StatusConfirmed, "")
}

func (d StockCommitFailed) apply(o *Order, _ time.Time) {
	o.Progress.Stock = CommitFailed
	o.setStatus(StatusCancelled, d.Describe())
}

func (d ReservationExpired) apply(o *Order, _ time.Time) {
	o.Progress.Stock = Expired
	o.setStatus(StatusCancelled, d.Describe())
}

func (d ShipmentCreated) apply(o *Order, _ time.Time) {
	o.Progress.Shipment, o.Progress.ShipmentID = Created, d.ShipmentID
}

func (d ShipmentShipped) apply(o *Order, _ time.Time) {
	o.Progress.Shipment = Shipped
	if d.ShipmentID != "" {
		o.Progress.ShipmentID = d.ShipmentID
	}
	o.Progress.TrackingNumber, o.Progress.Carrier = d.TrackingNumber, d.Carrier
	o.setStatus(StatusShipped, "")
}

func (d PaymentCaptured) apply(o *Order, _ time.Time) { o.Progress.Payment = Captured }

func (d ShipmentDelivered) apply(o *Order, _ time.Time) {
	o.Progress.Shipment = Delivered
	o.setStatus(StatusDelivered, "")
}

func (d OrderCancelled) apply(o *Order, _ time.Time) { o.setStatus(StatusCancelled, d.Describe()) }

func (d StockReleased) apply(o *Order, _ time.Time) { o.Progress.Stock = Released }

func (d PaymentVoided) apply(o *Order, _ time.Time) { o.Progress.Payment = Voided }

func (d ShipmentCancelled) apply(o *Order, _ time.Time) { o.Progress.Shipment = Cancelled }

func (d Refunded) apply(o *Order, _ time.Time) {
	o.Progress.Refunded.Amount += d.Amount.Amount
	if o.Progress.Refunded.Amount >= o.Total.Amount && o.Total.Amount > 0 {
		reason := fmt.Sprintf("Refunded in full (%s).", o.Progress.Refunded)
		if d.Reason != "" {
			reason = fmt.Sprintf("Refunded in full (%s): %s", o.Progress.Refunded, sentence(d.Reason))
		}
		o.setStatus(StatusRefunded, reason)
	}
}

func (o *Order) setStatus(s Status, reason string) {
	o.Status, o.StatusReason = s, reason
}

// Fold returns the order that evs (a whole stream, oldest first) make.
func Fold(evs []Event) *Order {
	var o *Order
	return o.With(evs...)
}

// With returns a copy of o (nil for a new order) with evs applied.
func (o *Order) With(evs ...Event) *Order {
	var next Order
	if o != nil {
		next = *o
		next.Lines = append([]Line(nil), o.Lines...)
	}
	for _, e := range evs {
		if next.ID == "" {
			next.ID = e.OrderID
		}
		e.Data.apply(&next, e.At)
		next.Version = e.Version
		next.UpdatedAt = e.At
	}
	return &next
}

// TimelineEntry is an event as the order's timeline shows it.
type TimelineEntry struct {
	Kind Kind
	// Status is the order's status after the event.
	Status      Status
	At          time.Time
	Description string
}

// Timeline returns the timeline of a whole stream, oldest first.
func Timeline(evs []Event) []TimelineEntry {
	out := make([]TimelineEntry, 0, len(evs))
	var o Order
	for _, e := range evs {
		e.Data.apply(&o, e.At)
		out = append(out, TimelineEntry{Kind: e.Data.Kind(), Status: o.Status, At: e.At, Description: e.Data.Describe()})
	}
	return out
}

// DecodeEventData returns the event data of kind decoded from its JSON form.
func DecodeEventData(kind string, data []byte) (EventData, error) {
	var d EventData
	var err error
	switch Kind(kind) {
	case KindPlaced:
		d, err = decode[Placed](data)
	case KindStockReserved:
		d, err = decode[StockReserved](data)
	case KindStockRejected:
		d, err = decode[StockRejected](data)
	case KindPaymentAuthorized:
		d, err = decode[PaymentAuthorized](data)
	case KindPaymentDeclined:
		d, err = decode[PaymentDeclined](data)
	case KindPaymentFailed:
		d, err = decode[PaymentFailed](data)
	case KindStockCommitted:
		d, err = decode[StockCommitted](data)
	case KindStockCommitFailed:
		d, err = decode[StockCommitFailed](data)
	case KindReservationExpired:
		d, err = decode[ReservationExpired](data)
	case KindShipmentCreated:
		d, err = decode[ShipmentCreated](data)
	case KindShipped:
		d, err = decode[ShipmentShipped](data)
	case KindPaymentCaptured:
		d, err = decode[PaymentCaptured](data)
	case KindDelivered:
		d, err = decode[ShipmentDelivered](data)
	case KindCancelled:
		d, err = decode[OrderCancelled](data)
	case KindStockReleased:
		d, err = decode[StockReleased](data)
	case KindPaymentVoided:
		d, err = decode[PaymentVoided](data)
	case KindShipmentCancelled:
		d, err = decode[ShipmentCancelled](data)
	case KindRefunded:
		d, err = decode[Refunded](data)
	default:
		return nil, fmt.Errorf("unknown order event type %q", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s event: %w", kind, err)
	}
	return d, nil
}

func decode[T EventData](data []byte) (EventData, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// rejection is the reason of a rejected order: the short lines, or
// inventory's reason.
func rejection(d StockRejected) string {
	if len(d.Shortages) == 0 {
		if d.Reason == "" {
			return "the stock could not be reserved."
		}
		return sentence(d.Reason)
	}
	parts := make([]string, len(d.Shortages))
	for i, s := range d.Shortages {
		parts[i] = fmt.Sprintf("%s (%d requested, %d available)", s.SKU, s.Requested, s.Available)
	}
	return "not enough stock for " + strings.Join(parts, ", ") + "."
}

// sentence returns s trimmed and ending with a full stop, for people.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "no reason given."
	}
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
