package order

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/orders/cart"
)

// Defaults of Config.
const (
	DefaultReservationTTL = 15 * time.Minute
	DefaultStepTimeout    = 2 * time.Minute
)

// sweepBatch bounds how many due orders one Sweep handles.
const sweepBatch = 500

// Config configures a Service.
type Config struct {
	Store   Store
	Carts   cart.Store
	Catalog cart.Catalog
	Rates   ShippingRates
	// ReservationTTL is how long inventory holds an order's stock before the
	// order is paid (DefaultReservationTTL if 0).
	ReservationTTL time.Duration
	// StepTimeout is how long the saga waits for a reply before it
	// compensates (before the payment) or asks again (after it)
	// (DefaultStepTimeout if 0).
	StepTimeout time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// NewID returns a new order ID (a UUID); random version 7 UUIDs if nil.
	NewID func() string
	// Log; slog.Default() if nil.
	Log *slog.Logger
	// Feed serves WatchOrder and WatchMine; without it they fail.
	Feed *Feed
}

// Service is the orders' use cases: placing, reading and cancelling orders,
// and the checkout saga's reactions to replies and deadlines.
type Service struct {
	store   Store
	carts   cart.Store
	catalog cart.Catalog
	rates   ShippingRates
	saga    saga
	now     func() time.Time
	newID   func() string
	log     *slog.Logger
	feed    *Feed
}

