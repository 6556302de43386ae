package shipping_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/sandbox"
)

func TestCreateShipmentThroughRedis(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	s := startSaga(t, e)
	custID := uuid.NewString()
	cmd := createCmd(custID)
	create := command(t, contract.TypeCreateShipment, cmd.OrderID, cmd)
	create.Metadata[events.MetaCorrelationID] = "checkout-" + cmd.OrderID

	// Delivered twice (at-least-once), then asked again by a new message:
	// answered each time, one shipment, one label.
	s.send(t, create)
	s.send(t, create)
	s.send(t, command(t, contract.TypeCreateShipment, cmd.OrderID, cmd))
	var shipmentID string
	for i := range 3 {
		m, res := s.next(t)
		if m.Type != contract.TypeShipmentCreated || m.Key != cmd.OrderID || res.OrderID != cmd.OrderID || res.CustomerID != custID ||
			res.ShipmentID == "" || res.Carrier != "sandbox" || res.TrackingNumber != sandbox.TrackingNumber(res.ShipmentID) {
			t.Fatalf("event %d = %s %s %+v", i, m.Type, m.Key, res)
		}
		if i < 2 && (m.CorrelationID() != "checkout-"+cmd.OrderID || m.Metadata[events.MetaCausationID] != create.ID) {
			t.Errorf("event %d metadata = %v", i, m.Metadata)
		}
		if shipmentID == "" {
			shipmentID = res.ShipmentID
		} else if res.ShipmentID != shipmentID {
			t.Errorf("events name shipments %s and %s", shipmentID, res.ShipmentID)
		}
	}
	if n := e.shipments(t, cmd.OrderID); n != 1 {
		t.Errorf("%d shipments for the order, want 1", n)
	}
	if e.carrier.Labels() != 1 || e.carrier.Calls(shipmentID) != 1 {
		t.Errorf("labels %d, label calls %d; want 1, 1", e.carrier.Labels(), e.carrier.Calls(shipmentID))
	}

	// The customer sees it, labelled.
	r := e.do(t, e.tokenFor(t, custID), `query($id: ID!) { shipment(id: $id) { status trackingNumber events { status } } }`,
		map[string]any{"id": gid.Encode("Shipment", shipmentID)})
	var sh shipmentJSON
	r.into(t, "shipment", &sh)
	if sh.Status != "LABEL_CREATED" || !slices.Equal(sh.eventStatuses(), []string{"PENDING", "LABEL_CREATED"}) {
		t.Errorf("shipment = %+v", sh)
	}
}

func TestScheduleDelivers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 20*time.Millisecond)
	s := startSaga(t, e)
	custID := uuid.NewString()
	cmd := createCmd(custID)
	s.send(t, command(t, contract.TypeCreateShipment, cmd.OrderID, cmd))

	// On the stream, in order: created, shipped (in transit), delivered.
	var shipmentID string
	for _, want := range []string{contract.TypeShipmentCreated, contract.TypeShipmentShipped, contract.TypeShipmentDelivered} {
		m, res := s.next(t)
		if m.Type != want || res.OrderID != cmd.OrderID || res.CustomerID != custID || res.Carrier != "sandbox" || res.TrackingNumber == "" {
			t.Fatalf("event = %s %+v, want %s", m.Type, res, want)
		}
		if shipmentID == "" {
			shipmentID = res.ShipmentID
		} else if res.ShipmentID != shipmentID {
			t.Errorf("events name shipments %s and %s", shipmentID, res.ShipmentID)
		}
	}
	r := e.do(t, e.tokenFor(t, custID), `query($id: ID!) { shipment(id: $id) { status events { status description location at } } }`,
		map[string]any{"id": gid.Encode("Shipment", shipmentID)})
	var sh shipmentJSON
	r.into(t, "shipment", &sh)
	if want := []string{"PENDING", "LABEL_CREATED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"}; sh.Status != "DELIVERED" || !slices.Equal(sh.eventStatuses(), want) {
		t.Fatalf("shipment %s, events %v; want DELIVERED, %v", sh.Status, sh.eventStatuses(), want)
	}
	if last := sh.Events[4]; last.Description != "Delivered to Ada Lovelace" || last.Location == nil || *last.Location != "London, GB" {
		t.Errorf("delivered event = %+v", last)
	}
	for i := 1; i < len(sh.Events); i++ {
		if sh.Events[i].At < sh.Events[i-1].At {
			t.Errorf("events out of order: %+v", sh.Events)
		}
	}
	// Nothing more happens to a delivered shipment: a cancel is answered
	// with where it stands.
	s.send(t, command(t, contract.TypeCancelShipment, cmd.OrderID, contract.CancelShipment{OrderID: cmd.OrderID, Reason: "changed my mind"}))
	m, res := s.next(t)
	if m.Type != contract.TypeShipmentDelivered || res.ShipmentID != shipmentID || !strings.Contains(res.Reason, "already delivered") {
		t.Errorf("answer to a late cancel = %s %+v", m.Type, res)
	}
}

