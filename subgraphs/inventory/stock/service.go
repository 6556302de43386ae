package stock

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/gid"
)

// Limits on input.
const (
	// MaxPage is the largest page of stock items or ledger entries.
	MaxPage = 100
	// MaxSKUs is the most SKUs one stock lookup may name.
	MaxSKUs = 1000
	// MaxLines is the most lines one reservation may have.
	MaxLines = 500
	// MaxReasonLen is the longest reason, in characters.
	MaxReasonLen = 500
	// MaxDelta is the largest change to on hand one adjustment may make.
	MaxDelta = 1_000_000_000
	// DefaultReservationTTL is how long a reservation lasts when the command
	// does not say.
	DefaultReservationTTL = 15 * time.Minute
	// sweepBatch is how many due reservations one expiry transaction takes.
	sweepBatch = 100
)

// Service is the inventory's use cases. Reading stock levels is public;
// everything else that a person asks for needs ADMIN. The saga's commands
// (Reserve, Commit, Release) and the expiry sweep come from the service's own
// consumer and sweeper, not from people, and check no identity.
type Service struct {
	store   Store
	catalog Catalog
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger
}

// Options are the Service's optional settings.
type Options struct {
	// ReservationTTL is how long a reservation lasts when the command names
	// no expiry; DefaultReservationTTL if zero.
	ReservationTTL time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Log; slog.Default() if nil.
	Log *slog.Logger
}