// NewService returns a Service.
func NewService(c Config) *Service {
	if c.ReservationTTL <= 0 {
		c.ReservationTTL = DefaultReservationTTL
	}
	if c.StepTimeout <= 0 {
		c.StepTimeout = DefaultStepTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return &Service{
		store: c.Store, carts: c.Carts, catalog: c.Catalog, rates: c.Rates,
		saga: saga{stepTimeout: c.StepTimeout, reservationTTL: c.ReservationTTL},
		now:  c.Now, newID: c.NewID, log: c.Log, feed: c.Feed,
	}
}

// WithStore returns a copy of s that uses store: the saga's reactions run
// over a store bound to the consumer's transaction.
func (s *Service) WithStore(store Store) *Service {
	c := *s
	c.store = store
	return &c
}

// at returns the current time as the store keeps it.
func (s *Service) at() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Place places an order for everything in the caller's cart, priced from
// the catalog and the shipping rates, and starts its saga; it returns the
// PENDING order. Placing again with the same idempotency key returns the
// order placed the first time, and places nothing.
// Returns UNAUTHENTICATED without sign-in; INVALID_INPUT for malformed input
// (see PlaceInput), an empty cart, an item that is no longer available,
// items priced in different currencies or an unknown shipping method;
// UNAVAILABLE if the catalog or the shipping rates cannot be asked. Nothing
// is recorded when it fails.
func (s *Service) Place(ctx context.Context, in PlaceInput) (*Order, error) {
	id, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	in = in.normalize()
	if err := in.validate(); err != nil {
		return nil, err
	}
	if o, err := s.store.LoadByIdempotencyKey(ctx, id.UserID, in.IdempotencyKey); err == nil {
		return o, nil
	} else if apperr.Code(err) != apperr.NotFound {
		return nil, fmt.Errorf("place order: %w", err)
	}

	c, err := s.carts.Load(ctx, id.UserID)
	if err != nil {
		return nil, fmt.Errorf("place order: load cart: %w", err)
	}
	if len(c.Items) == 0 {
		// A retry of this checkout racing the first attempt finds the cart
		// emptied by it, after its order was committed: return that order.
		if o, err := s.store.LoadByIdempotencyKey(ctx, id.UserID, in.IdempotencyKey); err == nil {
			return o, nil
		}
		return nil, apperr.Errorf(apperr.InvalidInput, "your cart is empty: add something to it first")
	}
	lines, subtotal, err := s.priceLines(ctx, c)
	if err != nil {
		return nil, err
	}
	method, err := s.shippingMethod(ctx, in.ShippingMethod, subtotal.Currency)
	if err != nil {
		return nil, err
	}
	total, err := subtotal.Add(method.Price)
	if err != nil {
		return nil, fmt.Errorf("place order: %w", err)
	}
	number, err := s.store.NextNumber(ctx)
	if err != nil {
		return nil, fmt.Errorf("place order: %w", err)
	}

	now := s.at()
	placed := Placed{
		Number: number, CustomerID: id.UserID, Email: id.Email, IdempotencyKey: in.IdempotencyKey,
		Lines: lines, Subtotal: subtotal, ShippingCost: method.Price, Total: total,
		Address: in.Address, ShippingCode: method.Code, ShippingName: method.Name,
	}
	evs := []Event{{OrderID: s.newID(), Version: 1, At: now, Data: placed}}
	o := Fold(evs)
	msgs, sg := s.saga.placed(o, in.PaymentToken, now)
	msgs = append(msgs, statusChanged(o, "", now))
	err = s.store.Create(ctx, o, evs, sg, msgs)
	if apperr.Code(err) == apperr.Conflict {
		// The same checkout, retried at the same time, got there first.
		return s.store.LoadByIdempotencyKey(ctx, id.UserID, in.IdempotencyKey)
	}
	if err != nil {
		return nil, fmt.Errorf("place order: %w", err)
	}
	s.log.InfoContext(ctx, "order placed", "order", o.ID, "number", o.DisplayNumber(), "customer", id.UserID, "total", total.String())

	// What was ordered leaves the cart; anything added meanwhile stays.
	if _, err := s.carts.Update(ctx, id.UserID, func(c *cart.Cart) error {
		removeOrdered(c, lines)
		return nil
	}); err != nil {
		s.log.ErrorContext(ctx, "order placed but the cart could not be emptied", "order", o.ID, "customer", id.UserID, "err", err)
	}
	return o, nil
}

// priceLines prices the cart's items from the catalog.
// Returns INVALID_INPUT if an item is no longer available or the items are
// priced in different currencies, UNAVAILABLE if the catalog cannot be asked.
func (s *Service) priceLines(ctx context.Context, c cart.Cart) ([]Line, money.Money, error) {
	skus := make([]string, len(c.Items))
	for i, it := range c.Items {
		skus[i] = it.SKU
	}
	known, err := s.catalog.Variants(ctx, skus)
	if err != nil {
		s.log.WarnContext(ctx, "place order: catalog lookup failed", "err", err)
		return nil, money.Money{}, err
	}
	var gone []string
	lines := make([]Line, 0, len(c.Items))
	for _, it := range c.Items {
		v, ok := known[it.SKU]
		if !ok || !v.Orderable() {
			name := it.SKU
			if ok {
				name = fmt.Sprintf("%s (%s)", v.ProductName, it.SKU)
			}
			gone = append(gone, name)
			continue
		}
		lines = append(lines, Line{
			SKU: it.SKU, ProductID: v.ProductID, ProductName: v.ProductName, VariantName: v.Name,
			Quantity: it.Quantity, UnitPrice: v.Price,
		})
	}
	if len(gone) > 0 {
		return nil, money.Money{}, apperr.Errorf(apperr.InvalidInput, "no longer available: %s; remove it from your cart to place the order", strings.Join(gone, ", "))
	}
	subtotal := money.Money{Currency: lines[0].UnitPrice.Currency}
	for _, l := range lines {
		if l.UnitPrice.Currency != subtotal.Currency {
			return nil, money.Money{}, apperr.Errorf(apperr.InvalidInput, "your cart has items priced in %s and in %s: order them separately", subtotal.Currency, l.UnitPrice.Currency)
		}
		subtotal.Amount += l.Total().Amount
	}
	return lines, subtotal, nil
}

// shippingMethod returns the shipping method with code (case-insensitive)
// priced in currency.
// Returns INVALID_INPUT for an unknown method, UNAVAILABLE if the rates
// cannot be asked.
func (s *Service) shippingMethod(ctx context.Context, code, currency string) (ShippingMethod, error) {
	methods, err := s.rates.Methods(ctx, currency)
	if err != nil {
		s.log.WarnContext(ctx, "place order: shipping rates lookup failed", "currency", currency, "err", err)
		return ShippingMethod{}, err
	}
	codes := make([]string, 0, len(methods))
	for _, m := range methods {
		if strings.EqualFold(m.Code, code) {
			if m.Price.Currency != currency {
				return ShippingMethod{}, fmt.Errorf("shipping method %s is priced in %s, not %s", m.Code, m.Price.Currency, currency)
			}
			return m, nil
		}
		codes = append(codes, m.Code)
	}
	if len(codes) == 0 {
		return ShippingMethod{}, apperr.Invalid("shippingMethod", "there is no shipping method for orders in %s", currency)
	}
	return ShippingMethod{}, apperr.Invalid("shippingMethod", "unknown shipping method %q: choose one of %s", code, strings.Join(codes, ", "))
}

// removeOrdered takes the ordered quantities out of c.
func removeOrdered(c *cart.Cart, lines []Line) {
	for _, l := range lines {
		if i := c.Find(l.SKU); i >= 0 {
			c.Items[i].Quantity -= l.Quantity
			if c.Items[i].Quantity <= 0 {
				c.Items = slices.Delete(c.Items, i, i+1)
			}
		}
	}
}

// visible reports whether the caller id may see o.
func visible(id auth.Identity, o *Order) bool { return id.IsAdmin() || o.CustomerID == id.UserID }

// Order returns the order with id.
// Returns UNAUTHENTICATED without sign-in, and NOT_FOUND if there is no such
// order or it is another customer's (administrators see every order).
func (s *Service) Order(ctx context.Context, id string) (*Order, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	notFound := apperr.Errorf(apperr.NotFound, "no such order")
	if !ValidID(id) {
		return nil, notFound
	}
	os, err := s.store.Orders(ctx, []string{id})
	if err != nil {
		return nil, fmt.Errorf("order: %w", err)
	}
	o := os[id]
	if o == nil || !visible(caller, o) {
		return nil, notFound
	}
	return o, nil
}

// Orders returns those of the orders with ids that exist and the caller may
// see, by ID: none for an anonymous caller.
func (s *Service) Orders(ctx context.Context, ids []string) (map[string]*Order, error) {
	caller, ok := auth.FromContext(ctx)
	ask := make([]string, 0, len(ids))
	for _, id := range ids {
		if ValidID(id) {
			ask = append(ask, id)
		}
	}
	if !ok || caller.UserID == "" || len(ask) == 0 {
		return map[string]*Order{}, nil
	}
	os, err := s.store.Orders(ctx, ask)
	if err != nil {
		return nil, fmt.Errorf("orders: %w", err)
	}
	for id, o := range os {
		if !visible(caller, o) {
			delete(os, id)
		}
	}
	return os, nil
}

// Lines returns the lines of the orders with ids, by order ID. The caller
// has already been allowed to see the orders.
func (s *Service) Lines(ctx context.Context, ids []string) (map[string][]Line, error) {
	ls, err := s.store.Lines(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("order lines: %w", err)
	}
	return ls, nil
}

// Timelines returns the timelines of the orders with ids, by order ID. The
// caller has already been allowed to see the orders.
func (s *Service) Timelines(ctx context.Context, ids []string) (map[string][]TimelineEntry, error) {
	evs, err := s.store.Events(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("order timelines: %w", err)
	}
	out := make(map[string][]TimelineEntry, len(evs))
	for id, es := range evs {
		out[id] = Timeline(es)
	}
	return out, nil
}

// Page is a page of orders, the newest first.
type Page struct {
	Orders  []*Order
	HasNext bool
}

// MyOrders returns a page of the caller's orders, the newest first: first
// orders after the cursor after ("" for the first page).
// Returns UNAUTHENTICATED without sign-in and INVALID_INPUT if first is not
// 1 to MaxPage or after is not a cursor of this service.
func (s *Service) MyOrders(ctx context.Context, first int, after string) (Page, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return Page{}, err
	}
	return s.list(ctx, ListQuery{CustomerID: caller.UserID, First: first}, after)
}

