package users_test

import (
	"context"
	"testing"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/subgraphs/users"
)

func testAdmin(t *testing.T, e *env, c *client) {
	t.Run("creates the admin", func(t *testing.T) {
		t.Parallel()
		cfg := e.config(t)
		cfg.AdminEmail, cfg.AdminPassword = uniqueEmail("Root"), "admin-pass-2026!"
		ac := server(t, cfg)
		p := ac.login(t, cfg.AdminEmail, cfg.AdminPassword)
		if p.User.Role != "ADMIN" {
			t.Fatalf("admin's role %s", p.User.Role)
		}
		// Starting again (a restart, another replica) changes nothing.
		server(t, cfg)
		if n := e.count(t, `SELECT count(*) FROM users WHERE email = lower($1)`, cfg.AdminEmail); n != 1 {
			t.Fatalf("%d admin users", n)
		}
	})

	t.Run("promotes an existing user and sets the password", func(t *testing.T) {
		t.Parallel()
		email := uniqueEmail("promoted")
		c.register(t, email, password, "Promoted")
		cfg := e.config(t)
		cfg.AdminEmail, cfg.AdminPassword = email, "new-admin-pass-9"
		ac := server(t, cfg)
		p := ac.login(t, email, "new-admin-pass-9")
		if p.User.Role != "ADMIN" || p.User.Name != "Promoted" {
			t.Fatalf("promoted user %+v", p.User)
		}
		ac.fails(t, "", loginMutation, map[string]any{"in": map[string]any{"email": email, "password": password}}, "UNAUTHENTICATED", "")
	})

	t.Run("refuses a weak admin password", func(t *testing.T) {
		t.Parallel()
		cfg := e.config(t)
		cfg.AdminEmail, cfg.AdminPassword = uniqueEmail("weak"), "admin"
		_, err := users.New(context.Background(), cfg)
		if apperr.Code(err) != apperr.InvalidInput {
			t.Fatalf("New with a weak admin password: %v; want INVALID_INPUT", err)
		}
	})
}
