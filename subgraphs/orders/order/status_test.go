package order

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// snapshots is an in-memory Snapshots.
type snapshots struct {
	mu     sync.Mutex
	orders map[string]*Order
	fail   bool
	reads  int
}

func newSnapshots(os ...*Order) *snapshots {
	s := &snapshots{orders: map[string]*Order{}}
	for _, o := range os {
		s.set(o)
	}
	return s
}

func (s *snapshots) set(o *Order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *o
	s.orders[o.ID] = &c
}

func (s *snapshots) failing(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

func (s *snapshots) Orders(_ context.Context, ids []string) (map[string]*Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.fail {
		return nil, errors.New("store down")
	}
	out := map[string]*Order{}
	for _, id := range ids {
		if o := s.orders[id]; o != nil {
			c := *o
			out[id] = &c
		}
	}
	return out, nil
}

func (s *snapshots) ChangedOrders(_ context.Context, customers []string, since time.Time) ([]*Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.fail {
		return nil, errors.New("store down")
	}
	var out []*Order
	for _, o := range s.orders {
		if slices.Contains(customers, o.CustomerID) && !o.UpdatedAt.Before(since) {
			c := *o
			out = append(out, &c)
		}
	}
	return out, nil
}

var feedT0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

// at returns an order of customer at version v with status st.
func at(id, customer string, v int, st Status) *Order {
	return &Order{ID: id, CustomerID: customer, Status: st, Version: v, UpdatedAt: feedT0.Add(time.Duration(v) * time.Second)}
}

// event returns the published change of id to st at version v.
func event(id, customer string, v int, prev, st Status) *Update {
	return &Update{OrderID: id, CustomerID: customer, Status: st, Previous: prev, Version: v, At: feedT0.Add(time.Duration(v) * time.Second)}
}

// watch subscribes to one order (primed from the store) or to a customer's
// orders, as WatchOrder and WatchMine do, until the test ends.
func watch(t *testing.T, f *Feed, orderID, customerID string) <-chan *Update {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := f.subscribe(ctx, orderID, customerID)
	if orderID != "" {
		m, err := f.store.Orders(context.Background(), []string{orderID})
		if err != nil || m[orderID] == nil {
			t.Fatalf("order %s: %v", orderID, err)
		}
		s.prime(m[orderID])
	}
	return s.out
}

// stuck bounds every wait for an update: a hung feed, not a latency check.
const stuck = 10 * time.Second

// take receives n updates as "ORDER v STATUS<PREVIOUS" strings.
func take(t *testing.T, ch <-chan *Update, n int) []string {
	t.Helper()
	var got []string
	for range n {
		select {
		case u, ok := <-ch:
			if !ok {
				t.Fatalf("closed after %v", got)
			}
			got = append(got, fmt.Sprintf("%s %d %s<%s", u.OrderID, u.Version, u.Status, u.Previous))
		case <-time.After(stuck):
			t.Fatalf("stuck after %v", got)
		}
	}
	return got
}

func TestFeedOneOrder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		current *Order    // in the store when subscribing
		before  []*Update // published after subscribing, before the current status is read
		later   *Order    // in the store after that
		after   []*Update // published after
		want    []string
	}{
		{
			name:    "current status first, then every change in order",
			current: at("o1", "c1", 1, StatusPending),
			after: []*Update{
				event("o1", "c1", 2, StatusPending, StatusAwaitingPayment),
				event("o1", "c1", 4, StatusAwaitingPayment, StatusConfirmed),
			},
			want: []string{"o1 1 PENDING<", "o1 2 AWAITING_PAYMENT<PENDING", "o1 4 CONFIRMED<AWAITING_PAYMENT"},
		},
		{
			name:    "repeated and stale events are dropped",
			current: at("o2", "c1", 2, StatusAwaitingPayment),
			after: []*Update{
				event("o2", "c1", 1, "", StatusPending), // published before, delivered late
				event("o2", "c1", 2, StatusPending, StatusAwaitingPayment),
				event("o2", "c1", 4, StatusAwaitingPayment, StatusConfirmed),
				event("o2", "c1", 4, StatusAwaitingPayment, StatusConfirmed),
				event("o2", "c1", 2, StatusPending, StatusAwaitingPayment),
				event("o2", "c1", 6, StatusConfirmed, StatusShipped),
			},
			want: []string{"o2 2 AWAITING_PAYMENT<", "o2 4 CONFIRMED<AWAITING_PAYMENT", "o2 6 SHIPPED<CONFIRMED"},
		},
		{
			name:    "changes between subscribing and reading the current status",
			current: at("o3", "c1", 4, StatusConfirmed),
			before: []*Update{
				event("o3", "c1", 2, StatusPending, StatusAwaitingPayment), // in the current status already
				event("o3", "c1", 4, StatusAwaitingPayment, StatusConfirmed),
				event("o3", "c1", 6, StatusConfirmed, StatusShipped), // after it
			},
			want: []string{"o3 4 CONFIRMED<", "o3 6 SHIPPED<CONFIRMED"},
		},
		{
			name:    "an event without a version: the current status is read again",
			current: at("o4", "c1", 1, StatusPending),
			later:   at("o4", "c1", 2, StatusAwaitingPayment),
			after:   []*Update{event("o4", "c1", 0, StatusPending, StatusAwaitingPayment)},
			want:    []string{"o4 1 PENDING<", "o4 2 AWAITING_PAYMENT<PENDING"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := newSnapshots(tc.current)
			f := NewFeed(FeedConfig{Store: store, Now: func() time.Time { return feedT0 }})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := f.subscribe(ctx, tc.current.ID, "")
			for _, u := range tc.before {
				f.Publish(u)
			}
			s.prime(tc.current)
			if tc.later != nil {
				store.set(tc.later)
			}
			for _, u := range tc.after {
				f.Publish(u)
			}
			if got := take(t, s.out, len(tc.want)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			// Nothing else: the next update is a later change.
			f.Publish(event(tc.current.ID, "c1", 99, StatusDelivered, StatusRefunded))
			if got := take(t, s.out, 1); got[0] != tc.current.ID+" 99 REFUNDED<DELIVERED" {
				t.Errorf("then %v, want only the last change", got)
			}
		})
	}
}

