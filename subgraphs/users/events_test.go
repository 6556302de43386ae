package users_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/users"
)

// TestRegisterPublishesUserRegistered: a sign-up reaches users.events on
// Redis (for the welcome email); a refused sign-up publishes nothing.
func TestRegisterPublishesUserRegistered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.config(t)
	streamPrefix := e.prefix + "streams:"
	c.StreamPrefix = streamPrefix
	svc, err := users.New(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = svc.Run(ctx) }()
	srv := httptest.NewServer(svc.Handler)
	defer srv.Close()
	cl := &client{url: srv.URL, addr: randomAddr()}

	email := "welcome-" + testenv.ID() + "@example.com"
	reg := `mutation($i: RegisterInput!) { register(input: $i) { user { id } } }`
	if r := cl.do(t, "", reg, map[string]any{"i": map[string]any{"email": email, "password": "Sturdy-Pass-2026", "name": "Grace"}}); len(r.Errors) > 0 {
		t.Fatalf("register: %+v", r.Errors)
	}
	if r := cl.do(t, "", reg, map[string]any{"i": map[string]any{"email": email, "password": "Sturdy-Pass-2026", "name": "Again"}}); len(r.Errors) == 0 {
		t.Fatal("duplicate registration succeeded")
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		msgs, err := e.rdb.XRange(ctx, streamPrefix+contract.UserEvents, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) > 0 {
			var got []contract.UserRegistered
			for _, x := range msgs {
				m, err := events.FromStream(x.Values)
				if err != nil {
					t.Fatal(err)
				}
				p, err := events.Decode[contract.UserRegistered](m)
				if err != nil || m.Type != contract.TypeUserRegistered {
					t.Fatalf("message %s: %v", m.Type, err)
				}
				got = append(got, p)
			}
			if len(got) != 1 || got[0].Email != email || got[0].Name != "Grace" || got[0].UserID == "" {
				t.Fatalf("users.events = %+v, want one UserRegistered for %s", got, email)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no UserRegistered on users.events within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