func TestCancelShipmentThroughRedis(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	s := startSaga(t, e)
	custID := uuid.NewString()

	t.Run("before the shipment exists", func(t *testing.T) {
		cmd := createCmd(custID)
		s.send(t, command(t, contract.TypeCancelShipment, cmd.OrderID, contract.CancelShipment{OrderID: cmd.OrderID, CustomerID: custID, Reason: "cancelled by customer"}))
		m, res := s.next(t)
		if m.Type != contract.TypeShipmentCancelled || res.OrderID != cmd.OrderID || res.CustomerID != custID || res.ShipmentID != "" || res.Reason != "cancelled by customer" {
			t.Fatalf("answer = %s %+v", m.Type, res)
		}
		// A CreateShipment that arrives late creates nothing.
		s.send(t, command(t, contract.TypeCreateShipment, cmd.OrderID, cmd))
		m, res = s.next(t)
		if m.Type != contract.TypeShipmentCancelled || res.OrderID != cmd.OrderID || res.CustomerID != custID || res.Reason != "cancelled by customer" {
			t.Fatalf("answer to the late create = %s %+v", m.Type, res)
		}
		if n := e.shipments(t, cmd.OrderID); n != 0 {
			t.Errorf("%d shipments for a cancelled order", n)
		}
	})
	t.Run("labelled", func(t *testing.T) {
		sh := e.ship(t, custID, 0)
		s.next(t) // ShipmentCreated
		cancel := command(t, contract.TypeCancelShipment, sh.OrderID, contract.CancelShipment{OrderID: sh.OrderID, Reason: "cancelled by customer"})
		s.send(t, cancel)
		s.send(t, cancel) // redelivered: answered again, nothing changes
		for i := range 2 {
			m, res := s.next(t)
			if m.Type != contract.TypeShipmentCancelled || res.ShipmentID != sh.ID || res.CustomerID != custID ||
				res.Reason != "cancelled by customer" || res.TrackingNumber != sandbox.TrackingNumber(sh.ID) {
				t.Fatalf("answer %d = %s %+v", i, m.Type, res)
			}
		}
		if got := e.status(t, sh.ID); got != "CANCELLED" {
			t.Errorf("status = %s", got)
		}
		if !e.carrier.Voided(sandbox.TrackingNumber(sh.ID)) {
			t.Error("label not voided")
		}
	})
	t.Run("after it shipped", func(t *testing.T) {
		sh := e.ship(t, custID, 1)
		s.next(t) // ShipmentCreated
		s.next(t) // ShipmentShipped
		s.send(t, command(t, contract.TypeCancelShipment, sh.OrderID, contract.CancelShipment{OrderID: sh.OrderID, Reason: "too late"}))
		m, res := s.next(t)
		if m.Type != contract.TypeShipmentShipped || res.ShipmentID != sh.ID || res.CustomerID != custID || !strings.Contains(res.Reason, "already shipped") {
			t.Fatalf("answer = %s %+v", m.Type, res)
		}
		if got := e.status(t, sh.ID); got != "IN_TRANSIT" {
			t.Errorf("status = %s", got)
		}
	})
	t.Run("carrier refuses the parcel", func(t *testing.T) {
		cmd := createCmd(custID)
		cmd.Address.PostalCode = sandbox.PostalCodeUndeliverable
		s.send(t, command(t, contract.TypeCreateShipment, cmd.OrderID, cmd))
		m, res := s.next(t)
		if m.Type != contract.TypeShipmentCancelled || res.OrderID != cmd.OrderID || res.ShipmentID == "" || !strings.Contains(res.Reason, "carrier refused") {
			t.Fatalf("answer = %s %+v", m.Type, res)
		}
		if got := e.status(t, res.ShipmentID); got != "CANCELLED" {
			t.Errorf("status = %s", got)
		}
	})
	t.Run("malformed command", func(t *testing.T) {
		cmd := createCmd(custID)
		cmd.Method = "TELEPORT"
		s.send(t, command(t, contract.TypeCreateShipment, cmd.OrderID, cmd))
		m, res := s.next(t)
		if m.Type != contract.TypeShipmentCancelled || res.OrderID != cmd.OrderID || res.CustomerID != custID ||
			res.Reason != `invalid shipment request: unknown shipping method "TELEPORT"` {
			t.Fatalf("answer = %s %+v", m.Type, res)
		}
		if n := e.shipments(t, cmd.OrderID); n != 0 {
			t.Errorf("%d shipments for a malformed command", n)
		}
		// It is also dead-lettered for an operator.
		eventually(t, "the command is dead-lettered", func() bool {
			n, err := e.rdb.XLen(context.Background(), e.prefix+contract.ShippingCommands+".dead-letter").Result()
			return err == nil && n == 1
		})
	})
}

