package shipment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/money"
)

// Limits and defaults.
const (
	// MaxReasonLen is the longest cancellation reason, in characters.
	MaxReasonLen = 500
	// MaxLines is the most lines one shipment may carry.
	MaxLines = 500
	// maxField is the longest order ID, customer ID, SKU or address field.
	maxField = 200
	// DefaultCarrierTimeout bounds one call to the carrier.
	DefaultCarrierTimeout = 15 * time.Second
	// LabelRetry is how long after a failed attempt RetryLabels asks the
	// carrier again for the label of a PENDING shipment.
	LabelRetry = 15 * time.Second
	// stepBatch is how many due shipments one StepDue run moves on.
	stepBatch = 100
	// voidBatch is how many labels one VoidLabels or RetryLabels run
	// handles.
	voidBatch = 20
	// defaultCancelReason is the reason of a CancelShipment that gives none.
	defaultCancelReason = "order cancelled"
)

// Config configures a Service.
type Config struct {
	Store   Store
	Carrier Carrier
	// Step is the sandbox carrier's schedule: a shipment with a label moves
	// one status on (LABEL_CREATED → IN_TRANSIT → OUT_FOR_DELIVERY →
	// DELIVERED) once it has not changed for Step, when StepDue runs. Zero:
	// shipments move only by the admin's advanceShipment.
	Step time.Duration
	// CarrierTimeout bounds one carrier call (DefaultCarrierTimeout if 0).
	CarrierTimeout time.Duration
	Log            *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NewID returns a new shipment ID; nil means random UUIDs (version 7).
	NewID func() string
}

// Service answers the checkout saga's shipping commands, the admins'
// shipment changes and everybody's reads, deciding who may see what.
// Shipping methods are public; a customer sees their own shipments; admins
// (and other services) see every shipment and change them.
type Service struct {
	store   Store
	carrier Carrier
	step    time.Duration
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
	newID   func() string
}

