package order

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
)

// StatusChanged is the payload of the OrderStatusChanged events this
// service writes: the contract's fields and the order's version after the
// change. Consumers that decode contract.OrderStatusChanged ignore Version;
// the live feed uses it to tell a repeated or stale event from a new one.
type StatusChanged struct {
	contract.OrderStatusChanged
	// Version is the order's version (the number of events in its stream)
	// after the change; 0 if the publisher did not say.
	Version int `json:"version,omitempty"`
}

// Update returns the change as a subscriber receives it.
func (c StatusChanged) Update() *Update {
	return &Update{
		OrderID: c.OrderID, CustomerID: c.CustomerID, Status: Status(c.Status), Previous: Status(c.Previous),
		Reason: c.Reason, At: c.At, Version: c.Version,
	}
}

// Update is a change of an order's status as a subscription delivers it.
// Updates are shared between subscribers: never change one.
type Update struct {
	OrderID    string
	CustomerID string
	Status     Status
	// Previous is the status before the change; "" for an update that gives
	// the order's current status rather than a change (the first update of
	// WatchOrder, or after a gap an order the subscription had not reported).
	Previous Status
	// Reason tells why the order is REJECTED or CANCELLED.
	Reason string
	// At is when the change happened; for a current status, when the order
	// last changed.
	At time.Time
	// Version is the order's version after the change; 0 if unknown.
	Version int
	// Order is the order's projection when the update was read from it (a
	// current status); nil for an update from an event.
	Order *Order
}

// current returns o's current status as an update that follows previous
// ("" if the subscriber knew nothing of o).
func current(o *Order, previous Status) *Update {
	return &Update{
		OrderID: o.ID, CustomerID: o.CustomerID, Status: o.Status, Previous: previous, Reason: o.StatusReason,
		At: o.UpdatedAt, Version: o.Version, Order: o,
	}
}

// Snapshots reads the current state of orders for the live feed.
type Snapshots interface {
	// Orders returns the projections (without lines) of those orders with
	// ids that exist, by ID.
	Orders(ctx context.Context, ids []string) (map[string]*Order, error)
	// ChangedOrders returns the projections (without lines) of the orders
	// of the customers that changed at or after since.
	ChangedOrders(ctx context.Context, customerIDs []string, since time.Time) ([]*Order, error)
}

// Defaults of FeedConfig.
const (
	DefaultFeedBuffer = 64
	DefaultGapMargin  = time.Minute
)

// FeedConfig configures a Feed.
type FeedConfig struct {
	// Store reads current statuses: for a new subscriber of one order, and
	// after a gap. Required.
	Store Snapshots
	// Buffer is how many updates a subscriber may have waiting before it is
	// behind (DefaultFeedBuffer if 0).
	Buffer int
	// GapMargin widens the window in which the orders of a customer's
	// subscription are looked for after a gap, for the lag between an
	// order's change and its publication (DefaultGapMargin if 0).
	GapMargin time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// Log; slog.Default() if nil.
	Log *slog.Logger
	// Delivered, if set, is told how long after it happened each status
	// change reached a subscriber's buffer (not current statuses read
	// from the store). It must not block.
	Delivered func(delay time.Duration)
}

// Feed fans the order status changes published on the one pub/sub
// subscription of the process out to every subscriber whose filter matches:
// one order, or every order of one customer.
//
// Each subscriber has its own buffer of Buffer updates, which the feed
// never waits on, so that a slow subscriber delays no one else. One that
// falls Buffer updates behind is resynced, not disconnected: further events
// are dropped for it until it has taken what it has, then it receives the
// current status of its order(s) again, read from the store.
// The same resync follows a gap in the pub/sub subscription (see Resync) and
// an event without a version.
//
// Every update carries its order's version: a subscriber receives each
// order's updates in version order, each once, so events repeated by the
// at-least-once publisher and stale ones are dropped.
type Feed struct {
	store  Snapshots
	buffer int
	margin time.Duration
	now    func() time.Time
	log    *slog.Logger
	onSend func(time.Duration)

	mu         sync.RWMutex
	byOrder    map[string]map[*subscriber]struct{}
	byCustomer map[string]map[*subscriber]struct{}

	// seen is the latest version published per order (bounded: cleared
	// when it holds maxSeen orders; subscribers check versions themselves).
	seenMu sync.Mutex
	seen   map[string]int

	published, duplicates, delivered, overflows, resyncs atomic.Uint64
}

// maxSeen bounds Feed.seen.
const maxSeen = 100_000

