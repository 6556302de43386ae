package order

import (
	"time"

	"github.com/shopgraph/shopgraph/internal/contract"
)

// maxBackoffSteps caps the growth of the wait between two resends of a
// step's command: StepTimeout × 2^maxBackoffSteps at most.
const maxBackoffSteps = 6

// saga decides the checkout saga's next move for an order: which events to
// record and which commands to send when a participant replies, a step's
// deadline passes or the order is cancelled. Its decisions depend only on
// the order and the time, so that a redelivered or late reply, decided
// again on the order's new state, changes nothing it should not.
type saga struct {
	stepTimeout    time.Duration
	reservationTTL time.Duration
}

// placed returns the saga of a new order: reserve the stock.
func (sg saga) placed(o *Order, token string, now time.Time) ([]Message, Saga) {
	lines := make([]contract.Line, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = contract.Line{SKU: l.SKU, Quantity: l.Quantity}
	}
	m := Message{Stream: contract.InventoryCommands, Type: contract.TypeReserveStock, Payload: contract.ReserveStock{
		OrderID: o.ID, Lines: lines, ExpiresAt: now.Add(sg.reservationTTL),
	}}
	return []Message{m}, sg.wait(StepReserveStock, now, token)
}

// onStock decides on an inventory event about o.
func (sg saga) onStock(o *Order, typ string, r contract.StockResult, now time.Time) Change {
	p := o.Progress
	switch o.Status {
	case StatusPending:
		switch typ {
		case contract.TypeStockReserved:
			ch := sg.record(now, StockReserved{ExpiresAt: r.ExpiresAt})
			ch.Messages = []Message{authorizePayment(o, o.Saga.PaymentToken)}
			s := sg.wait(StepAuthorizePayment, now, "")
			ch.Saga = &s
			return ch
		case contract.TypeStockRejected:
			d := StockRejected{Reason: r.Reason}
			for _, s := range r.Shortages {
				d.Shortages = append(d.Shortages, Shortage{SKU: s.SKU, Requested: s.Requested, Available: s.Available})
			}
			return sg.end(o, now, d)
		case contract.TypeReservationExpired:
			return sg.end(o, now, ReservationExpired{Reason: r.Reason})
		}
	case StatusAwaitingPayment:
		switch typ {
		case contract.TypeStockCommitted:
			if p.CommitRequested {
				ch := sg.record(now, StockCommitted{})
				ch.Messages = []Message{createShipment(o)}
				s := sg.wait(StepCreateShipment, now, "")
				ch.Saga = &s
				return ch
			}
		case contract.TypeReservationExpired:
			// Before the payment or in answer to CommitStock: nothing is
			// held any more; void the payment if one was asked for.
			return sg.end(o, now, ReservationExpired{Reason: r.Reason})
		case contract.TypeStockRejected:
			if p.CommitRequested {
				return sg.end(o, now, StockCommitFailed{Reason: r.Reason})
			}
		}
	case StatusCancelled, StatusRejected:
		switch typ {
		case contract.TypeStockReserved:
			// Reserved after the order ended: release it again.
			return Change{At: now, Messages: []Message{releaseStock(o)}}
		case contract.TypeStockCommitted:
			// Committed after the order was cancelled: return it to on hand.
			m := releaseStock(o)
			rs := m.Payload.(contract.ReleaseStock)
			rs.Restock = true
			m.Payload = rs
			return Change{At: now, Messages: []Message{m}}
		case contract.TypeStockReleased:
			if o.Status == StatusCancelled && p.Stock != Released {
				return sg.confirm(o, now, StockReleased{Reason: r.Reason})
			}
		}
	}
	return Change{}
}