// List returns a page of every customer's orders, the newest first,
// optionally only those with status.
// Returns UNAUTHENTICATED or FORBIDDEN unless the caller is an admin, and
// INVALID_INPUT if first is not 1 to MaxPage or after is not a cursor of
// this service.
func (s *Service) List(ctx context.Context, status Status, first int, after string) (Page, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return Page{}, err
	}
	return s.list(ctx, ListQuery{Status: status, First: first}, after)
}

func (s *Service) list(ctx context.Context, q ListQuery, after string) (Page, error) {
	if err := validateFirst(q.First); err != nil {
		return Page{}, err
	}
	cur, err := DecodeCursor(after)
	if err != nil {
		return Page{}, err
	}
	q.After = cur
	os, err := s.store.List(ctx, q)
	if err != nil {
		return Page{}, fmt.Errorf("list orders: %w", err)
	}
	p := Page{Orders: os}
	if len(os) > q.First {
		p.Orders, p.HasNext = os[:q.First], true
	}
	return p, nil
}

// Cancel cancels the order with id for reason: the saga releases its stock,
// voids its payment and cancels its shipment. Cancelling a cancelled order
// changes nothing and returns it.
// Returns UNAUTHENTICATED without sign-in; NOT_FOUND if there is no such
// order or it is another customer's (administrators may cancel any order);
// INVALID_INPUT for a reason longer than MaxReason characters; CONFLICT if
// the order has shipped, was rejected or refunded.
func (s *Service) Cancel(ctx context.Context, id, reason string) (*Order, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	by, def := ByCustomer, "cancelled at the customer's request"
	if caller.IsAdmin() {
		by, def = ByAdmin, "cancelled by the shop"
	}
	reason, err = cleanReason(reason, def)
	if err != nil {
		return nil, err
	}
	notFound := apperr.Errorf(apperr.NotFound, "no such order")
	if !ValidID(id) {
		return nil, notFound
	}
	o, err := s.update(ctx, id, func(o *Order, now time.Time) (Change, error) {
		if !visible(caller, o) {
			return Change{}, notFound
		}
		if o.CustomerID == caller.UserID {
			by = ByCustomer
		}
		switch {
		case o.Status == StatusCancelled:
			return Change{}, nil
		case !o.Status.Cancellable():
			return Change{}, apperr.Errorf(apperr.Conflict, "order %s is %s and can no longer be cancelled", o.DisplayNumber(), strings.ReplaceAll(strings.ToLower(string(o.Status)), "_", " "))
		}
		return s.saga.cancel(o, reason, by, now), nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// HandleStock handles an inventory event about one of the saga's orders.
// An event about an unknown order is logged and dropped.
func (s *Service) HandleStock(ctx context.Context, typ string, r contract.StockResult) error {
	return s.react(ctx, typ, r.OrderID, func(o *Order, now time.Time) Change { return s.saga.onStock(o, typ, r, now) })
}

// HandlePayment handles a payments event about one of the saga's orders.
// An event about an unknown order is logged and dropped.
func (s *Service) HandlePayment(ctx context.Context, typ string, r contract.PaymentResult) error {
	return s.react(ctx, typ, r.OrderID, func(o *Order, now time.Time) Change { return s.saga.onPayment(o, typ, r, now) })
}

// HandleShipment handles a shipping event about one of the saga's orders.
// An event about an unknown order is logged and dropped.
func (s *Service) HandleShipment(ctx context.Context, typ string, r contract.ShipmentResult) error {
	return s.react(ctx, typ, r.OrderID, func(o *Order, now time.Time) Change { return s.saga.onShipment(o, typ, r, now) })
}

func (s *Service) react(ctx context.Context, typ, orderID string, decide func(*Order, time.Time) Change) error {
	if !ValidID(orderID) {
		s.log.WarnContext(ctx, "saga reply about no order of ours; dropped", "type", typ, "order", orderID)
		return nil
	}
	var before Status
	o, err := s.update(ctx, orderID, func(o *Order, now time.Time) (Change, error) {
		before = o.Status
		ch := decide(o, now)
		if ch.Empty() {
			s.log.DebugContext(ctx, "saga reply changes nothing", "type", typ, "order", orderID, "status", o.Status)
		}
		return ch, nil
	})
	if apperr.Code(err) == apperr.NotFound {
		s.log.WarnContext(ctx, "saga reply about an unknown order; dropped", "type", typ, "order", orderID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s for order %s: %w", typ, orderID, err)
	}
	if o.Status != before {
		s.log.InfoContext(ctx, "order status changed", "order", o.ID, "number", o.DisplayNumber(), "status", o.Status, "previous", before, "reason", o.StatusReason, "cause", typ)
	}
	return nil
}

// Sweep handles the orders whose saga step's deadline has passed, and
// returns how many it handled. Several replicas may sweep at once: each
// order is handled by one of them.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	n := 0
	seen := map[string]bool{}
	for n < sweepBatch && ctx.Err() == nil {
		now := s.at()
		again := false
		found, err := s.store.UpdateDue(ctx, now, func(o *Order) (Change, error) {
			if again = seen[o.ID]; again {
				return Change{}, nil // still due after its change: next sweep
			}
			seen[o.ID] = true
			ch := s.finish(o, s.saga.onDeadline(o, now), now)
			switch {
			case o.Saga.Step == StepNone:
			case ch.Saga != nil && ch.Saga.Step == o.Saga.Step && len(ch.Messages) == 0:
				s.log.WarnContext(ctx, "saga step waits for its command to leave the outbox", "order", o.ID, "number", o.DisplayNumber(), "step", o.Saga.Step, "next_deadline", ch.Saga.Deadline)
			case ch.Saga != nil && ch.Saga.Step == o.Saga.Step:
				log := s.log.WarnContext
				if ch.Saga.Attempts >= 5 {
					log = s.log.ErrorContext // keeps failing: someone should look
				}
				log(ctx, "saga step timed out; asked again", "order", o.ID, "number", o.DisplayNumber(), "step", o.Saga.Step, "attempt", ch.Saga.Attempts, "next_deadline", ch.Saga.Deadline)
			case len(ch.Events) > 0:
				s.log.WarnContext(ctx, "saga step timed out; order cancelled", "order", o.ID, "number", o.DisplayNumber(), "step", o.Saga.Step)
			}
			return ch, nil
		})
		if err != nil {
			return n, fmt.Errorf("sweep saga deadlines: %w", err)
		}
		if !found || again {
			break
		}
		n++
	}
	return n, nil
}

// update runs decide on the order with id under the store's lock and
// records its change with the order's status change, if any.
func (s *Service) update(ctx context.Context, id string, decide func(*Order, time.Time) (Change, error)) (*Order, error) {
	return s.store.Update(ctx, id, func(o *Order) (Change, error) {
		now := s.at()
		ch, err := decide(o, now)
		if err != nil {
			return Change{}, err
		}
		return s.finish(o, ch, now), nil
	})
}

// finish adds to ch the OrderStatusChanged event if ch changes o's status.
func (s *Service) finish(o *Order, ch Change, now time.Time) Change {
	if len(ch.Events) == 0 {
		return ch
	}
	ch.At = now
	next := o.With(stamp(o, now, ch.Events)...)
	if next.Status != o.Status {
		ch.Messages = append(ch.Messages, statusChanged(next, o.Status, now))
	}
	return ch
}