// NewFeed returns a Feed with no subscribers.
func NewFeed(c FeedConfig) *Feed {
	if c.Buffer <= 0 {
		c.Buffer = DefaultFeedBuffer
	}
	if c.GapMargin <= 0 {
		c.GapMargin = DefaultGapMargin
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return &Feed{
		store: c.Store, buffer: c.Buffer, margin: c.GapMargin, now: c.Now, log: c.Log, onSend: c.Delivered,
		byOrder: map[string]map[*subscriber]struct{}{}, byCustomer: map[string]map[*subscriber]struct{}{},
		seen: map[string]int{},
	}
}

// FeedStats counts what a Feed did since it was made.
type FeedStats struct {
	// Subscribers is the number of open subscriptions.
	Subscribers int
	// Published counts the events handed to Publish.
	Published uint64
	// Duplicates counts events dropped as repeated or stale, once per event
	// (by the feed) or per subscriber.
	Duplicates uint64
	// Delivered counts updates put in subscribers' buffers.
	Delivered uint64
	// Overflows counts the times a subscriber fell Buffer updates behind.
	Overflows uint64
	// Resyncs counts the current statuses read again for subscribers (after
	// an overflow, a gap or an event without a version).
	Resyncs uint64
}

// Stats returns the feed's counters.
func (f *Feed) Stats() FeedStats {
	f.mu.RLock()
	n := 0
	for _, set := range f.byOrder {
		n += len(set)
	}
	for _, set := range f.byCustomer {
		n += len(set)
	}
	f.mu.RUnlock()
	return FeedStats{
		Subscribers: n, Published: f.published.Load(), Duplicates: f.duplicates.Load(),
		Delivered: f.delivered.Load(), Overflows: f.overflows.Load(), Resyncs: f.resyncs.Load(),
	}
}

// Publish hands a published status change to the subscribers it matches.
// It never blocks on a subscriber. An update without a version makes the
// matching subscribers read their order's current status instead.
func (f *Feed) Publish(u *Update) {
	f.published.Add(1)
	if u.Version > 0 {
		f.seenMu.Lock()
		if f.seen[u.OrderID] >= u.Version {
			f.seenMu.Unlock()
			f.duplicates.Add(1)
			return
		}
		if len(f.seen) >= maxSeen {
			clear(f.seen)
		}
		f.seen[u.OrderID] = u.Version
		f.seenMu.Unlock()
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	for s := range f.byOrder[u.OrderID] {
		s.offer(u)
	}
	for s := range f.byCustomer[u.CustomerID] {
		s.offer(u)
	}
}

// Resync sends every subscriber the current status of its order(s) that
// changed since the gap started (for a customer's subscription, since the
// later of gapStart and its start, less GapMargin), unless it has already
// received it: call it when the pub/sub subscription is (re)established,
// with the time the previous one was last known to work (zero for the
// first). Subscribers whose statuses cannot be read now resync on their own
// later.
func (f *Feed) Resync(ctx context.Context, gapStart time.Time) {
	f.mu.RLock()
	var orderSubs, customerSubs []*subscriber
	for _, set := range f.byOrder {
		for s := range set {
			orderSubs = append(orderSubs, s)
		}
	}
	for _, set := range f.byCustomer {
		for s := range set {
			customerSubs = append(customerSubs, s)
		}
	}
	f.mu.RUnlock()

	const chunk = 500
	ids := unique(orderSubs, func(s *subscriber) string { return s.orderID })
	found := map[string]*Order{}
	for i := 0; i < len(ids); i += chunk {
		m, err := f.store.Orders(ctx, ids[i:min(i+chunk, len(ids))])
		if err != nil {
			f.log.ErrorContext(ctx, "resync order status subscribers", "err", err)
			f.fallBehind(orderSubs, gapStart)
			orderSubs = nil
			break
		}
		for id, o := range m {
			found[id] = o
		}
	}
	for _, s := range orderSubs {
		if o := found[s.orderID]; o != nil {
			s.catchUp([]*Order{o}, time.Time{})
		}
	}

	var since time.Time
	for _, s := range customerSubs {
		if t := s.since(gapStart); since.IsZero() || t.Before(since) {
			since = t
		}
	}
	customers := unique(customerSubs, func(s *subscriber) string { return s.customerID })
	mine := map[string][]*Order{}
	for i := 0; i < len(customers); i += chunk {
		os, err := f.store.ChangedOrders(ctx, customers[i:min(i+chunk, len(customers))], since)
		if err != nil {
			f.log.ErrorContext(ctx, "resync order status subscribers", "err", err)
			f.fallBehind(customerSubs, gapStart)
			return
		}
		for _, o := range os {
			mine[o.CustomerID] = append(mine[o.CustomerID], o)
		}
	}
	for _, s := range customerSubs {
		s.catchUp(mine[s.customerID], s.since(gapStart))
	}
}

// unique returns the distinct keys of subs.
func unique(subs []*subscriber, key func(*subscriber) string) []string {
	seen := make(map[string]bool, len(subs))
	out := make([]string, 0, len(subs))
	for _, s := range subs {
		if k := key(s); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// fallBehind makes each subscriber resync on its own, from gapStart.
func (f *Feed) fallBehind(subs []*subscriber, gapStart time.Time) {
	for _, s := range subs {
		s.mu.Lock()
		s.fallBehind(gapStart)
		s.mu.Unlock()
	}
}

// subscribe registers a subscriber to the order with id, or to every order
// of customerID, until ctx ends: then its channel is closed. A subscriber
// to one order is priming until prime gives it the order's current status.
func (f *Feed) subscribe(ctx context.Context, orderID, customerID string) *subscriber {
	s := &subscriber{
		feed: f, ctx: ctx, orderID: orderID, customerID: customerID, start: f.now(),
		out: make(chan *Update, f.buffer), priming: orderID != "", last: map[string]mark{},
	}
	f.mu.Lock()
	index, key := f.byCustomer, customerID
	if orderID != "" {
		index, key = f.byOrder, orderID
	}
	if index[key] == nil {
		index[key] = map[*subscriber]struct{}{}
	}
	index[key][s] = struct{}{}
	f.mu.Unlock()
	context.AfterFunc(ctx, s.close)
	return s
}

// unsubscribe removes s.
func (f *Feed) unsubscribe(s *subscriber) {
	f.mu.Lock()
	defer f.mu.Unlock()
	index, key := f.byCustomer, s.customerID
	if s.orderID != "" {
		index, key = f.byOrder, s.orderID
	}
	delete(index[key], s)
	if len(index[key]) == 0 {
		delete(index, key)
	}
}

// mark is the last update of an order a subscriber was given.
type mark struct {
	version int
	status  Status
}

// subscriber is one subscription. Its channel is its buffer: the feed
// sends without blocking, while the subscriber's reader (gqlgen's
// goroutine for the operation) takes from it. When the channel is full the
// subscriber falls behind: what follows is dropped for it, and a goroutine
// of its own waits until the reader has emptied the channel, reads the
// current status of its order(s) and sends what the reader has not seen.
type subscriber struct {
	feed       *Feed
	ctx        context.Context
	orderID    string // one order's subscription, or
	customerID string // one customer's
	start      time.Time
	out        chan *Update

	mu     sync.Mutex
	closed bool
	// last is the last update sent per order.
	last map[string]mark
	// priming: the current status is not in yet; updates wait in pending.
	priming bool
	pending []*Update
	// behind: updates were dropped since behindSince; resyncing: the
	// goroutine that catches up is running.
	behind      bool
	behindSince time.Time
	resyncing   bool
}

// close unsubscribes s and closes its channel (once).
func (s *subscriber) close() {
	s.feed.unsubscribe(s)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.out)
	}
}

// finish ends a subscription to one order once it has been given a final
// status: the reader takes what is buffered, then sees the channel closed,
// and gqlgen sends the client "complete". s.mu is held (and perhaps the
// feed's lock, so s leaves the feed's index on a goroutine of its own).
func (s *subscriber) finish() {
	s.closed = true
	close(s.out)
	go s.feed.unsubscribe(s)
}

// fallBehind marks s behind since t (or earlier) and makes sure it will
// catch up. s.mu is held.
func (s *subscriber) fallBehind(t time.Time) {
	if !s.behind || t.Before(s.behindSince) {
		s.behindSince = t
	}
	s.behind = true
	if !s.resyncing && !s.priming && !s.closed {
		s.resyncing = true
		go s.resync()
	}
}

// send hands u to the reader unless s is behind; if the reader has
// Buffer updates waiting, s falls behind instead. s.mu is held.
func (s *subscriber) send(u *Update) bool {
	if s.behind || s.closed {
		return false
	}
	select {
	case s.out <- u:
		s.last[u.OrderID] = mark{u.Version, u.Status}
		s.feed.delivered.Add(1)
		if s.feed.onSend != nil && u.Previous != "" && !u.At.IsZero() {
			s.feed.onSend(s.feed.now().Sub(u.At))
		}
		if s.orderID != "" && u.Status.Final() {
			s.finish()
		}
		return true
	default:
		s.feed.overflows.Add(1)
		s.fallBehind(s.feed.now())
		return false
	}
}

// take sends a published update unless s already has it or a later one.
// s.mu is held.
func (s *subscriber) take(u *Update) {
	switch {
	case u.Version == 0:
		s.fallBehind(s.feed.now()) // no version: read the current status
	case u.Version <= s.last[u.OrderID].version:
		s.feed.duplicates.Add(1)
	default:
		s.send(u)
	}
}

// offer hands on a published update.
func (s *subscriber) offer(u *Update) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.priming {
		s.take(u)
		return
	}
	if len(s.pending) >= s.feed.buffer {
		s.feed.overflows.Add(1)
		s.fallBehind(s.feed.now()) // caught up once primed
		return
	}
	s.pending = append(s.pending, u)
}

// prime gives a subscriber to one order the order's current status, read
// after it subscribed: it goes first, followed by the updates that arrived
// meanwhile and are later.
func (s *subscriber) prime(o *Order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.priming = false
	behind := s.behind
	s.behind = false
	s.send(current(o, ""))
	for _, u := range s.pending {
		s.take(u)
	}
	s.pending = nil
	if behind {
		s.fallBehind(s.behindSince)
	}
}

// catchUp sends the current status of each of os (orders of s that
// changed at or after since) that s has not been given, with the status it
// was last given as the previous one. An order whose status s already has
// only moves s's version on.
func (s *subscriber) catchUp(os []*Order, since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range os {
		if o.UpdatedAt.Before(since) {
			continue
		}
		l, known := s.last[o.ID]
		switch {
		case s.priming:
			s.pending = append(s.pending, current(o, "")) // prime sorts it out
		case o.Version <= l.version:
		case known && o.Status == l.status:
			s.last[o.ID] = mark{o.Version, o.Status}
		case s.send(current(o, l.status)):
			s.feed.resyncs.Add(1)
		}
	}
}

// since is when the orders of a customer's subscription may have changed
// unseen, for a gap that started at gapStart.
func (s *subscriber) since(gapStart time.Time) time.Time {
	t := gapStart
	if t.Before(s.start) {
		t = s.start
	}
	return t.Add(-s.feed.margin)
}

// Pauses of a subscriber that is behind: while its reader empties its
// channel (doubling up to drainMax), and after a failed read of the
// current status.
const (
	drainMin    = time.Millisecond
	drainMax    = 100 * time.Millisecond
	resyncRetry = time.Second
)

// resync catches a subscriber that fell behind up: once its reader has
// taken everything, it reads the current status of its order(s) and sends
// what the reader has not seen; again while s falls behind meanwhile.
func (s *subscriber) resync() {
	pause := drainMin
	for {
		if len(s.out) > 0 {
			if !s.sleep(pause) {
				return
			}
			pause = min(2*pause, drainMax)
			continue
		}
		pause = drainMin
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		from := s.behindSince
		s.behind = false // what arrives from now on is sent again
		s.mu.Unlock()

		var os []*Order
		var err error
		since := time.Time{}
		if s.orderID != "" {
			var m map[string]*Order
			if m, err = s.feed.store.Orders(s.ctx, []string{s.orderID}); m[s.orderID] != nil {
				os = []*Order{m[s.orderID]}
			}
		} else {
			since = s.since(from)
			os, err = s.feed.store.ChangedOrders(s.ctx, []string{s.customerID}, since)
		}
		if err != nil {
			if s.ctx.Err() == nil {
				s.feed.log.ErrorContext(s.ctx, "resync an order status subscriber", "err", err)
			}
			s.mu.Lock()
			s.fallBehind(from)
			s.mu.Unlock()
			if !s.sleep(resyncRetry) {
				return
			}
			continue
		}
		s.catchUp(os, since)

		s.mu.Lock()
		if !s.behind || s.closed {
			s.resyncing = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// sleep pauses for d, and reports false if the subscription ended first.
func (s *subscriber) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// errNoFeed is returned when the service was built without a Feed.
var errNoFeed = errors.New("order status subscriptions are not served here")

// WatchOrder streams the status of the order with id: first its current
// status, then every change, in order, each once, until the order reaches a
// final status (see Status.Final) or ctx ends; then the channel is closed.
// A subscriber that falls behind may skip statuses, and then receives the
// current one (see Feed).
// Returns UNAUTHENTICATED without sign-in; NOT_FOUND if there is no such
// order or it is another customer's (administrators may watch every order).
func (s *Service) WatchOrder(ctx context.Context, id string) (<-chan *Update, error) {
	if _, err := auth.Require(ctx); err != nil {
		return nil, err
	}
	if s.feed == nil {
		return nil, errNoFeed
	}
	// Subscribe before reading the current status, so that no change falls
	// between the two.
	sub := s.feed.subscribe(ctx, id, "")
	o, err := s.Order(ctx, id)
	if err != nil {
		sub.close()
		return nil, err
	}
	sub.prime(o)
	return sub.out, nil
}

// WatchMine streams every status change of the caller's orders from now on,
// in order, each once per order, until ctx ends (then the channel is
// closed). A subscriber that falls behind may skip statuses, and then
// receives the current status of each of its orders that changed (see
// Feed).
// Returns UNAUTHENTICATED without sign-in.
func (s *Service) WatchMine(ctx context.Context) (<-chan *Update, error) {
	caller, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	if s.feed == nil {
		return nil, errNoFeed
	}
	if caller.UserID == "" {
		return nil, fmt.Errorf("watch my orders: identity without a user ID")
	}
	return s.feed.subscribe(ctx, "", caller.UserID).out, nil
}