// TestFeedOneOrderCompletes checks that a subscription to one order ends
// (its channel closes, so the client gets "complete") right after it
// delivers a final status, whether that is the current status it starts
// with, a published change or one read again after falling behind; a
// customer's subscription goes on.
func TestFeedOneOrderCompletes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		current *Order
		later   *Order    // in the store after subscribing
		after   []*Update // published after subscribing
		want    []string
	}{
		{
			name:    "declined: CANCELLED completes",
			current: at("c1", "u", 2, StatusAwaitingPayment),
			after:   []*Update{event("c1", "u", 3, StatusAwaitingPayment, StatusCancelled)},
			want:    []string{"c1 2 AWAITING_PAYMENT<", "c1 3 CANCELLED<AWAITING_PAYMENT"},
		},
		{
			name:    "no stock: REJECTED completes",
			current: at("r1", "u", 1, StatusPending),
			after:   []*Update{event("r1", "u", 2, StatusPending, StatusRejected)},
			want:    []string{"r1 1 PENDING<", "r1 2 REJECTED<PENDING"},
		},
		{
			name:    "DELIVERED completes",
			current: at("d1", "u", 6, StatusShipped),
			after:   []*Update{event("d1", "u", 7, StatusShipped, StatusDelivered)},
			want:    []string{"d1 6 SHIPPED<", "d1 7 DELIVERED<SHIPPED"},
		},
		{
			name:    "already REFUNDED: the current status, then complete",
			current: at("f1", "u", 9, StatusRefunded),
			want:    []string{"f1 9 REFUNDED<"},
		},
		{
			name:    "final status read again after an event without a version",
			current: at("v1", "u", 2, StatusAwaitingPayment),
			later:   at("v1", "u", 3, StatusCancelled),
			after:   []*Update{event("v1", "u", 0, StatusAwaitingPayment, StatusCancelled)},
			want:    []string{"v1 2 AWAITING_PAYMENT<", "v1 3 CANCELLED<AWAITING_PAYMENT"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := newSnapshots(tc.current)
			f := NewFeed(FeedConfig{Store: store, Now: func() time.Time { return feedT0 }})
			ch := watch(t, f, tc.current.ID, "")
			mine := watch(t, f, "", "u")
			if tc.later != nil {
				store.set(tc.later)
			}
			for _, u := range tc.after {
				f.Publish(u)
			}
			if got := take(t, ch, len(tc.want)); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			select {
			case u, ok := <-ch:
				if ok {
					t.Fatalf("after the final status: %+v, want the channel closed", u)
				}
			case <-time.After(stuck):
				t.Fatal("the subscription did not complete after the final status")
			}
			// It left the feed; a later event (a refund) reaches only the
			// customer's subscription, which is still open.
			deadline := time.Now().Add(stuck)
			for f.Stats().Subscribers != 1 {
				if time.Now().After(deadline) {
					t.Fatalf("%d subscribers, want 1", f.Stats().Subscribers)
				}
				time.Sleep(time.Millisecond)
			}
			f.Publish(event(tc.current.ID, "u", 50, StatusCancelled, StatusRefunded))
			got := take(t, mine, len(tc.after)+1)
			if last := got[len(got)-1]; last != tc.current.ID+" 50 REFUNDED<CANCELLED" {
				t.Errorf("customer's subscription got %v, want the refund last", got)
			}
		})
	}
}

