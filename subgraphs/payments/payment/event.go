package payment

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopgraph/shopgraph/internal/money"
)

// Event is one fact in a payment's stream.
type Event struct {
	PaymentID string
	// Version is the event's position in the stream, from 1.
	Version int
	At      time.Time
	// Data is one of Requested, Authorized, Declined, Failed, Captured,
	// Voided or Refunded.
	Data EventData
}

// Type is the event's type name, such as "PaymentAuthorized".
func (e Event) Type() string { return e.Data.EventType() }

// EventData is the body of an event. Its JSON form is what the store keeps.
type EventData interface {
	// EventType is the type name stored with the event.
	EventType() string
	// Describe tells people what happened, for the payment's timeline.
	Describe() string
}

// Event type names, as stored.
const (
	TypeRequested  = "PaymentRequested"
	TypeAuthorized = "PaymentAuthorized"
	TypeDeclined   = "PaymentDeclined"
	TypeFailed     = "PaymentFailed"
	TypeCaptured   = "PaymentCaptured"
	TypeVoided     = "PaymentVoided"
	TypeRefunded   = "PaymentRefunded"
	// TypeActionRequired and TypeDisputed come from the provider's
	// webhook: the customer must act (3-D Secure); the customer disputed
	// the charge.
	TypeActionRequired = "PaymentActionRequired"
	TypeDisputed       = "PaymentDisputed"
)

// ActionRequired: the provider waits for the customer (3-D Secure) on the
// authorization Reference; ClientSecret lets their browser complete it.
type ActionRequired struct {
	Reference    string `json:"reference"`
	ClientSecret string `json:"clientSecret"`
}

// Disputed: the customer disputed Amount with their bank.
type Disputed struct {
	Amount money.Money `json:"amount"`
	Reason string      `json:"reason"`
}

// EventType implements EventData.
func (ActionRequired) EventType() string { return TypeActionRequired }

// EventType implements EventData.
func (Disputed) EventType() string { return TypeDisputed }

// Describe implements EventData.
func (ActionRequired) Describe() string {
	return "The card provider asked the customer to confirm the payment (3-D Secure)."
}

// Describe implements EventData.
func (d Disputed) Describe() string {
	return fmt.Sprintf("Disputed %s with the bank: %s", d.Amount, d.Reason)
}

// Requested starts a payment: the saga asked to authorize Amount.
type Requested struct {
	OrderID        string      `json:"orderId"`
	CustomerID     string      `json:"customerId"`
	Amount         money.Money `json:"amount"`
	IdempotencyKey string      `json:"idempotencyKey"`
	Provider       string      `json:"provider"`
}

// Authorized: the provider holds the amount under Reference.
type Authorized struct {
	Reference string `json:"reference"`
}

// Declined: the provider refused the card.
type Declined struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// Failed: the authorization could not be obtained (the provider kept
// failing or could not be reached).
type Failed struct {
	Reason string `json:"reason"`
}

// Captured: Amount was collected.
type Captured struct {
	Amount money.Money `json:"amount"`
}

// Voided: the authorization was released.
type Voided struct {
	Reason string `json:"reason,omitempty"`
}

// Refunded: Amount was given back as refund RefundID.
type Refunded struct {
	RefundID string      `json:"refundId"`
	Amount   money.Money `json:"amount"`
	Reason   string      `json:"reason"`
}

// EventType implements EventData.
func (Requested) EventType() string { return TypeRequested }

// EventType implements EventData.
func (Authorized) EventType() string { return TypeAuthorized }

// EventType implements EventData.
func (Declined) EventType() string { return TypeDeclined }

// EventType implements EventData.
func (Failed) EventType() string { return TypeFailed }

// EventType implements EventData.
func (Captured) EventType() string { return TypeCaptured }

// EventType implements EventData.
func (Voided) EventType() string { return TypeVoided }

// EventType implements EventData.
func (Refunded) EventType() string { return TypeRefunded }

// Describe implements EventData.
func (d Requested) Describe() string {
	return fmt.Sprintf("Authorization of %s requested from %s.", d.Amount, d.Provider)
}

// Describe implements EventData.
func (d Authorized) Describe() string { return "Authorized by the card provider." }

// Describe implements EventData.
func (d Declined) Describe() string {
	if d.Code == "" {
		return "Declined: " + d.Reason
	}
	return fmt.Sprintf("Declined: %s (%s)", d.Reason, d.Code)
}

// Describe implements EventData.
func (d Failed) Describe() string { return "Failed: " + d.Reason }

// Describe implements EventData.
func (d Captured) Describe() string { return fmt.Sprintf("Captured %s.", d.Amount) }

// Describe implements EventData.
func (d Voided) Describe() string {
	if d.Reason == "" {
		return "Voided: the authorization was released."
	}
	return "Voided: " + d.Reason
}

// Describe implements EventData.
func (d Refunded) Describe() string { return fmt.Sprintf("Refunded %s: %s", d.Amount, d.Reason) }

// DecodeEventData returns the event body of type typ from its JSON form.
func DecodeEventData(typ string, data []byte) (EventData, error) {
	var d EventData
	var err error
	switch typ {
	case TypeRequested:
		d, err = decode[Requested](data)
	case TypeAuthorized:
		d, err = decode[Authorized](data)
	case TypeDeclined:
		d, err = decode[Declined](data)
	case TypeFailed:
		d, err = decode[Failed](data)
	case TypeCaptured:
		d, err = decode[Captured](data)
	case TypeVoided:
		d, err = decode[Voided](data)
	case TypeRefunded:
		d, err = decode[Refunded](data)
	case TypeActionRequired:
		d, err = decode[ActionRequired](data)
	case TypeDisputed:
		d, err = decode[Disputed](data)
	default:
		return nil, fmt.Errorf("unknown payment event type %q", typ)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", typ, err)
	}
	return d, nil
}

func decode[T EventData](data []byte) (EventData, error) {
	var v T
	err := json.Unmarshal(data, &v)
	return v, err
}
