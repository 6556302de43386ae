package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
)

// Reservation returns the reservation of an order.
// Returns NOT_FOUND if the order has none.
func (s *Store) Reservation(ctx context.Context, orderID string) (stock.Reservation, error) {
	q := New(s.db)
	row, err := q.GetReservationByOrder(ctx, orderID)
	if errors.Is(err, pgx.ErrNoRows) {
		return stock.Reservation{}, apperr.Errorf(apperr.NotFound, "order %s has no reservation", orderID)
	}
	if err != nil {
		return stock.Reservation{}, fmt.Errorf("get reservation: %w", err)
	}
	rs, err := withLines(ctx, q, []reservationRow{row})
	if err != nil {
		return stock.Reservation{}, err
	}
	return rs[0], nil
}

// Reservations returns the reservations with the given IDs that exist; IDs
// that are not UUIDs name none.
func (s *Store) Reservations(ctx context.Context, ids []string) ([]stock.Reservation, error) {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, err := uuid.Parse(id); err == nil {
			valid = append(valid, id)
		}
	}
	if len(valid) == 0 {
		return nil, nil
	}
	q := New(s.db)
	rows, err := q.GetReservations(ctx, valid)
	if err != nil {
		return nil, fmt.Errorf("get reservations: %w", err)
	}
	return withLines(ctx, q, rows)
}

// Reserve reserves every line of r or none. See stock.Store.
func (s *Store) Reserve(ctx context.Context, r stock.ReserveRequest) (stock.Outcome, error) {
	var out stock.Outcome
	err := s.inTx(ctx, func(q *Queries, tx pgx.Tx) error {
		// A repeated command: answer from the recorded state.
		existing, err := q.GetReservationByOrder(ctx, r.OrderID)
		if err == nil {
			return s.answerRecorded(ctx, q, tx, r.Now, existing, &out)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("get reservation: %w", err)
		}

		status, reason := stock.StatusActive, r.Invalid
		var shortages []stock.Shortage
		var locked map[string]stockItemRow
		if reason != "" {
			status = stock.StatusRejected
		} else {
			// Lock the lines' stock rows (in SKU order) and see what is short.
			rows, err := q.LockItems(ctx, skusOf(r.Lines))
			if err != nil {
				return fmt.Errorf("lock stock: %w", err)
			}
			locked = bySKU(rows)
			for _, l := range r.Lines {
				if avail := locked[l.SKU].available(); avail < l.Quantity {
					shortages = append(shortages, stock.Shortage{SKU: l.SKU, Requested: l.Quantity, Available: avail})
				}
			}
			if len(shortages) > 0 {
				status, reason = stock.StatusRejected, stock.ShortageReason(shortages)
			}
		}
		shortJSON, err := json.Marshal(shortagesJSON(shortages))
		if err != nil {
			return err
		}
		row, err := q.InsertReservation(ctx, InsertReservationParams{
			OrderID: r.OrderID, Status: string(status), Reason: reason, Shortages: shortJSON,
			ExpiresAt: r.ExpiresAt, Now: r.Now,
		})
		if errors.Is(err, pgx.ErrNoRows) {
			// Another transaction recorded the order's reservation meanwhile.
			existing, err := q.GetReservationByOrder(ctx, r.OrderID)
			if err != nil {
				return fmt.Errorf("get reservation: %w", err)
			}
			return s.answerRecorded(ctx, q, tx, r.Now, existing, &out)
		}
		if err != nil {
			return fmt.Errorf("insert reservation: %w", err)
		}
		if len(r.Lines) > 0 {
			skus, qty := linesParams(r.Lines)
			if err := q.InsertReservationLines(ctx, InsertReservationLinesParams{ReservationID: row.ID, Skus: skus, Quantities: qty}); err != nil {
				return fmt.Errorf("insert reservation lines: %w", err)
			}
		}
		if status == stock.StatusActive {
			skus, qty := linesParams(r.Lines)
			after, err := q.ReserveItems(ctx, ReserveItemsParams{Now: r.Now, Skus: skus, Quantities: qty})
			if err != nil {
				return fmt.Errorf("reserve stock: %w", err)
			}
			if len(after) != len(r.Lines) {
				// Impossible while the rows are locked; refuse rather than
				// reserve part of the order.
				return fmt.Errorf("reserve stock: %d of %d lines reserved", len(after), len(r.Lines))
			}
			if err := writeLedger(ctx, q, ledgerChange{
				kind: stock.KindReservation, reason: "reserved for checkout", orderID: r.OrderID,
				actor: stock.ActorCheckout, at: r.Now, lines: r.Lines, sign: +1, after: after,
			}); err != nil {
				return err
			}
		}
		res, err := toReservation(row, r.Lines)
		if err != nil {
			return err
		}
		out = stock.Outcome{Reservation: res, Changed: true, Events: []stock.Event{stock.EventFor(res)}}
		return s.publish(ctx, tx, r.Now, out.Events...)
	})
	return out, err
}