func TestFeedCustomer(t *testing.T) {
	t.Parallel()
	f := NewFeed(FeedConfig{Store: newSnapshots()})
	mine := watch(t, f, "", "ann")
	theirs := watch(t, f, "", "bob")
	f.Publish(event("a1", "ann", 1, "", StatusPending))
	f.Publish(event("b1", "bob", 1, "", StatusPending))
	f.Publish(event("a2", "ann", 1, "", StatusPending))
	f.Publish(event("a1", "ann", 2, StatusPending, StatusAwaitingPayment))
	f.Publish(event("a1", "ann", 2, StatusPending, StatusAwaitingPayment)) // repeated
	f.Publish(event("b1", "bob", 2, StatusPending, StatusAwaitingPayment))
	f.Publish(event("a2", "ann", 2, StatusPending, StatusRejected))
	want := []string{"a1 1 PENDING<", "a2 1 PENDING<", "a1 2 AWAITING_PAYMENT<PENDING", "a2 2 REJECTED<PENDING"}
	if got := take(t, mine, 4); !slices.Equal(got, want) {
		t.Errorf("ann got %v, want %v", got, want)
	}
	want = []string{"b1 1 PENDING<", "b1 2 AWAITING_PAYMENT<PENDING"}
	if got := take(t, theirs, 2); !slices.Equal(got, want) {
		t.Errorf("bob got %v, want %v", got, want)
	}
	if st := f.Stats(); st.Subscribers != 2 || st.Published != 7 || st.Duplicates != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestFeedSlowSubscriber(t *testing.T) {
	t.Parallel()
	const buffer, events = 8, 1000
	store := newSnapshots(at("o1", "c1", 1, StatusPending))
	f := NewFeed(FeedConfig{Store: store, Buffer: buffer})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := f.subscribe(ctx, "o1", "")
	slow.prime(at("o1", "c1", 1, StatusPending))
	fast := watch(t, f, "o1", "")
	if got := take(t, fast, 1); got[0] != "o1 1 PENDING<" {
		t.Fatalf("fast got %v first", got)
	}

	// The slow subscriber reads nothing while every event is published (each
	// once the fast one has the one before): the fast one gets them all, in
	// order.
	for v := 2; v <= events; v++ {
		store.set(at("o1", "c1", v, Status(fmt.Sprint("S", v))))
		f.Publish(event("o1", "c1", v, Status(fmt.Sprint("S", v-1)), Status(fmt.Sprint("S", v))))
		if got, want := take(t, fast, 1)[0], fmt.Sprintf("o1 %d S%d<S%d", v, v, v-1); got != want {
			t.Fatalf("fast got %s, want %s", got, want)
		}
	}
	if st := f.Stats(); st.Overflows == 0 {
		t.Fatalf("the slow subscriber never fell behind: %+v", st)
	}

	// Then the slow one gets its first status and what its buffer held, then
	// the current status, from the last one it got: nothing twice, and
	// nothing missed that it is not told of.
	got := take(t, slow.out, 1)
	for v := 2; ; v++ {
		u := take(t, slow.out, 1)[0]
		got = append(got, u)
		if u == fmt.Sprintf("o1 %d S%d<S%d", v, v, v-1) {
			continue
		}
		if want := fmt.Sprintf("o1 %d S%d<S%d", events, events, v-1); u != want || v != buffer+1 {
			t.Fatalf("slow got %v; want its %d buffered updates, then %s", got, buffer, want)
		}
		break
	}
	f.Publish(event("o1", "c1", events+1, "", StatusRefunded))
	if got := take(t, slow.out, 1); got[0] != fmt.Sprintf("o1 %d REFUNDED<", events+1) {
		t.Errorf("then %v", got)
	}
}

func TestFeedResync(t *testing.T) {
	t.Parallel()
	gap := feedT0.Add(10 * time.Second)
	store := newSnapshots(
		at("o1", "cy", 2, StatusAwaitingPayment),
		at("o2", "bob", 3, StatusAwaitingPayment),
		at("a1", "ann", 3, StatusAwaitingPayment),
	)
	now := gap.Add(-time.Hour) // subscribed well before the gap
	f := NewFeed(FeedConfig{Store: store, GapMargin: time.Second, Now: func() time.Time { return now }, Log: slog.New(slog.DiscardHandler)})
	one := watch(t, f, "o1", "")
	two := watch(t, f, "o2", "")
	ann := watch(t, f, "", "ann")
	f.Publish(event("a1", "ann", 3, StatusPending, StatusAwaitingPayment))
	take(t, one, 1)
	take(t, two, 1)
	take(t, ann, 1)

	// While the subscription was down: o1 moved on twice, o2 only without
	// a status change, a1 was confirmed, and ann placed a2; a3 changed long
	// before the gap.
	store.set(at("o1", "cy", 9, StatusConfirmed))
	store.set(at("o2", "bob", 4, StatusAwaitingPayment))
	store.set(at("a1", "ann", 12, StatusConfirmed))
	store.set(at("a2", "ann", 11, StatusPending))
	store.set(&Order{ID: "a3", CustomerID: "ann", Status: StatusDelivered, Version: 7, UpdatedAt: feedT0})
	f.Resync(context.Background(), gap)

	if got := take(t, one, 1); got[0] != "o1 9 CONFIRMED<AWAITING_PAYMENT" {
		t.Errorf("o1 got %v", got)
	}
	got := take(t, ann, 2)
	slices.Sort(got)
	if want := []string{"a1 12 CONFIRMED<AWAITING_PAYMENT", "a2 11 PENDING<"}; !slices.Equal(got, want) {
		t.Errorf("ann got %v, want %v", got, want)
	}
	// The events lost in the gap are stale now; o2 gets only what is new.
	f.Publish(event("o1", "cy", 9, StatusAwaitingPayment, StatusConfirmed))
	f.Publish(event("o2", "bob", 5, StatusAwaitingPayment, StatusConfirmed))
	f.Publish(event("o1", "cy", 10, StatusConfirmed, StatusShipped))
	if got := take(t, two, 1); got[0] != "o2 5 CONFIRMED<AWAITING_PAYMENT" {
		t.Errorf("o2 got %v", got)
	}
	if got := take(t, one, 1); got[0] != "o1 10 SHIPPED<CONFIRMED" {
		t.Errorf("o1 then got %v", got)
	}

	t.Run("store down", func(t *testing.T) {
		// The subscribers read their statuses on their own once the store
		// answers again.
		store.failing(true)
		store.set(at("o1", "cy", 20, StatusDelivered))
		f.Resync(context.Background(), gap)
		store.failing(false)
		if got := take(t, one, 1); got[0] != "o1 20 DELIVERED<SHIPPED" {
			t.Errorf("o1 got %v", got)
		}
	})
}

func TestFeedUnsubscribe(t *testing.T) {
	t.Parallel()
	f := NewFeed(FeedConfig{Store: newSnapshots(at("o1", "c1", 1, StatusPending))})
	ctx, cancel := context.WithCancel(context.Background())
	s := f.subscribe(ctx, "o1", "")
	s.prime(at("o1", "c1", 1, StatusPending))
	take(t, s.out, 1)
	cancel()
	for range s.out { // until it is closed
	}
	if st := f.Stats(); st.Subscribers != 0 {
		t.Errorf("%d subscribers left", st.Subscribers)
	}
	f.Publish(event("o1", "c1", 2, StatusPending, StatusAwaitingPayment)) // to no one
}
