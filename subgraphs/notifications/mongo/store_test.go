package mongo_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/mongo"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/notification"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func newStore(t *testing.T) *mongo.Store {
	t.Helper()
	db := testenv.Mongo(t, "notifications")
	s, err := mongo.NewStore(t.Context(), db, testenv.Logger())
	if err != nil {
		t.Fatal(err)
	}
	// Indexes exist already at every start but the first.
	if _, err := mongo.NewStore(t.Context(), db, testenv.Logger()); err != nil {
		t.Fatalf("second NewStore: %v", err)
	}
	return s
}

func pending(id, user string, created time.Time) *notification.Notification {
	return &notification.Notification{
		ID: id, UserID: user, Kind: notification.KindOrderShipped, Channel: notification.ChannelEmail,
		Recipient: "ada@example.com", RecipientName: "Ada", Subject: "Shipped", Body: "text", HTML: "<p>html</p>",
		OrderID: "o1", Status: notification.StatusPending, CreatedAt: created, DueAt: created,
	}
}

func TestCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	n := pending("m1:email", "u1", t0)
	created, err := s.Create(ctx, n)
	if err != nil || !created {
		t.Fatalf("first Create = %v, %v; want true", created, err)
	}
	again := pending("m1:email", "u1", t0.Add(time.Hour))
	again.Subject = "Other"
	created, err = s.Create(ctx, again)
	if err != nil || created {
		t.Fatalf("second Create = %v, %v; want false, nil", created, err)
	}
	got, err := s.Notifications(ctx, []string{"m1:email", "missing"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["m1:email"].Subject != "Shipped" || !got["m1:email"].CreatedAt.Equal(t0) {
		t.Fatalf("stored %+v; want the first one only", got)
	}
	g := got["m1:email"]
	if g.HTML != "<p>html</p>" || g.OrderID != "o1" || g.RecipientName != "Ada" || !g.SentAt.IsZero() {
		t.Errorf("round trip lost fields: %+v", g)
	}
}

func TestListByUserPagesNewestFirst(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	// Five of u1's, two sharing a creation time (ties go by ID), one of u2's.
	for i, at := range []time.Duration{0, time.Second, time.Second, 2 * time.Second, 3 * time.Second} {
		if _, err := s.Create(ctx, pending(fmt.Sprintf("m%d:email", i), "u1", t0.Add(at))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, pending("other:email", "u2", t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	var ids []string
	var after *notification.Cursor
	for range 10 {
		page, err := s.ListByUser(ctx, "u1", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, n := range page {
			ids = append(ids, n.ID)
		}
		c := notification.CursorOf(page[len(page)-1])
		after = &c
	}
	want := []string{"m4:email", "m3:email", "m2:email", "m1:email", "m0:email"}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("pages gave %v, want %v", ids, want)
	}
}

// claimDue claims as the worker does: the first of the due IDs that it wins.
func claimDue(t *testing.T, s *mongo.Store, now, leaseUntil time.Time) *notification.Notification {
	t.Helper()
	ids, err := s.Due(t.Context(), now, 16)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		n, err := s.Claim(t.Context(), id, now, leaseUntil)
		if err != nil {
			t.Fatal(err)
		}
		if n != nil {
			return n
		}
	}
	return nil
}

func TestClaimAndFinish(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	early, late := pending("early:email", "u1", t0), pending("late:email", "u1", t0)
	late.DueAt = t0.Add(time.Minute)
	for _, n := range []*notification.Notification{late, early} {
		if _, err := s.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if next, ok, err := s.NextDue(ctx); err != nil || !ok || !next.Equal(t0) {
		t.Fatalf("NextDue = %v, %v, %v; want %v", next, ok, err, t0)
	}

	lease := t0.Add(time.Minute)
	n := claimDue(t, s, t0, lease)
	if n == nil || n.ID != "early:email" || n.Attempts != 1 || n.Claim == "" || !n.DueAt.Equal(lease) {
		t.Fatalf("claimed %+v; want early, attempt 1, held until the lease ends", n)
	}
	w1 := n.Claim
	// late is not due yet and early is held, asked for by ID or not.
	if n := claimDue(t, s, t0.Add(time.Second), lease); n != nil {
		t.Fatalf("second claim = %+v; want nothing due", n)
	}
	for _, id := range []string{"early:email", "late:email", "missing"} {
		if n, err := s.Claim(ctx, id, t0.Add(time.Second), lease); err != nil || n != nil {
			t.Fatalf("Claim(%s) = %+v, %v; want nothing", id, n, err)
		}
	}

	if _, err := s.Finish(ctx, "early:email", "w1", notification.StatusSent, "", t0, time.Time{}); err == nil {
		t.Fatal("Finish with a claim that Claim did not make succeeded")
	}
	retry := t0.Add(30 * time.Second)
	if held, err := s.Finish(ctx, "early:email", w1, notification.StatusPending, "mail server unavailable", t0, retry); err != nil || !held {
		t.Fatalf("Finish(retry) = %v, %v", held, err)
	}
	if held, err := s.Finish(ctx, "early:email", w1, notification.StatusSent, "", t0, time.Time{}); err != nil || held {
		t.Fatalf("second Finish under one claim = %v, %v; want false", held, err)
	}
	// Due again at retry, before late.
	n = claimDue(t, s, retry, retry.Add(time.Minute))
	if n == nil || n.ID != "early:email" || n.Attempts != 2 || n.LastError != "mail server unavailable" || n.Claim == w1 {
		t.Fatalf("claim after retry = %+v", n)
	}
	sent := retry.Add(time.Second)
	if held, err := s.Finish(ctx, "early:email", n.Claim, notification.StatusSent, "", sent, time.Time{}); err != nil || !held {
		t.Fatalf("Finish(sent) = %v, %v", held, err)
	}
	got, _ := s.Notifications(ctx, []string{"early:email"})
	if e := got["early:email"]; e.Status != notification.StatusSent || !e.SentAt.Equal(sent) || e.Claim != "" || e.Attempts != 2 {
		t.Errorf("after Finish: %+v", e)
	}

	// A lease that runs out makes the notification due again.
	w4 := claimDue(t, s, t0.Add(2*time.Minute), t0.Add(3*time.Minute))
	if w4 == nil || w4.ID != "late:email" {
		t.Fatalf("claim late = %+v", w4)
	}
	w5 := claimDue(t, s, t0.Add(4*time.Minute), t0.Add(5*time.Minute))
	if w5 == nil || w5.ID != "late:email" || w5.Attempts != 2 || w5.Claim == w4.Claim {
		t.Fatalf("claim after the lease ran out = %+v", w5)
	}
	if held, err := s.Finish(ctx, "late:email", w4.Claim, notification.StatusFailed, "x", t0, time.Time{}); err != nil || held {
		t.Fatalf("Finish by the worker whose lease ran out = %v, %v; want false", held, err)
	}
	if held, err := s.Finish(ctx, "late:email", w5.Claim, notification.StatusFailed, "refused", t0, time.Time{}); err != nil || !held {
		t.Fatalf("Finish(failed) = %v, %v", held, err)
	}
	if _, ok, err := s.NextDue(ctx); err != nil || ok {
		t.Errorf("NextDue after all finished = %v, %v; want none", ok, err)
	}
	if ids, err := s.Due(ctx, t0.Add(time.Hour), 16); err != nil || len(ids) != 0 {
		t.Errorf("Due after all finished = %v, %v; want none", ids, err)
	}
}

// TestConcurrentClaimsHaveOneWinner: workers racing for one notification
// by ID; exactly one holds it, and only its outcome is recorded.
func TestConcurrentClaimsHaveOneWinner(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := t.Context()
	if _, err := s.Create(ctx, pending("hot:email", "u1", t0)); err != nil {
		t.Fatal(err)
	}
	const workers = 8
	var mu sync.Mutex
	var winners []*notification.Notification
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			n, err := s.Claim(ctx, "hot:email", t0, t0.Add(time.Minute+time.Duration(i)*time.Millisecond))
			if err != nil {
				t.Error(err)
				return
			}
			if n != nil {
				mu.Lock()
				winners = append(winners, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d workers claimed it, want 1", len(winners))
	}
	if held, err := s.Finish(ctx, "hot:email", winners[0].Claim, notification.StatusSent, "", t0, time.Time{}); err != nil || !held {
		t.Fatalf("winner's Finish = %v, %v", held, err)
	}
	got, _ := s.Notifications(ctx, []string{"hot:email"})
	if n := got["hot:email"]; n.Status != notification.StatusSent || n.Attempts != 1 {
		t.Errorf("after the race: %+v; want SENT after one attempt", n)
	}
}

func TestSaveRecipientKeepsTheNewestValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		saves []notification.Recipient
		ats   []time.Duration
		want  notification.Recipient
	}{
		{
			name:  "first save",
			saves: []notification.Recipient{{Email: "a@example.com", Name: "Ada"}},
			ats:   []time.Duration{0},
			want:  notification.Recipient{Email: "a@example.com", Name: "Ada"},
		},
		{
			name:  "a newer email replaces, the name stays",
			saves: []notification.Recipient{{Email: "a@example.com", Name: "Ada"}, {Email: "b@example.com"}},
			ats:   []time.Duration{0, time.Minute},
			want:  notification.Recipient{Email: "b@example.com", Name: "Ada"},
		},
		{
			name:  "an older email delivered late does not replace",
			saves: []notification.Recipient{{Email: "new@example.com"}, {Email: "old@example.com", Name: "Ada"}},
			ats:   []time.Duration{time.Minute, 0},
			want:  notification.Recipient{Email: "new@example.com", Name: "Ada"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			for i, r := range tt.saves {
				r.UserID = "u1"
				if err := s.SaveRecipient(t.Context(), r, t0.Add(tt.ats[i])); err != nil {
					t.Fatal(err)
				}
			}
			got, ok, err := s.Recipient(t.Context(), "u1")
			tt.want.UserID = "u1"
			if err != nil || !ok || got != tt.want {
				t.Errorf("Recipient = %+v, %v, %v; want %+v", got, ok, err, tt.want)
			}
		})
	}
}

func TestPreferences(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	got, err := s.Preferences(ctx, "u1")
	if err != nil || got != notification.DefaultPreferences() {
		t.Fatalf("Preferences of a new user = %+v, %v; want the defaults", got, err)
	}
	if _, ok, err := s.Recipient(ctx, "u1"); err != nil || ok {
		t.Fatalf("Recipient of an unknown user = %v, %v", ok, err)
	}
	for _, p := range []notification.Preferences{
		{EmailEnabled: false, SMSEnabled: true, Phone: "+14155550123", UpdatedAt: t0},
		{EmailEnabled: true, SMSEnabled: false, Phone: "", UpdatedAt: t0.Add(time.Minute)},
	} {
		if err := s.SetPreferences(ctx, "u1", p); err != nil {
			t.Fatal(err)
		}
		got, err := s.Preferences(ctx, "u1")
		if err != nil || got != p {
			t.Errorf("Preferences = %+v, %v; want %+v", got, err, p)
		}
	}
}
