package users_test

import (
	"strings"
	"testing"
	"time"
)

func testRateLimits(t *testing.T, e *env) {
	cfg := e.config(t)
	cfg.LoginLimitPerAccount, cfg.LoginLimitPerAddress, cfg.LoginLimitWindow = 3, 5, 10*time.Minute
	c := server(t, cfg)
	wrong := func(t *testing.T, cl *client, email string) {
		t.Helper()
		cl.fails(t, "", loginMutation, map[string]any{"in": map[string]any{"email": email, "password": "wrong-password-1"}}, "UNAUTHENTICATED", "")
	}
	limited := func(t *testing.T, cl *client, email, pw string) {
		t.Helper()
		err := cl.fails(t, "", loginMutation, map[string]any{"in": map[string]any{"email": email, "password": pw}}, "RATE_LIMITED", "")
		if !strings.Contains(err.Message, "try again in 10 minutes") {
			t.Fatalf("message %q; want it to say when to retry", err.Message)
		}
	}

	t.Run("per account, even with the right password", func(t *testing.T) {
		t.Parallel()
		email := uniqueEmail("acct")
		c.register(t, email, password, "Acct")
		for range 3 {
			wrong(t, c.from(randomAddr()), email) // from different addresses
		}
		limited(t, c.from(randomAddr()), email, password)
		limited(t, c.from(randomAddr()), strings.ToUpper(email), password)
		// Another account is not affected.
		other := uniqueEmail("other")
		c.register(t, other, password, "Other")
		c.from(randomAddr()).login(t, other, password)
	})

	t.Run("unknown emails are limited too", func(t *testing.T) {
		t.Parallel()
		email := uniqueEmail("ghost")
		for range 3 {
			wrong(t, c.from(randomAddr()), email)
		}
		limited(t, c.from(randomAddr()), email, password)
	})

	t.Run("per address", func(t *testing.T) {
		t.Parallel()
		email := uniqueEmail("victim")
		c.register(t, email, password, "Victim")
		attacker := c.from(randomAddr())
		for range 5 {
			wrong(t, attacker, uniqueEmail("guess")) // a different account each time
		}
		limited(t, attacker, email, password)
		// The gateway's X-Forwarded-For names the client: its first entry counts.
		limited(t, attacker.from(attacker.addr+", 10.0.0.1"), email, password)
		c.from(randomAddr()).login(t, email, password)
	})

	t.Run("a success clears the account's failures", func(t *testing.T) {
		t.Parallel()
		email := uniqueEmail("forgetful")
		c.register(t, email, password, "Forgetful")
		cl := c.from(randomAddr())
		wrong(t, cl, email)
		wrong(t, cl, email)
		cl.login(t, email, password)
		wrong(t, cl, email)
		wrong(t, cl, email)
		cl.login(t, email, password) // 4 failures in the window, but never 3 in a row
	})
}

func testRegisterRateLimit(t *testing.T, e *env) {
	cfg := e.config(t)
	cfg.RegisterLimitPerAddress, cfg.LoginLimitWindow = 3, 10*time.Minute
	c := server(t, cfg)
	reg := func(email string) map[string]any {
		return map[string]any{"in": map[string]any{"email": email, "password": password, "name": "Reg"}}
	}

	t.Run("per address, every attempt counts", func(t *testing.T) {
		t.Parallel()
		cl := c.from(randomAddr())
		cl.register(t, uniqueEmail("reg"), password, "Reg")
		cl.fails(t, "", registerMutation, reg("not-an-email"), "INVALID_INPUT", "") // a failed attempt counts too
		cl.register(t, uniqueEmail("reg"), password, "Reg")
		email := uniqueEmail("reg")
		err := cl.fails(t, "", registerMutation, reg(email), "RATE_LIMITED", "")
		if !strings.Contains(err.Message, "try again in 10 minutes") {
			t.Fatalf("message %q; want it to say when to retry", err.Message)
		}
		// The first entry of X-Forwarded-For counts.
		cl.from(cl.addr+", 10.0.0.1").fails(t, "", registerMutation, reg(email), "RATE_LIMITED", "")
		// Nothing was stored: the email cannot sign in and is still free.
		c.from(randomAddr()).fails(t, "", loginMutation, map[string]any{"in": map[string]any{"email": email, "password": password}}, "UNAUTHENTICATED", "")
		c.from(randomAddr()).register(t, email, password, "Reg")
	})

	t.Run("another address is not affected", func(t *testing.T) {
		t.Parallel()
		cl := c.from(randomAddr())
		for range 3 {
			cl.register(t, uniqueEmail("busy"), password, "Busy")
		}
		cl.fails(t, "", registerMutation, reg(uniqueEmail("busy")), "RATE_LIMITED", "")
		c.from(randomAddr()).register(t, uniqueEmail("other"), password, "Other")
	})
}