// Commit turns an order's ACTIVE reservation into an allocation. See
// stock.Store.
func (s *Store) Commit(ctx context.Context, r stock.CommitRequest) (stock.Outcome, error) {
	var out stock.Outcome
	err := s.inTx(ctx, func(q *Queries, tx pgx.Tx) error {
		row, err := q.LockReservationByOrder(ctx, r.OrderID)
		if errors.Is(err, pgx.ErrNoRows) {
			out = stock.Outcome{
				Reservation: stock.Reservation{OrderID: r.OrderID},
				Events:      []stock.Event{stock.Rejection(r.OrderID, "the order has no reservation to commit")},
			}
			return s.publish(ctx, tx, r.Now, out.Events...)
		}
		if err != nil {
			return fmt.Errorf("lock reservation: %w", err)
		}
		res, err := loadLines(ctx, q, row)
		if err != nil {
			return err
		}
		out.Reservation = res
		switch res.Status {
		case stock.StatusCommitted:
			out.Events = []stock.Event{stock.EventFor(res)}
		case stock.StatusActive:
			if !r.Now.Before(res.ExpiresAt) {
				// Past its expiry but not yet swept: it expires now.
				if err := s.expire(ctx, q, r.Now, &out.Reservation); err != nil {
					return err
				}
				out.Changed = true
				out.Events = []stock.Event{
					stock.EventFor(out.Reservation),
					stock.Rejection(r.OrderID, fmt.Sprintf("the reservation expired at %s", fmtTime(res.ExpiresAt))),
				}
				break
			}
			if err := s.move(ctx, q, res, stock.KindCommit, "committed: order confirmed", r.Now); err != nil {
				return err
			}
			if err := setStatus(ctx, q, &out.Reservation, stock.StatusCommitted, "", r.Now); err != nil {
				return err
			}
			out.Changed = true
			out.Events = []stock.Event{stock.EventFor(out.Reservation)}
		case stock.StatusExpired:
			out.Events = []stock.Event{stock.Rejection(r.OrderID, fmt.Sprintf("the reservation expired at %s", fmtTime(res.ExpiresAt)))}
		case stock.StatusReleased:
			out.Events = []stock.Event{stock.Rejection(r.OrderID, "the reservation was released: "+res.Reason)}
		default:
			out.Events = []stock.Event{stock.Rejection(r.OrderID, "the reservation was rejected: "+res.Reason)}
		}
		return s.publish(ctx, tx, r.Now, out.Events...)
	})
	return out, err
}

// Release releases an order's reservation. See stock.Store.
func (s *Store) Release(ctx context.Context, r stock.ReleaseRequest) (stock.Outcome, error) {
	var out stock.Outcome
	err := s.inTx(ctx, func(q *Queries, tx pgx.Tx) error {
		row, err := q.LockReservationByOrder(ctx, r.OrderID)
		if errors.Is(err, pgx.ErrNoRows) {
			// Nothing reserved yet: record the release, so that a ReserveStock
			// arriving late for this order reserves nothing.
			row, err = q.InsertReservation(ctx, InsertReservationParams{
				OrderID: r.OrderID, Status: string(stock.StatusReleased), Reason: r.Reason,
				Shortages: []byte("[]"), ExpiresAt: r.Now, Now: r.Now,
			})
			if err == nil {
				res, err := toReservation(row, nil)
				if err != nil {
					return err
				}
				out = stock.Outcome{Reservation: res, Changed: true, Events: []stock.Event{stock.EventFor(res)}}
				return s.publish(ctx, tx, r.Now, out.Events...)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("insert reservation: %w", err)
			}
			// A reservation was recorded meanwhile: release that one.
			row, err = q.LockReservationByOrder(ctx, r.OrderID)
		}
		if err != nil {
			return fmt.Errorf("lock reservation: %w", err)
		}
		res, err := loadLines(ctx, q, row)
		if err != nil {
			return err
		}
		out.Reservation = res
		released := func(reason string) []stock.Event {
			ev := stock.EventFor(stock.Reservation{OrderID: r.OrderID, Status: stock.StatusReleased, Reason: reason})
			return []stock.Event{ev}
		}
		switch {
		case res.Status == stock.StatusActive:
			if err := s.move(ctx, q, res, stock.KindRelease, r.Reason, r.Now); err != nil {
				return err
			}
			if err := setStatus(ctx, q, &out.Reservation, stock.StatusReleased, r.Reason, r.Now); err != nil {
				return err
			}
			out.Changed, out.Events = true, released(r.Reason)
		case res.Status == stock.StatusCommitted && r.Restock:
			if err := s.move(ctx, q, res, stock.KindRestock, r.Reason, r.Now); err != nil {
				return err
			}
			if err := setStatus(ctx, q, &out.Reservation, stock.StatusReleased, r.Reason, r.Now); err != nil {
				return err
			}
			out.Changed, out.Events = true, released(r.Reason)
		case res.Status == stock.StatusCommitted:
			out.Events = []stock.Event{stock.Rejection(r.OrderID,
				"the reservation is committed: release it with restock to return its units")}
		case res.Status == stock.StatusReleased:
			out.Events = released(res.Reason)
		case res.Status == stock.StatusExpired:
			out.Events = released("nothing to release: the reservation had expired")
		default:
			out.Events = released("nothing to release: the reservation was rejected")
		}
		return s.publish(ctx, tx, r.Now, out.Events...)
	})
	return out, err
}