// NewService returns the inventory service over store, checking adjusted
// SKUs against catalog.
func NewService(store Store, catalog Catalog, o Options) *Service {
	if o.ReservationTTL <= 0 {
		o.ReservationTTL = DefaultReservationTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Service{store: store, catalog: catalog, ttl: o.ReservationTTL, now: o.Now, log: o.Log}
}

// WithStore returns a copy of s that uses store: the saga's commands run
// over a store bound to the consumer's transaction.
func (s *Service) WithStore(store Store) *Service {
	c := *s
	c.store = store
	return &c
}

var skuRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_-]{1,63}$`)

// NormalizeSKU returns sku trimmed and in upper case, the form the catalog
// keeps SKUs in.
func NormalizeSKU(sku string) string { return strings.ToUpper(strings.TrimSpace(sku)) }

// ValidateSKU returns INVALID_INPUT unless sku (normalized) is a well-formed
// SKU: 2 to 64 upper-case letters, digits, '-' or '_', starting with a letter
// or digit, as the catalog requires.
func ValidateSKU(field, sku string) error {
	if !skuRE.MatchString(sku) {
		return apperr.Invalid(field, "invalid SKU %q: want 2 to 64 letters, digits, '-' or '_', starting with a letter or digit", sku)
	}
	return nil
}

// Stock returns the stock of each of skus, in the order given; a SKU that was
// never stocked (or is malformed) reads 0 on hand and 0 reserved. Public.
// Returns INVALID_INPUT for more than MaxSKUs SKUs.
func (s *Service) Stock(ctx context.Context, skus []string) ([]Item, error) {
	if len(skus) > MaxSKUs {
		return nil, apperr.Errorf(apperr.InvalidInput, "at most %d SKUs at once", MaxSKUs)
	}
	out := make([]Item, len(skus))
	var ask []string
	for i, sku := range skus {
		out[i] = Item{SKU: sku}
		if ValidateSKU("sku", sku) == nil {
			ask = append(ask, sku)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	items, err := s.store.Items(ctx, dedupe(ask))
	if err != nil {
		return nil, fmt.Errorf("stock: %w", err)
	}
	bySKU := make(map[string]Item, len(items))
	for _, it := range items {
		bySKU[it.SKU] = it
	}
	for i := range out {
		if it, ok := bySKU[out[i].SKU]; ok {
			out[i] = it
		}
	}
	return out, nil
}

// Item returns the stock item of a SKU.
// Returns UNAUTHENTICATED or FORBIDDEN unless the caller is an admin,
// INVALID_INPUT for a malformed SKU and NOT_FOUND if it was never stocked.
func (s *Service) Item(ctx context.Context, sku string) (Item, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return Item{}, err
	}
	sku = NormalizeSKU(sku)
	if err := ValidateSKU("sku", sku); err != nil {
		return Item{}, err
	}
	items, err := s.store.Items(ctx, []string{sku})
	if err != nil {
		return Item{}, fmt.Errorf("stock item: %w", err)
	}
	if len(items) == 0 {
		return Item{}, apperr.Errorf(apperr.NotFound, "SKU %s was never stocked", sku)
	}
	return items[0], nil
}

// Items returns the stock items of those of skus that were ever stocked,
// in no particular order.
// Returns UNAUTHENTICATED or FORBIDDEN unless the caller is an admin, and
// INVALID_INPUT for more than MaxSKUs SKUs.
func (s *Service) Items(ctx context.Context, skus []string) ([]Item, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	if len(skus) > MaxSKUs {
		return nil, apperr.Errorf(apperr.InvalidInput, "at most %d SKUs at once", MaxSKUs)
	}
	items, err := s.store.Items(ctx, dedupe(skus))
	if err != nil {
		return nil, fmt.Errorf("stock items: %w", err)
	}
	return items, nil
}

// ListItems returns a page of stocked SKUs in SKU order.
// Returns UNAUTHENTICATED or FORBIDDEN unless the caller is an admin, and
// INVALID_INPUT if First is not 1 to MaxPage or LowStockBelow is negative.
func (s *Service) ListItems(ctx context.Context, q ItemQuery) (ItemPage, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return ItemPage{}, err
	}
	if err := validateFirst(q.First); err != nil {
		return ItemPage{}, err
	}
	if q.LowStockBelow != nil && *q.LowStockBelow < 0 {
		return ItemPage{}, apperr.Invalid("lowStockBelow", "lowStockBelow must not be negative")
	}
	page, err := s.store.ListItems(ctx, q)
	if err != nil {
		return ItemPage{}, fmt.Errorf("list stock items: %w", err)
	}
	return page, nil
}

// Ledgers returns a page of the ledger of each of skus, the newest entry
// first.
// Returns UNAUTHENTICATED or FORBIDDEN unless the caller is an admin, and
// INVALID_INPUT if First is not 1 to MaxPage.
func (s *Service) Ledgers(ctx context.Context, skus []string, q LedgerQuery) (map[string]LedgerPage, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := validateFirst(q.First); err != nil {
		return nil, err
	}
	pages, err := s.store.Ledgers(ctx, dedupe(skus), q)
	if err != nil {
		return nil, fmt.Errorf("stock ledger: %w", err)
	}
	return pages, nil
}

// Adjust changes the units on hand of sku by delta and records reason in the
// ledger, with the caller as the actor.
// Returns UNAUTHENTICATED or FORBIDDEN unless the caller is an admin;
// INVALID_INPUT for a malformed SKU, a zero or too large delta, or an empty
// or too long reason; NOT_FOUND if the SKU is not in the catalog; CONFLICT if
// the change would take on hand below zero or below the units reserved.
// Nothing changes when it fails.
func (s *Service) Adjust(ctx context.Context, sku string, delta int, reason string) (Item, error) {
	id, err := auth.RequireAdmin(ctx)
	if err != nil {
		return Item{}, err
	}
	sku = NormalizeSKU(sku)
	reason = strings.TrimSpace(reason)
	switch {
	case ValidateSKU("sku", sku) != nil:
		return Item{}, ValidateSKU("sku", sku)
	case delta == 0:
		return Item{}, apperr.Invalid("delta", "delta must not be 0")
	case delta > MaxDelta || delta < -MaxDelta:
		return Item{}, apperr.Invalid("delta", "delta must be between -%d and %d", MaxDelta, MaxDelta)
	case reason == "":
		return Item{}, apperr.Invalid("reason", "a reason is required")
	case utf8.RuneCountInString(reason) > MaxReasonLen:
		return Item{}, apperr.Invalid("reason", "reason is longer than %d characters", MaxReasonLen)
	}
	known, err := s.catalog.KnownSKUs(ctx, []string{sku})
	if err != nil {
		s.log.WarnContext(ctx, "adjust stock: catalog check failed", "sku", sku, "err", err)
		return Item{}, fmt.Errorf("adjust stock: check catalog: %w", err)
	}
	if !known[sku] {
		return Item{}, &apperr.Error{Code: apperr.NotFound, Field: "sku", Message: fmt.Sprintf("SKU %s is not in the catalog", sku)}
	}
	item, err := s.store.Adjust(ctx, Adjustment{
		SKU: sku, Delta: delta, Reason: reason, Actor: gid.Encode("User", id.UserID), Now: s.now(),
	})
	if err != nil {
		return Item{}, fmt.Errorf("adjust stock: %w", err)
	}
	s.log.InfoContext(ctx, "stock adjusted", "sku", sku, "delta", delta, "on_hand", item.OnHand, "actor", id.UserID)
	return item, nil
}

// Reservation returns the reservation of the order with local ID orderID.
// Returns UNAUTHENTICATED or FORBIDDEN unless the caller is an admin, and
// NOT_FOUND if the order has none.
func (s *Service) Reservation(ctx context.Context, orderID string) (Reservation, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return Reservation{}, err
	}
	r, err := s.store.Reservation(ctx, orderID)
	if err != nil {
		return Reservation{}, fmt.Errorf("reservation: %w", err)
	}
	return r, nil
}

// Reservations returns the reservations with the given IDs that exist.
// Returns UNAUTHENTICATED or FORBIDDEN unless the caller is an admin.
func (s *Service) Reservations(ctx context.Context, ids []string) ([]Reservation, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	rs, err := s.store.Reservations(ctx, dedupe(ids))
	if err != nil {
		return nil, fmt.Errorf("reservations: %w", err)
	}
	return rs, nil
}

// Reserve handles the saga's ReserveStock: it reserves every line of the
// order or none, until cmd.ExpiresAt (or the default TTL from now). A command
// that cannot be honoured (no lines, a malformed SKU, a quantity below 1, an
// expiry in the past) is recorded as REJECTED with the reason, so the saga
// gets its answer. Repeating it for the same order reserves nothing again.
// Returns INVALID_INPUT if the command names no order.
func (s *Service) Reserve(ctx context.Context, cmd contract.ReserveStock) (Outcome, error) {
	orderID := strings.TrimSpace(cmd.OrderID)
	if orderID == "" {
		return Outcome{}, apperr.Invalid("orderId", "ReserveStock names no order")
	}
	now := s.now()
	req := ReserveRequest{OrderID: orderID, ExpiresAt: cmd.ExpiresAt, Now: now}
	if req.ExpiresAt.IsZero() {
		req.ExpiresAt = now.Add(s.ttl)
	}
	req.Lines, req.Invalid = normalizeLines(cmd.Lines)
	if req.Invalid == "" && !req.ExpiresAt.After(now) {
		req.Invalid = fmt.Sprintf("the reservation's expiry %s has passed", req.ExpiresAt.UTC().Format(time.RFC3339))
	}
	out, err := s.store.Reserve(ctx, req)
	if err != nil {
		return Outcome{}, fmt.Errorf("reserve stock for order %s: %w", orderID, err)
	}
	s.logOutcome(ctx, "reserve", out)
	return out, nil
}

// Commit handles the saga's CommitStock: the order's ACTIVE reservation
// becomes an allocation (see Store.Commit for the other cases).
// Returns INVALID_INPUT if the command names no order.
func (s *Service) Commit(ctx context.Context, cmd contract.CommitStock) (Outcome, error) {
	orderID := strings.TrimSpace(cmd.OrderID)
	if orderID == "" {
		return Outcome{}, apperr.Invalid("orderId", "CommitStock names no order")
	}
	out, err := s.store.Commit(ctx, CommitRequest{OrderID: orderID, Now: s.now()})
	if err != nil {
		return Outcome{}, fmt.Errorf("commit stock for order %s: %w", orderID, err)
	}
	s.logOutcome(ctx, "commit", out)
	return out, nil
}

// Release handles the saga's ReleaseStock: the order's reservation is
// released, or with Restock its committed units go back on hand (see
// Store.Release for the other cases).
// Returns INVALID_INPUT if the command names no order.
func (s *Service) Release(ctx context.Context, cmd contract.ReleaseStock) (Outcome, error) {
	orderID := strings.TrimSpace(cmd.OrderID)
	if orderID == "" {
		return Outcome{}, apperr.Invalid("orderId", "ReleaseStock names no order")
	}
	reason := strings.TrimSpace(cmd.Reason)
	if reason == "" {
		reason = "released by checkout"
	}
	if n := []rune(reason); len(n) > MaxReasonLen {
		reason = string(n[:MaxReasonLen])
	}
	out, err := s.store.Release(ctx, ReleaseRequest{OrderID: orderID, Reason: reason, Restock: cmd.Restock, Now: s.now()})
	if err != nil {
		return Outcome{}, fmt.Errorf("release stock for order %s: %w", orderID, err)
	}
	s.logOutcome(ctx, "release", out)
	return out, nil
}

// ExpireDue expires every ACTIVE reservation whose expiry has passed, in
// batches, and returns how many it expired.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	total := 0
	for {
		outs, err := s.store.ExpireDue(ctx, s.now(), sweepBatch)
		if err != nil {
			return total, fmt.Errorf("expire reservations: %w", err)
		}
		total += len(outs)
		for _, o := range outs {
			s.log.InfoContext(ctx, "reservation expired", "order_id", o.Reservation.OrderID, "expires_at", o.Reservation.ExpiresAt)
		}
		if len(outs) < sweepBatch || ctx.Err() != nil {
			return total, nil
		}
	}
}

func (s *Service) logOutcome(ctx context.Context, op string, o Outcome) {
	s.log.InfoContext(ctx, "stock "+op, "order_id", o.Reservation.OrderID, "status", o.Reservation.Status,
		"changed", o.Changed, "answer", o.Answer().Type)
}

// EventFor returns the event that tells a reservation's state: what a
// repeated command is answered with.
func EventFor(r Reservation) Event {
	res := contract.StockResult{OrderID: r.OrderID}
	var typ string
	switch r.Status {
	case StatusActive:
		typ, res.ExpiresAt = contract.TypeStockReserved, r.ExpiresAt
	case StatusCommitted:
		typ = contract.TypeStockCommitted
	case StatusReleased:
		typ, res.Reason = contract.TypeStockReleased, r.Reason
	case StatusExpired:
		typ, res.ExpiresAt, res.Reason = contract.TypeReservationExpired, r.ExpiresAt, r.Reason
	default:
		typ, res.Reason = contract.TypeStockRejected, r.Reason
		for _, sh := range r.Shortages {
			res.Shortages = append(res.Shortages, contract.Shortage{SKU: sh.SKU, Requested: sh.Requested, Available: sh.Available})
		}
	}
	return Event{Type: typ, Result: res}
}

// Rejection returns the StockRejected event that refuses a command for an
// order, with the reason.
func Rejection(orderID, reason string) Event {
	return Event{Type: contract.TypeStockRejected, Result: contract.StockResult{OrderID: orderID, Reason: reason}}
}

// ShortageReason describes shortages for people: "insufficient stock: A
// (requested 3, available 1), B (requested 1, available 0)".
func ShortageReason(shortages []Shortage) string {
	parts := make([]string, len(shortages))
	for i, sh := range shortages {
		parts[i] = fmt.Sprintf("%s (requested %d, available %d)", sh.SKU, sh.Requested, sh.Available)
	}
	return "insufficient stock: " + strings.Join(parts, ", ")
}

// normalizeLines merges the lines of the same SKU and sorts them by SKU (the
// order every transaction locks stock rows in, so that none deadlock). It
// returns why the lines cannot be reserved, if they cannot.
func normalizeLines(lines []contract.Line) ([]Line, string) {
	if len(lines) == 0 {
		return nil, "the order has no lines"
	}
	if len(lines) > MaxLines {
		return nil, fmt.Sprintf("the order has %d lines; at most %d", len(lines), MaxLines)
	}
	qty := map[string]int{}
	var out []Line
	for i, l := range lines {
		sku := NormalizeSKU(l.SKU)
		if ValidateSKU("sku", sku) != nil {
			return nil, fmt.Sprintf("line %d: invalid SKU %q", i+1, l.SKU)
		}
		if l.Quantity < 1 || l.Quantity > MaxDelta {
			return nil, fmt.Sprintf("line %d: quantity %d of %s is not between 1 and %d", i+1, l.Quantity, sku, MaxDelta)
		}
		if _, ok := qty[sku]; !ok {
			out = append(out, Line{SKU: sku})
		}
		qty[sku] += l.Quantity
		if qty[sku] > MaxDelta {
			return nil, fmt.Sprintf("the order asks for more than %d of %s", MaxDelta, sku)
		}
	}
	for i := range out {
		out[i].Quantity = qty[out[i].SKU]
	}
	slices.SortFunc(out, func(a, b Line) int { return cmp.Compare(a.SKU, b.SKU) })
	return out, ""
}

func validateFirst(first int) error {
	if first < 1 || first > MaxPage {
		return apperr.Invalid("first", "first must be between 1 and %d", MaxPage)
	}
	return nil
}

func dedupe(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