func TestLabelVoidedLater(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	startSaga(t, e)
	sh := e.ship(t, uuid.NewString(), 0)
	tn := sandbox.TrackingNumber(sh.ID)

	// The carrier is down when the admin cancels: the shipment is cancelled
	// all the same, and its label is voided once the carrier is back.
	e.carrier.SetDown(true)
	r := e.do(t, e.admin(t), `mutation($id: ID!) { cancelShipment(id: $id, reason: "duplicate order") { status } }`,
		map[string]any{"id": gid.Encode("Shipment", sh.ID)})
	var got shipmentJSON
	r.into(t, "cancelShipment", &got)
	if got.Status != "CANCELLED" || e.carrier.Voided(tn) {
		t.Fatalf("cancelled: %+v, voided %v", got, e.carrier.Voided(tn))
	}
	e.carrier.SetDown(false)
	eventually(t, "the label is voided", func() bool { return e.carrier.Voided(tn) })
	eventually(t, "the voiding is recorded", func() bool {
		var voided bool
		err := e.pool.QueryRow(context.Background(), `SELECT label_voided_at IS NOT NULL FROM shipments WHERE id = $1`, sh.ID).Scan(&voided)
		return err == nil && voided
	})
}

func TestCarrierDownThroughRedis(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	s := startSaga(t, e)
	custID := uuid.NewString()
	cmd := createCmd(custID)

	// The carrier is down: the command is accepted, the shipment waits.
	e.carrier.SetDown(true)
	s.send(t, command(t, contract.TypeCreateShipment, cmd.OrderID, cmd))
	var id string
	eventually(t, "the shipment is recorded", func() bool {
		err := e.pool.QueryRow(context.Background(), `SELECT id FROM shipments WHERE order_id = $1 AND label_attempted_at IS NOT NULL`, cmd.OrderID).Scan(&id)
		return err == nil
	})
	if got := e.status(t, id); got != "PENDING" {
		t.Fatalf("status = %s", got)
	}
	// Back up, and the retry is due: the schedule labels it and the saga
	// hears ShipmentCreated. The command was not dead-lettered.
	e.carrier.SetDown(false)
	e.skip(time.Minute)
	m, res := s.next(t)
	if m.Type != contract.TypeShipmentCreated || res.ShipmentID != id || res.CustomerID != custID || res.TrackingNumber != sandbox.TrackingNumber(id) {
		t.Fatalf("event = %s %+v", m.Type, res)
	}
	if n, err := e.rdb.XLen(context.Background(), e.prefix+contract.ShippingCommands+".dead-letter").Result(); err != nil || n != 0 {
		t.Errorf("dead letters = %d, %v", n, err)
	}
}