// NewService returns a Service.
func NewService(c Config) *Service {
	s := &Service{store: c.Store, carrier: c.Carrier, step: c.Step, timeout: c.CarrierTimeout, log: c.Log, now: c.Now, newID: c.NewID}
	if s.timeout <= 0 {
		s.timeout = DefaultCarrierTimeout
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	return s
}

// at returns the current time as the store keeps it.
func (s *Service) at() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Methods returns the shipping methods with their prices in currency, in
// display order. Public.
// Returns INVALID_INPUT if currency is not an ISO-4217 code or shipping is
// not priced in it.
func (s *Service) Methods(ctx context.Context, currency string) ([]Method, error) {
	if err := money.ValidateCurrency(currency); err != nil {
		return nil, err
	}
	ms, err := s.store.Methods(ctx, currency)
	if err != nil {
		return nil, fmt.Errorf("shipping methods: %w", err)
	}
	if len(ms) > 0 {
		return ms, nil
	}
	cs, err := s.store.Currencies(ctx)
	if err != nil {
		return nil, fmt.Errorf("shipping currencies: %w", err)
	}
	return nil, apperr.Invalid("currency", "shipping is not priced in %s; use one of %s", currency, strings.Join(cs, ", "))
}

// Create answers the saga's CreateShipment command: it records the order's
// shipment (one per order, however often the command comes), has the
// carrier label it and publishes ShipmentCreated. A command for an order
// that already has a shipment past PENDING is answered with where that
// shipment stands (see Shipment.StateNotice); for an order cancelled before
// it had a shipment, with ShipmentCancelled. If the carrier refuses the
// parcel, the shipment is CANCELLED with the carrier's reason
// (ShipmentCancelled). It returns the order's shipment, or nil for a
// cancelled order.
//
// The carrier is called outside any transaction: the shipment is recorded
// first (PENDING), and the carrier is idempotent per shipment ID, so a crash
// is safe — the command is delivered again. If the carrier cannot be
// reached, the shipment stays PENDING and RetryLabels asks again later; the
// saga hears ShipmentCreated then.
//
// Returns INVALID_INPUT for a malformed command (answered with
// ShipmentCancelled when it names an order).
func (s *Service) Create(ctx context.Context, cmd contract.CreateShipment) (*Shipment, error) {
	sh, verr := s.validateCreate(ctx, cmd)
	if verr != nil {
		if apperr.Code(verr) == apperr.Internal {
			return nil, verr
		}
		if strings.TrimSpace(cmd.OrderID) != "" {
			n := Notice{Type: contract.TypeShipmentCancelled, Result: contract.ShipmentResult{
				OrderID: cmd.OrderID, CustomerID: cmd.CustomerID, Reason: "invalid shipment request: " + apperr.Message(verr),
			}}
			if err := s.store.Publish(ctx, n); err != nil {
				return nil, fmt.Errorf("create shipment: %w", err)
			}
		}
		return nil, verr
	}
	got, created, cancelled, err := s.store.Open(ctx, sh)
	if err != nil {
		return nil, fmt.Errorf("create shipment: %w", err)
	}
	if cancelled != nil {
		n := Notice{Type: contract.TypeShipmentCancelled, Result: contract.ShipmentResult{
			OrderID: cmd.OrderID, CustomerID: cmd.CustomerID, Reason: cancelled.Reason,
		}}
		if err := s.store.Publish(ctx, n); err != nil {
			return nil, fmt.Errorf("create shipment: %w", err)
		}
		return nil, nil
	}
	if !created && got.Status != StatusPending {
		if err := s.store.Publish(ctx, got.StateNotice("")); err != nil {
			return nil, fmt.Errorf("create shipment: answer again: %w", err)
		}
		return got, nil
	}
	out, err := s.label(ctx, got, true)
	if errors.As(err, new(carrierError)) {
		// The command is accepted: the shipment is recorded, and
		// RetryLabels asks the carrier again later.
		s.log.WarnContext(ctx, "carrier unavailable; the label will be asked for again", "shipment", got.ID, "order", got.OrderID, "err", err)
		return got, nil
	}
	return out, err
}

var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

// validateCreate returns the PENDING shipment cmd asks for.
func (s *Service) validateCreate(ctx context.Context, cmd contract.CreateShipment) (Shipment, error) {
	if err := text("orderId", cmd.OrderID, true); err != nil {
		return Shipment{}, err
	}
	if err := text("customerId", cmd.CustomerID, true); err != nil {
		return Shipment{}, err
	}
	method := strings.ToUpper(strings.TrimSpace(cmd.Method))
	if method == "" {
		return Shipment{}, apperr.Invalid("method", "shipping method is required")
	}
	ok, err := s.store.MethodActive(ctx, method)
	if err != nil {
		return Shipment{}, fmt.Errorf("check shipping method: %w", err)
	}
	if !ok {
		return Shipment{}, apperr.Invalid("method", "unknown shipping method %q", cmd.Method)
	}
	a := cmd.Address
	addr := Address{
		Recipient: strings.TrimSpace(a.Recipient), Line1: strings.TrimSpace(a.Line1), Line2: strings.TrimSpace(a.Line2),
		City: strings.TrimSpace(a.City), Region: strings.TrimSpace(a.Region), PostalCode: strings.TrimSpace(a.PostalCode),
		Country: strings.ToUpper(strings.TrimSpace(a.Country)), Phone: strings.TrimSpace(a.Phone),
	}
	for _, f := range []struct {
		name, value string
		required    bool
	}{
		{"address.recipient", addr.Recipient, true}, {"address.line1", addr.Line1, true}, {"address.line2", addr.Line2, false},
		{"address.city", addr.City, true}, {"address.region", addr.Region, false}, {"address.postalCode", addr.PostalCode, true},
		{"address.phone", addr.Phone, false},
	} {
		if err := text(f.name, f.value, f.required); err != nil {
			return Shipment{}, err
		}
	}
	if !countryRE.MatchString(addr.Country) {
		return Shipment{}, apperr.Invalid("address.country", "country must be an ISO 3166-1 alpha-2 code such as US, got %q", a.Country)
	}
	if len(cmd.Lines) == 0 || len(cmd.Lines) > MaxLines {
		return Shipment{}, apperr.Invalid("lines", "a shipment carries 1 to %d lines, got %d", MaxLines, len(cmd.Lines))
	}
	lines := make([]Line, len(cmd.Lines))
	for i, l := range cmd.Lines {
		if err := text("lines.sku", l.SKU, true); err != nil {
			return Shipment{}, err
		}
		if l.Quantity <= 0 {
			return Shipment{}, apperr.Invalid("lines.quantity", "quantity of %s must be positive, got %d", l.SKU, l.Quantity)
		}
		lines[i] = Line{SKU: strings.TrimSpace(l.SKU), Quantity: l.Quantity}
	}
	now := s.at()
	sh := Shipment{
		ID: s.newID(), OrderID: cmd.OrderID, CustomerID: cmd.CustomerID, Method: method,
		Address: addr, Lines: lines, CreatedAt: now,
	}
	sh.record(StatusPending, "Shipment requested ("+method+")", "", now)
	return sh, nil
}

// text returns INVALID_INPUT if v is empty (when required) or too long.
func text(field, v string, required bool) error {
	if required && strings.TrimSpace(v) == "" {
		return apperr.Invalid(field, "%s is required", field)
	}
	if utf8.RuneCountInString(v) > maxField {
		return apperr.Invalid(field, "%s is longer than %d characters", field, maxField)
	}
	return nil
}

// label has the carrier label the PENDING shipment sh and records the label
// (LABEL_CREATED, ShipmentCreated). If the carrier refuses, sh is cancelled
// with its reason (ShipmentCancelled). If sh moved on meanwhile (another
// delivery of the command labelled it, an admin cancelled it), sh is left as
// it is, a label made for a cancelled shipment is voided, and, if answer is
// set, the saga is told where sh stands.
func (s *Service) label(ctx context.Context, sh *Shipment, answer bool) (*Shipment, error) {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	tn, err := s.carrier.CreateLabel(cctx, LabelRequest{Key: sh.ID, Method: sh.Method, Address: sh.Address, Lines: sh.Lines})
	cancel()
	if r, ok := AsRefused(err); ok {
		s.log.InfoContext(ctx, "carrier refused a parcel", "shipment", sh.ID, "order", sh.OrderID, "reason", r.Reason)
		return s.store.Update(ctx, sh.ID, func(sh *Shipment) ([]Notice, error) {
			if sh.Status != StatusPending {
				return s.again(sh, answer), nil
			}
			n, err := sh.Cancel("the carrier refused the parcel: "+r.Reason, s.at())
			return []Notice{n}, err
		})
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if aerr := s.store.LabelAttempted(ctx, sh.ID, s.at()); aerr != nil {
			s.log.ErrorContext(ctx, "record label attempt", "shipment", sh.ID, "err", aerr)
		}
		return nil, carrierError{fmt.Errorf("create label for shipment %s with %s: %w", sh.ID, s.carrier.Name(), err)}
	}
	out, err := s.store.Update(ctx, sh.ID, func(sh *Shipment) ([]Notice, error) {
		if sh.Status == StatusCancelled && sh.TrackingNumber == "" {
			// Cancelled while the label was being made: keep the label
			// on record, so that it is voided.
			sh.Carrier, sh.TrackingNumber = s.carrier.Name(), tn
			return s.again(sh, answer), nil
		}
		if sh.Status != StatusPending {
			return s.again(sh, answer), nil
		}
		n, err := sh.Labelled(s.carrier.Name(), tn, s.at())
		return []Notice{n}, err
	})
	if err != nil {
		return nil, fmt.Errorf("record label of shipment %s: %w", sh.ID, err)
	}
	s.voidIfCancelled(ctx, out)
	return out, nil
}

// carrierError is a failed carrier call that may succeed when made again.
type carrierError struct{ err error }

func (e carrierError) Error() string { return e.err.Error() }
func (e carrierError) Unwrap() error { return e.err }

// again is the answer to a command repeated for sh, if answer is set.
func (s *Service) again(sh *Shipment, answer bool) []Notice {
	if !answer {
		return nil
	}
	return []Notice{sh.StateNotice("")}
}

// CancelForOrder answers the saga's CancelShipment command: the order's
// shipment is CANCELLED (ShipmentCancelled) and its label voided. A
// shipment that has shipped is not cancelled: the command is answered with
// where it stands (ShipmentShipped or ShipmentDelivered) and a reason. An
// order without a shipment is remembered as cancelled (so that a late
// CreateShipment creates none) and answered with ShipmentCancelled. A
// repeated command is answered again and changes nothing.
// Returns INVALID_INPUT if the command names no order.
func (s *Service) CancelForOrder(ctx context.Context, cmd contract.CancelShipment) (*Shipment, error) {
	if err := text("orderId", cmd.OrderID, true); err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(cmd.Reason)
	if reason == "" {
		reason = defaultCancelReason
	}
	if utf8.RuneCountInString(reason) > MaxReasonLen {
		reason = string([]rune(reason)[:MaxReasonLen])
	}
	c := Cancellation{OrderID: cmd.OrderID, CustomerID: cmd.CustomerID, Reason: reason, At: s.at()}
	sh, err := s.store.CancelOrder(ctx, c, func(sh *Shipment) ([]Notice, error) {
		if sh == nil {
			return []Notice{{Type: contract.TypeShipmentCancelled, Result: contract.ShipmentResult{
				OrderID: c.OrderID, CustomerID: c.CustomerID, Reason: reason,
			}}}, nil
		}
		switch {
		case sh.Status == StatusCancelled:
			return []Notice{sh.StateNotice("")}, nil
		case sh.Status == StatusDelivered:
			return []Notice{sh.StateNotice("the shipment was already delivered; it can no longer be cancelled")}, nil
		case sh.Status.Shipped():
			return []Notice{sh.StateNotice("the shipment has already shipped; it can no longer be cancelled")}, nil
		}
		n, err := sh.Cancel(reason, c.At)
		return []Notice{n}, err
	})
	if err != nil {
		return nil, fmt.Errorf("cancel shipment of order %s: %w", cmd.OrderID, err)
	}
	s.voidIfCancelled(ctx, sh)
	return sh, nil
}

// Advance moves a shipment one status on: a PENDING one gets its label
// from the carrier (as CreateShipment would), a labelled one goes
// IN_TRANSIT (ShipmentShipped: the order ships), OUT_FOR_DELIVERY, then
// DELIVERED (ShipmentDelivered). Admins only.
// Returns UNAUTHENTICATED or FORBIDDEN for others, NOT_FOUND for an unknown
// shipment, CONFLICT for a DELIVERED or CANCELLED one, and UNAVAILABLE if
// the carrier cannot be reached to label a PENDING one.
func (s *Service) Advance(ctx context.Context, id string) (*Shipment, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	sh, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if sh.Status == StatusPending {
		out, err := s.label(ctx, sh, false)
		if err != nil {
			if errors.As(err, new(carrierError)) {
				s.log.WarnContext(ctx, "carrier unavailable", "shipment", sh.ID, "err", err)
				return nil, apperr.Errorf(apperr.Unavailable, "the carrier cannot be reached; try again later")
			}
			return nil, err
		}
		return out, nil
	}
	return s.store.Update(ctx, sh.ID, func(sh *Shipment) ([]Notice, error) {
		return sh.Step(s.at())
	})
}

// Cancel cancels a shipment that has not shipped (ShipmentCancelled: the
// order's saga learns of it) and voids its label. Admins only.
// Returns UNAUTHENTICATED or FORBIDDEN for others, INVALID_INPUT if the
// reason is empty or longer than MaxReasonLen characters, NOT_FOUND for an
// unknown shipment, and CONFLICT if it is already cancelled, in transit,
// out for delivery or delivered.
func (s *Service) Cancel(ctx context.Context, id, reason string) (*Shipment, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, apperr.Invalid("reason", "a reason is required")
	}
	if utf8.RuneCountInString(reason) > MaxReasonLen {
		return nil, apperr.Invalid("reason", "the reason is longer than %d characters", MaxReasonLen)
	}
	if !validID(id) {
		return nil, notFound()
	}
	sh, err := s.store.Update(ctx, id, func(sh *Shipment) ([]Notice, error) {
		n, err := sh.Cancel(reason, s.at())
		return []Notice{n}, err
	})
	if err != nil {
		return nil, err
	}
	s.voidIfCancelled(ctx, sh)
	return sh, nil
}

