package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

// Shipments implements shipment.Store.
func (s *Store) Shipments(ctx context.Context, ids []string) ([]shipment.Shipment, error) {
	rows, err := s.q.GetShipments(ctx, ids)
	if err != nil {
		return nil, err
	}
	return s.withEvents(ctx, s.q, rows)
}

// ShipmentsByOrders implements shipment.Store.
func (s *Store) ShipmentsByOrders(ctx context.Context, orderIDs []string) ([]shipment.Shipment, error) {
	rows, err := s.q.GetShipmentsByOrders(ctx, orderIDs)
	if err != nil {
		return nil, err
	}
	return s.withEvents(ctx, s.q, rows)
}

// withEvents maps rows to shipments with their tracking events.
func (s *Store) withEvents(ctx context.Context, q *Queries, rows []shipmentRow) ([]shipment.Shipment, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	evs, err := q.GetTrackingEvents(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("tracking events: %w", err)
	}
	byShipment := map[string][]shipment.TrackingEvent{}
	for _, e := range evs {
		byShipment[e.ShipmentID] = append(byShipment[e.ShipmentID], shipment.TrackingEvent{
			Status: shipment.Status(e.Status), Description: e.Description, Location: e.Location, At: e.At.UTC(),
		})
	}
	out := make([]shipment.Shipment, len(rows))
	for i, r := range rows {
		sh, err := fromRow(r)
		if err != nil {
			return nil, err
		}
		sh.Events = byShipment[r.ID]
		out[i] = sh
	}
	return out, nil
}

func fromRow(r shipmentRow) (shipment.Shipment, error) {
	sh := shipment.Shipment{
		ID: r.ID, OrderID: r.OrderID, CustomerID: r.CustomerID, Method: r.Method, Carrier: r.Carrier,
		TrackingNumber: r.TrackingNumber, Status: shipment.Status(r.Status), CancelReason: r.CancelReason,
		LabelVoided: r.LabelVoidedAt != nil, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if err := json.Unmarshal(r.Address, &sh.Address); err != nil {
		return sh, fmt.Errorf("shipment %s: decode address: %w", r.ID, err)
	}
	if err := json.Unmarshal(r.Lines, &sh.Lines); err != nil {
		return sh, fmt.Errorf("shipment %s: decode lines: %w", r.ID, err)
	}
	return sh, nil
}

// Open implements shipment.Store.
func (s *Store) Open(ctx context.Context, sh shipment.Shipment) (*shipment.Shipment, bool, *shipment.Cancellation, error) {
	var (
		out       *shipment.Shipment
		created   bool
		cancelled *shipment.Cancellation
	)
	err := events.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := q.LockOrder(ctx, LockOrderParams{LockClass: orderLockClass, OrderID: sh.OrderID}); err != nil {
			return fmt.Errorf("lock order: %w", err)
		}
		c, err := q.GetCancelledOrder(ctx, sh.OrderID)
		if err == nil {
			cancelled = &shipment.Cancellation{OrderID: c.OrderID, CustomerID: c.CustomerID, Reason: c.Reason, At: c.CancelledAt.UTC()}
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("cancelled order: %w", err)
		}
		address, err := json.Marshal(sh.Address)
		if err != nil {
			return err
		}
		lines, err := json.Marshal(sh.Lines)
		if err != nil {
			return err
		}
		n, err := q.InsertShipment(ctx, InsertShipmentParams{
			ID: sh.ID, OrderID: sh.OrderID, CustomerID: sh.CustomerID, Method: sh.Method, Carrier: sh.Carrier,
			TrackingNumber: sh.TrackingNumber, Status: string(sh.Status), Address: address, Lines: lines,
			CancelReason: sh.CancelReason, CreatedAt: sh.CreatedAt, UpdatedAt: sh.UpdatedAt,
		})
		if err != nil {
			return fmt.Errorf("insert shipment: %w", err)
		}
		if n == 1 {
			created = true
			if err := insertEvents(ctx, q, sh.ID, sh.Events); err != nil {
				return err
			}
			out = &sh
			return nil
		}
		row, err := q.GetShipmentByOrder(ctx, sh.OrderID)
		if err != nil {
			return fmt.Errorf("shipment of order: %w", err)
		}
		shs, err := s.withEvents(ctx, q, []shipmentRow{row})
		if err != nil {
			return err
		}
		out = &shs[0]
		return nil
	})
	if err != nil {
		return nil, false, nil, fmt.Errorf("open shipment for order %s: %w", sh.OrderID, err)
	}
	return out, created, cancelled, nil
}