// onPayment decides on a payments event about o.
func (sg saga) onPayment(o *Order, typ string, r contract.PaymentResult, now time.Time) Change {
	p := o.Progress
	switch o.Status {
	case StatusAwaitingPayment:
		if !p.PaymentRequested || p.Payment != "" {
			break // not waiting for the payment (any more)
		}
		switch typ {
		case contract.TypePaymentAuthorized:
			ch := sg.record(now, PaymentAuthorized{PaymentID: r.PaymentID, Amount: r.Amount})
			ch.Messages = []Message{{Stream: contract.InventoryCommands, Type: contract.TypeCommitStock, Payload: contract.CommitStock{OrderID: o.ID}}}
			s := sg.wait(StepCommitStock, now, "")
			ch.Saga = &s
			return ch
		case contract.TypePaymentDeclined:
			return sg.end(o, now, PaymentDeclined{PaymentID: r.PaymentID, Reason: r.Reason, Code: r.DeclineCode})
		case contract.TypePaymentFailed:
			return sg.end(o, now, PaymentFailed{PaymentID: r.PaymentID, Reason: r.Reason})
		}
	case StatusShipped, StatusDelivered, StatusRefunded:
		switch typ {
		case contract.TypePaymentCaptured:
			if p.Payment == Authorized {
				ch := sg.record(now, PaymentCaptured{PaymentID: r.PaymentID, Amount: r.Amount})
				if o.Saga.Step == StepCapturePayment {
					ch.Saga = &Saga{}
				}
				return ch
			}
		case contract.TypePaymentRefunded:
			return sg.record(now, Refunded{PaymentID: r.PaymentID, Amount: r.Amount, Reason: r.Reason})
		}
	case StatusCancelled:
		switch typ {
		case contract.TypePaymentAuthorized:
			// Authorized after the order was cancelled: release the hold.
			return Change{At: now, Messages: []Message{voidPayment(o)}}
		case contract.TypePaymentVoided:
			if p.Payment != Voided && p.Payment != Declined && p.Payment != Failed {
				return sg.confirm(o, now, PaymentVoided{PaymentID: r.PaymentID, Reason: r.Reason})
			}
		}
	}
	return Change{}
}

// onShipment decides on a shipping event about o.
func (sg saga) onShipment(o *Order, typ string, r contract.ShipmentResult, now time.Time) Change {
	p := o.Progress
	switch o.Status {
	case StatusConfirmed:
		switch typ {
		case contract.TypeShipmentCreated:
			if p.Shipment == "" {
				ch := sg.record(now, ShipmentCreated{ShipmentID: r.ShipmentID})
				if o.Saga.Step == StepCreateShipment {
					ch.Saga = &Saga{} // the warehouse takes it from here
				}
				return ch
			}
		case contract.TypeShipmentShipped, contract.TypeShipmentDelivered:
			evs := []EventData{ShipmentShipped{ShipmentID: r.ShipmentID, TrackingNumber: r.TrackingNumber, Carrier: r.Carrier}}
			if typ == contract.TypeShipmentDelivered {
				evs = append(evs, ShipmentDelivered{ShipmentID: r.ShipmentID})
			}
			ch := sg.record(now, evs...)
			ch.Messages = []Message{capturePayment(o)}
			s := sg.wait(StepCapturePayment, now, "")
			ch.Saga = &s
			return ch
		case contract.TypeShipmentCancelled:
			if p.Shipment != Cancelled {
				return sg.record(now, ShipmentCancelled{ShipmentID: r.ShipmentID, Reason: r.Reason})
			}
		}
	case StatusShipped:
		if typ == contract.TypeShipmentDelivered {
			return sg.record(now, ShipmentDelivered{ShipmentID: r.ShipmentID})
		}
	case StatusCancelled:
		switch typ {
		case contract.TypeShipmentCreated:
			// Created after the order was cancelled: cancel it again.
			return Change{At: now, Messages: []Message{cancelShipment(o)}}
		case contract.TypeShipmentCancelled:
			if p.Shipment != Cancelled {
				return sg.confirm(o, now, ShipmentCancelled{ShipmentID: r.ShipmentID, Reason: r.Reason})
			}
		}
	}
	return Change{}
}