// StepDue moves on, by one status, the shipments with a label that have not
// changed for the schedule's step (see Config.Step), and returns how many.
// It does nothing if the step is zero. Replicas may run it at once.
func (s *Service) StepDue(ctx context.Context) (int, error) {
	if s.step <= 0 {
		return 0, nil
	}
	total := 0
	for {
		n, err := s.store.StepDue(ctx, s.at().Add(-s.step), stepBatch, func(sh *Shipment) ([]Notice, error) {
			return sh.Step(s.at())
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("step due shipments: %w", err)
		}
		if n < stepBatch {
			return total, nil
		}
	}
}

// RetryLabels asks the carrier again for the labels of PENDING shipments
// whose last attempt failed at least LabelRetry ago, and returns how many it
// labelled (ShipmentCreated) or saw refused (ShipmentCancelled). Replicas
// may run it at once: the carrier is idempotent per shipment.
func (s *Service) RetryLabels(ctx context.Context) (int, error) {
	shs, err := s.store.PendingLabels(ctx, s.at().Add(-LabelRetry), voidBatch)
	if err != nil {
		return 0, fmt.Errorf("pending labels: %w", err)
	}
	n := 0
	for i := range shs {
		if _, err := s.label(ctx, &shs[i], false); err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			s.log.WarnContext(ctx, "label a pending shipment; will try again", "shipment", shs[i].ID, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// VoidLabels voids the labels of cancelled shipments that are not voided
// yet (their voiding failed when they were cancelled), and returns how
// many it voided. A label the carrier will not void yet stays for the next
// run.
func (s *Service) VoidLabels(ctx context.Context) (int, error) {
	shs, err := s.store.LabelsToVoid(ctx, voidBatch)
	if err != nil {
		return 0, fmt.Errorf("labels to void: %w", err)
	}
	n := 0
	for i := range shs {
		if err := s.void(ctx, &shs[i]); err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			s.log.WarnContext(ctx, "void label", "shipment", shs[i].ID, "tracking_number", shs[i].TrackingNumber, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// voidIfCancelled voids the label of sh if sh is cancelled and has one;
// a failure is logged, and VoidLabels tries again later.
func (s *Service) voidIfCancelled(ctx context.Context, sh *Shipment) {
	if sh == nil || sh.Status != StatusCancelled || sh.TrackingNumber == "" || sh.LabelVoided {
		return
	}
	if err := s.void(ctx, sh); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "void label; will try again", "shipment", sh.ID, "tracking_number", sh.TrackingNumber, "err", err)
	}
}

func (s *Service) void(ctx context.Context, sh *Shipment) error {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.carrier.Cancel(cctx, sh.TrackingNumber); err != nil {
		return err
	}
	if err := s.store.LabelVoided(ctx, sh.ID, s.at()); err != nil {
		return err
	}
	sh.LabelVoided = true
	return nil
}

// Shipment returns the shipment with id, or nil if there is none or the
// caller may not see it.
// Returns UNAUTHENTICATED without sign-in.
func (s *Service) Shipment(ctx context.Context, id string) (*Shipment, error) {
	m, err := s.Shipments(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	return m[id], nil
}

// Shipments returns those shipments with ids that exist and that the caller
// may see, by ID.
// Returns UNAUTHENTICATED without sign-in.
func (s *Service) Shipments(ctx context.Context, ids []string) (map[string]*Shipment, error) {
	who, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if validID(id) {
			valid = append(valid, id)
		}
	}
	out := map[string]*Shipment{}
	if len(valid) == 0 {
		return out, nil
	}
	shs, err := s.store.Shipments(ctx, valid)
	if err != nil {
		return nil, fmt.Errorf("shipments: %w", err)
	}
	for i := range shs {
		if shs[i].visibleTo(who.UserID, who.IsAdmin()) {
			out[shs[i].ID] = &shs[i]
		}
	}
	return out, nil
}

// OrderShipments returns the shipments of the orders with orderIDs that the
// caller may see, by order ID, the oldest first.
// Returns UNAUTHENTICATED without sign-in.
func (s *Service) OrderShipments(ctx context.Context, orderIDs []string) (map[string][]Shipment, error) {
	who, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]Shipment{}
	if len(orderIDs) == 0 {
		return out, nil
	}
	shs, err := s.store.ShipmentsByOrders(ctx, orderIDs)
	if err != nil {
		return nil, fmt.Errorf("shipments of orders: %w", err)
	}
	for _, sh := range shs {
		if sh.visibleTo(who.UserID, who.IsAdmin()) {
			out[sh.OrderID] = append(out[sh.OrderID], sh)
		}
	}
	for _, l := range out {
		sortByCreated(l)
	}
	return out, nil
}

// get returns shipment id for an admin.
func (s *Service) get(ctx context.Context, id string) (*Shipment, error) {
	if !validID(id) {
		return nil, notFound()
	}
	shs, err := s.store.Shipments(ctx, []string{id})
	if err != nil {
		return nil, fmt.Errorf("shipment %s: %w", id, err)
	}
	if len(shs) == 0 {
		return nil, notFound()
	}
	return &shs[0], nil
}

func notFound() error { return apperr.Errorf(apperr.NotFound, "no such shipment") }

// validID reports whether id is a shipment ID in canonical form: a
// malformed ID names nothing.
func validID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}