// Update implements shipment.Store.
func (s *Store) Update(ctx context.Context, id string, fn func(*shipment.Shipment) ([]shipment.Notice, error)) (*shipment.Shipment, error) {
	var out *shipment.Shipment
	err := events.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		row, err := q.LockShipment(ctx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Errorf(apperr.NotFound, "no such shipment")
		}
		if err != nil {
			return fmt.Errorf("lock shipment %s: %w", id, err)
		}
		out, err = s.change(ctx, tx, q, row, fn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CancelOrder implements shipment.Store.
func (s *Store) CancelOrder(ctx context.Context, c shipment.Cancellation, fn func(*shipment.Shipment) ([]shipment.Notice, error)) (*shipment.Shipment, error) {
	var out *shipment.Shipment
	err := events.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.q.WithTx(tx)
		if err := q.LockOrder(ctx, LockOrderParams{LockClass: orderLockClass, OrderID: c.OrderID}); err != nil {
			return fmt.Errorf("lock order: %w", err)
		}
		row, err := q.LockShipmentByOrder(ctx, c.OrderID)
		if err == nil {
			out, err = s.change(ctx, tx, q, row, fn)
			return err
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("lock shipment of order %s: %w", c.OrderID, err)
		}
		err = q.InsertCancelledOrder(ctx, InsertCancelledOrderParams{
			OrderID: c.OrderID, CustomerID: c.CustomerID, Reason: c.Reason, CancelledAt: c.At,
		})
		if err != nil {
			return fmt.Errorf("record cancelled order: %w", err)
		}
		notices, err := fn(nil)
		if err != nil {
			return err
		}
		return s.outbox(ctx, tx, notices)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// change runs fn on the locked shipment row in tx and saves what it did.
func (s *Store) change(ctx context.Context, tx pgx.Tx, q *Queries, row shipmentRow, fn func(*shipment.Shipment) ([]shipment.Notice, error)) (*shipment.Shipment, error) {
	shs, err := s.withEvents(ctx, q, []shipmentRow{row})
	if err != nil {
		return nil, err
	}
	sh := &shs[0]
	before := *sh
	had := len(sh.Events)
	notices, err := fn(sh)
	if err != nil {
		return nil, err
	}
	if sh.Carrier != before.Carrier || sh.TrackingNumber != before.TrackingNumber || sh.Status != before.Status ||
		sh.CancelReason != before.CancelReason || !sh.UpdatedAt.Equal(before.UpdatedAt) {
		err := q.UpdateShipment(ctx, UpdateShipmentParams{
			ID: sh.ID, Carrier: sh.Carrier, TrackingNumber: sh.TrackingNumber, Status: string(sh.Status),
			CancelReason: sh.CancelReason, UpdatedAt: sh.UpdatedAt,
		})
		if err != nil {
			return nil, fmt.Errorf("update shipment %s: %w", sh.ID, err)
		}
	}
	if len(sh.Events) > had {
		if err := insertEvents(ctx, q, sh.ID, sh.Events[had:]); err != nil {
			return nil, err
		}
	}
	if err := s.outbox(ctx, tx, notices); err != nil {
		return nil, err
	}
	return sh, nil
}

func insertEvents(ctx context.Context, q *Queries, shipmentID string, evs []shipment.TrackingEvent) error {
	for _, e := range evs {
		err := q.InsertTrackingEvent(ctx, InsertTrackingEventParams{
			ShipmentID: shipmentID, Status: string(e.Status), Description: e.Description, Location: e.Location, At: e.At,
		})
		if err != nil {
			return fmt.Errorf("insert tracking event: %w", err)
		}
	}
	return nil
}

// StepDue implements shipment.Store.
func (s *Store) StepDue(ctx context.Context, due time.Time, limit int, fn func(*shipment.Shipment) ([]shipment.Notice, error)) (int, error) {
	n := 0
	for n < limit {
		found := false
		err := events.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			q := s.q.WithTx(tx)
			row, err := q.LockDueShipment(ctx, due)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("lock due shipment: %w", err)
			}
			found = true
			_, err = s.change(ctx, tx, q, row, fn)
			return err
		})
		if err != nil {
			return n, err
		}
		if !found {
			return n, nil
		}
		n++
	}
	return n, nil
}

// PendingLabels implements shipment.Store.
func (s *Store) PendingLabels(ctx context.Context, before time.Time, limit int) ([]shipment.Shipment, error) {
	rows, err := s.q.PendingLabels(ctx, PendingLabelsParams{Before: before, Lim: int32(min(limit, 1000))})
	if err != nil {
		return nil, err
	}
	return fromRows(rows)
}

// LabelAttempted implements shipment.Store.
func (s *Store) LabelAttempted(ctx context.Context, id string, at time.Time) error {
	return s.q.SetLabelAttempted(ctx, SetLabelAttemptedParams{ID: id, AttemptedAt: &at})
}

// LabelsToVoid implements shipment.Store.
func (s *Store) LabelsToVoid(ctx context.Context, limit int) ([]shipment.Shipment, error) {
	rows, err := s.q.LabelsToVoid(ctx, int32(min(limit, 1000)))
	if err != nil {
		return nil, err
	}
	return fromRows(rows)
}

// fromRows maps rows to shipments without their tracking events.
func fromRows(rows []shipmentRow) ([]shipment.Shipment, error) {
	out := make([]shipment.Shipment, len(rows))
	for i, r := range rows {
		var err error
		if out[i], err = fromRow(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LabelVoided implements shipment.Store.
func (s *Store) LabelVoided(ctx context.Context, id string, at time.Time) error {
	return s.q.SetLabelVoided(ctx, SetLabelVoidedParams{ID: id, VoidedAt: &at})
}