// onDeadline decides what to do about o's saga step once its deadline has
// passed: before the pivot (the payment) the order is cancelled and what
// was done is compensated; after it, the step's command is sent again, with
// a growing wait.
func (sg saga) onDeadline(o *Order, now time.Time) Change {
	if o.Saga.Step == StepNone || now.Before(o.Saga.Deadline) {
		return Change{}
	}
	if o.Saga.Unsent && (o.Saga.Step.afterPivot() || now.Before(o.CreatedAt.Add(sg.reservationTTL))) {
		// The step's command has not left the outbox: no participant could
		// act on it yet, so its time counts from when it can. Before the
		// pivot, only while the reservation it asks for would still hold.
		s := o.Saga
		s.Unsent, s.Deadline = false, now.Add(sg.stepTimeout)
		return Change{At: now, Saga: &s}
	}
	p := o.Progress
	var resend []Message
	switch o.Saga.Step {
	case StepReserveStock:
		if o.Status == StatusPending {
			return sg.end(o, now, OrderCancelled{By: BySystem, Reason: "timed out waiting for the stock reservation"})
		}
	case StepAuthorizePayment:
		if o.Status == StatusAwaitingPayment && p.Payment == "" {
			return sg.end(o, now, OrderCancelled{By: BySystem, Reason: "timed out waiting for the payment authorization"})
		}
	case StepCommitStock:
		if o.Status == StatusAwaitingPayment && p.CommitRequested {
			resend = []Message{{Stream: contract.InventoryCommands, Type: contract.TypeCommitStock, Payload: contract.CommitStock{OrderID: o.ID}}}
		}
	case StepCreateShipment:
		if o.Status == StatusConfirmed && p.Shipment == "" {
			resend = []Message{createShipment(o)}
		}
	case StepCapturePayment:
		if p.Payment == Authorized && (o.Status == StatusShipped || o.Status == StatusDelivered) {
			resend = []Message{capturePayment(o)}
		}
	case StepCompensate:
		if o.Status == StatusCancelled {
			resend = compensations(o)
		}
	}
	if len(resend) == 0 {
		// The step is over (a reply came in meanwhile, or it no longer
		// applies): stop waiting.
		return Change{At: now, Saga: &Saga{}}
	}
	attempts := o.Saga.Attempts + 1
	wait := sg.stepTimeout << min(attempts, maxBackoffSteps)
	return Change{At: now, Messages: resend, Saga: &Saga{Step: o.Saga.Step, Deadline: now.Add(wait), Attempts: attempts}}
}

// cancel decides on cancelling o for reason, by whom (ByCustomer, ByAdmin).
// The caller checks that o can be cancelled.
func (sg saga) cancel(o *Order, reason, by string, now time.Time) Change {
	return sg.end(o, now, OrderCancelled{Reason: reason, By: by})
}

// record returns a change that only records evs.
func (sg saga) record(now time.Time, evs ...EventData) Change {
	return Change{At: now, Events: evs}
}

// end records evs, which end the order (REJECTED or CANCELLED), and sends
// the compensations the order needs after them.
func (sg saga) end(o *Order, now time.Time, evs ...EventData) Change {
	next := o.With(stamp(o, now, evs)...)
	msgs := compensations(next)
	s := Saga{}
	if len(msgs) > 0 {
		s = sg.wait(StepCompensate, now, "")
	}
	return Change{At: now, Events: evs, Messages: msgs, Saga: &s}
}

// confirm records the confirmation of a compensation of a cancelled order,
// and stops waiting once none is outstanding.
func (sg saga) confirm(o *Order, now time.Time, d EventData) Change {
	ch := sg.record(now, d)
	if len(compensations(o.With(stamp(o, now, ch.Events)...))) == 0 && o.Saga.Step == StepCompensate {
		ch.Saga = &Saga{}
	}
	return ch
}

func (sg saga) wait(step Step, now time.Time, token string) Saga {
	return Saga{Step: step, Deadline: now.Add(sg.stepTimeout), PaymentToken: token}
}