// ExpireDue expires up to limit due ACTIVE reservations. See stock.Store.
func (s *Store) ExpireDue(ctx context.Context, now time.Time, limit int) ([]stock.Outcome, error) {
	var outs []stock.Outcome
	err := s.inTx(ctx, func(q *Queries, tx pgx.Tx) error {
		rows, err := q.LockDueReservations(ctx, LockDueReservationsParams{Now: now, Lim: int32(limit)})
		if err != nil {
			return fmt.Errorf("lock due reservations: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		rs, err := withLines(ctx, q, rows)
		if err != nil {
			return err
		}
		// Lock every stock row involved in SKU order first, so that this
		// transaction, which releases several reservations, cannot deadlock
		// with one that locks the same rows.
		var skus []string
		for _, r := range rs {
			skus = append(skus, skusOf(r.Lines)...)
		}
		slices.Sort(skus)
		if _, err := q.LockItems(ctx, slices.Compact(skus)); err != nil {
			return fmt.Errorf("lock stock: %w", err)
		}
		evs := make([]stock.Event, 0, len(rs))
		for i := range rs {
			if err := s.expire(ctx, q, now, &rs[i]); err != nil {
				return err
			}
			ev := stock.EventFor(rs[i])
			outs = append(outs, stock.Outcome{Reservation: rs[i], Changed: true, Events: []stock.Event{ev}})
			evs = append(evs, ev)
		}
		return s.publish(ctx, tx, now, evs...)
	})
	if err != nil {
		return nil, err
	}
	return outs, nil
}

// expire releases an ACTIVE reservation's units and marks it EXPIRED; the
// reservation row must be locked.
func (s *Store) expire(ctx context.Context, q *Queries, now time.Time, res *stock.Reservation) error {
	reason := fmt.Sprintf("not confirmed before %s", fmtTime(res.ExpiresAt))
	if err := s.move(ctx, q, *res, stock.KindExpiry, reason, now); err != nil {
		return err
	}
	return setStatus(ctx, q, res, stock.StatusExpired, reason, now)
}

// move applies a reservation's lines to the stock (commit, release, expiry or
// restock) with guarded updates, and writes the ledger.
func (s *Store) move(ctx context.Context, q *Queries, res stock.Reservation, kind stock.Kind, reason string, now time.Time) error {
	if len(res.Lines) == 0 {
		return nil
	}
	skus, qty := linesParams(res.Lines)
	if _, err := q.LockItems(ctx, skus); err != nil {
		return fmt.Errorf("lock stock: %w", err)
	}
	var after []stockItemRow
	var err error
	sign := -1
	switch kind {
	case stock.KindCommit:
		after, err = q.CommitItems(ctx, CommitItemsParams{Now: now, Skus: skus, Quantities: qty})
	case stock.KindRestock:
		sign = +1
		after, err = q.RestockItems(ctx, RestockItemsParams{Now: now, Skus: skus, Quantities: qty})
	default: // release, expiry
		after, err = q.ReleaseItems(ctx, ReleaseItemsParams{Now: now, Skus: skus, Quantities: qty})
	}
	if err != nil {
		return fmt.Errorf("%s stock: %w", kind, err)
	}
	if len(after) != len(res.Lines) {
		return fmt.Errorf("%s stock of order %s: %d of %d lines applied; stock and reservation disagree",
			kind, res.OrderID, len(after), len(res.Lines))
	}
	actor := stock.ActorCheckout
	if kind == stock.KindExpiry {
		actor = stock.ActorExpiry
	}
	return writeLedger(ctx, q, ledgerChange{
		kind: kind, reason: reason, orderID: res.OrderID, actor: actor, at: now,
		lines: res.Lines, sign: sign, after: after,
	})
}

// ledgerChange is one change to several SKUs, for writeLedger.
type ledgerChange struct {
	kind    stock.Kind
	reason  string
	orderID string
	actor   string
	at      time.Time
	lines   []stock.Line
	sign    int // of each line's quantity in the entry's delta
	after   []stockItemRow
}

func writeLedger(ctx context.Context, q *Queries, c ledgerChange) error {
	after := bySKU(c.after)
	p := InsertLedgerParams{Kind: string(c.kind), Reason: c.reason, OrderID: c.orderID, Actor: c.actor, At: c.at}
	for _, l := range c.lines {
		a := after[l.SKU]
		p.Skus = append(p.Skus, l.SKU)
		p.Deltas = append(p.Deltas, int32(c.sign*l.Quantity))
		p.OnHandAfter = append(p.OnHandAfter, a.OnHand)
		p.ReservedAfter = append(p.ReservedAfter, a.Reserved)
	}
	if err := q.InsertLedger(ctx, p); err != nil {
		return fmt.Errorf("write ledger: %w", err)
	}
	return nil
}

func setStatus(ctx context.Context, q *Queries, res *stock.Reservation, status stock.Status, reason string, now time.Time) error {
	if err := q.SetReservationStatus(ctx, SetReservationStatusParams{Status: string(status), Reason: reason, Now: now, ID: res.ID}); err != nil {
		return fmt.Errorf("set reservation status: %w", err)
	}
	res.Status, res.Reason, res.UpdatedAt = status, reason, now
	return nil
}

// answerRecorded answers a repeated ReserveStock from the reservation's
// recorded state, changing nothing.
func (s *Store) answerRecorded(ctx context.Context, q *Queries, tx pgx.Tx, now time.Time, row reservationRow, out *stock.Outcome) error {
	res, err := loadLines(ctx, q, row)
	if err != nil {
		return err
	}
	*out = stock.Outcome{Reservation: res, Events: []stock.Event{stock.EventFor(res)}}
	return s.publish(ctx, tx, now, out.Events...)
}

func loadLines(ctx context.Context, q *Queries, row reservationRow) (stock.Reservation, error) {
	rs, err := withLines(ctx, q, []reservationRow{row})
	if err != nil {
		return stock.Reservation{}, err
	}
	return rs[0], nil
}

// withLines returns the reservations of rows with their lines, in one query.
func withLines(ctx context.Context, q *Queries, rows []reservationRow) ([]stock.Reservation, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	lrows, err := q.GetReservationLines(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("get reservation lines: %w", err)
	}
	lines := map[string][]stock.Line{}
	for _, l := range lrows {
		lines[l.ReservationID] = append(lines[l.ReservationID], stock.Line{SKU: l.Sku, Quantity: int(l.Quantity)})
	}
	out := make([]stock.Reservation, len(rows))
	for i, r := range rows {
		if out[i], err = toReservation(r, lines[r.ID]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type shortageJSON struct {
	SKU       string `json:"sku"`
	Requested int    `json:"requested"`
	Available int    `json:"available"`
}

func shortagesJSON(ss []stock.Shortage) []shortageJSON {
	out := make([]shortageJSON, len(ss))
	for i, s := range ss {
		out[i] = shortageJSON(s)
	}
	return out
}

func toReservation(r reservationRow, lines []stock.Line) (stock.Reservation, error) {
	var short []shortageJSON
	if len(r.Shortages) > 0 {
		if err := json.Unmarshal(r.Shortages, &short); err != nil {
			return stock.Reservation{}, fmt.Errorf("reservation %s: decode shortages: %w", r.ID, err)
		}
	}
	res := stock.Reservation{
		ID: r.ID, OrderID: r.OrderID, Lines: lines, Status: stock.Status(r.Status), Reason: r.Reason,
		ExpiresAt: r.ExpiresAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	for _, s := range short {
		res.Shortages = append(res.Shortages, stock.Shortage(s))
	}
	return res, nil
}

func (r stockItemRow) available() int { return int(r.OnHand - r.Reserved) }

func bySKU(rows []stockItemRow) map[string]stockItemRow {
	m := make(map[string]stockItemRow, len(rows))
	for _, r := range rows {
		m[r.Sku] = r
	}
	return m
}

func skusOf(lines []stock.Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.SKU
	}
	return out
}

func linesParams(lines []stock.Line) ([]string, []int32) {
	skus := make([]string, len(lines))
	qty := make([]int32, len(lines))
	for i, l := range lines {
		skus[i], qty[i] = l.SKU, int32(l.Quantity)
	}
	return skus, qty
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