// compensations returns the commands that undo what the saga did for a
// cancelled order and is not confirmed undone yet: release (or restock) its
// stock, void its payment, cancel its shipment.
func compensations(o *Order) []Message {
	p := o.Progress
	var out []Message
	switch p.Stock {
	case Released, Expired, Rejected, CommitFailed:
	default:
		out = append(out, releaseStock(o))
	}
	if p.PaymentRequested && (p.Payment == "" || p.Payment == Authorized) {
		out = append(out, voidPayment(o))
	}
	if p.ShipmentRequested && (p.Shipment == "" || p.Shipment == Created) {
		out = append(out, cancelShipment(o))
	}
	return out
}

// stamp turns event data decided on o at now into the events that follow
// o's stream.
func stamp(o *Order, now time.Time, data []EventData) []Event {
	evs := make([]Event, len(data))
	for i, d := range data {
		evs[i] = Event{OrderID: o.ID, Version: o.Version + i + 1, At: now, Data: d}
	}
	return evs
}

func cancelReason(o *Order) string {
	if o.StatusReason != "" {
		return "order " + o.DisplayNumber() + ": " + o.StatusReason
	}
	return "order " + o.DisplayNumber() + " did not go ahead"
}

func authorizePayment(o *Order, token string) Message {
	return Message{Stream: contract.PaymentCommands, Type: contract.TypeAuthorizePayment, Payload: contract.AuthorizePayment{
		OrderID: o.ID, CustomerID: o.CustomerID, Amount: o.Total, PaymentToken: token, IdempotencyKey: o.IdempotencyKey,
	}}
}

func releaseStock(o *Order) Message {
	p := o.Progress
	return Message{Stream: contract.InventoryCommands, Type: contract.TypeReleaseStock, Payload: contract.ReleaseStock{
		OrderID: o.ID, Reason: cancelReason(o), Restock: p.Stock == Committed || p.CommitRequested,
	}}
}

func voidPayment(o *Order) Message {
	return Message{Stream: contract.PaymentCommands, Type: contract.TypeVoidPayment, Payload: contract.PaymentCommand{
		OrderID: o.ID, Reason: cancelReason(o),
	}}
}

func capturePayment(o *Order) Message {
	return Message{Stream: contract.PaymentCommands, Type: contract.TypeCapturePayment, Payload: contract.PaymentCommand{OrderID: o.ID}}
}

func createShipment(o *Order) Message {
	lines := make([]contract.Line, len(o.Lines))
	for i, l := range o.Lines {
		lines[i] = contract.Line{SKU: l.SKU, Quantity: l.Quantity}
	}
	a := o.Address
	return Message{Stream: contract.ShippingCommands, Type: contract.TypeCreateShipment, Payload: contract.CreateShipment{
		OrderID: o.ID, CustomerID: o.CustomerID, Method: o.ShippingMethod.Code, Lines: lines,
		Address: contract.Address{
			Recipient: a.Recipient, Line1: a.Line1, Line2: a.Line2, City: a.City, Region: a.Region,
			PostalCode: a.PostalCode, Country: a.Country, Phone: a.Phone,
		},
	}}
}

func cancelShipment(o *Order) Message {
	return Message{Stream: contract.ShippingCommands, Type: contract.TypeCancelShipment, Payload: contract.CancelShipment{
		OrderID: o.ID, CustomerID: o.CustomerID, Reason: cancelReason(o),
	}}
}

// statusChanged returns the OrderStatusChanged event for o's move from
// previous to its status, with o's version.
func statusChanged(o *Order, previous Status, now time.Time) Message {
	e := StatusChanged{OrderStatusChanged: contract.OrderStatusChanged{
		OrderID: o.ID, Number: o.DisplayNumber(), CustomerID: o.CustomerID, Email: o.Email, Status: string(o.Status),
		Previous: string(previous), Reason: o.StatusReason, Total: o.Total, At: now.UTC(),
	}, Version: o.Version}
	if o.Status == StatusShipped || o.Status == StatusDelivered {
		e.TrackingNumber, e.Carrier = o.Progress.TrackingNumber, o.Progress.Carrier
	}
	return Message{Stream: contract.OrderEvents, Type: contract.TypeOrderStatusChanged, Payload: e}
}
