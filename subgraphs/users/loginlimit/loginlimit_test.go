package loginlimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/users/loginlimit"
)

func newLimiter(t *testing.T, perAccount, perAddress int, window time.Duration) *loginlimit.Limiter {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	l, err := loginlimit.New(loginlimit.Config{Redis: rdb, Prefix: prefix, PerAccount: perAccount, PerAddress: perAddress, Window: window})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func reserve(t *testing.T, l *loginlimit.Limiter, account, addr string) time.Duration {
	t.Helper()
	wait, err := l.Reserve(context.Background(), account, addr)
	if err != nil {
		t.Fatal(err)
	}
	return wait
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("account limit", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 3, 100, time.Minute)
		for i := range 3 {
			if w := reserve(t, l, "ada", "10.0.0."+string(rune('1'+i))); w != 0 {
				t.Fatalf("attempt %d refused (wait %v)", i+1, w)
			}
		}
		w := reserve(t, l, "ada", "10.0.0.9")
		if w <= 55*time.Second || w > time.Minute {
			t.Fatalf("4th attempt on the account: wait %v; want about a minute", w)
		}
		if w := reserve(t, l, "bob", "10.0.0.9"); w != 0 {
			t.Fatalf("another account refused (wait %v)", w)
		}
	})

	t.Run("address limit", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 100, 2, time.Minute)
		_ = reserve(t, l, "a", "10.0.0.1")
		_ = reserve(t, l, "b", "10.0.0.1")
		if w := reserve(t, l, "c", "10.0.0.1"); w == 0 {
			t.Fatal("3rd attempt from one address allowed")
		}
		if w := reserve(t, l, "c", "10.0.0.2"); w != 0 {
			t.Fatalf("another address refused (wait %v)", w)
		}
		if w := reserve(t, l, "c", ""); w != 0 {
			t.Fatalf("unknown address refused (wait %v)", w)
		}
	})

	t.Run("a refused attempt counts nothing", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 1, 2, time.Minute)
		_ = reserve(t, l, "ada", "10.0.0.1")
		for range 5 {
			if w := reserve(t, l, "ada", "10.0.0.1"); w == 0 {
				t.Fatal("attempt over the account limit allowed")
			}
		}
		// The address has spent one attempt, not six.
		if w := reserve(t, l, "bob", "10.0.0.1"); w != 0 {
			t.Fatalf("address locked by refused attempts (wait %v)", w)
		}
	})

	t.Run("success clears the account and gives the address its attempt back", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 2, 2, time.Minute)
		_ = reserve(t, l, "ada", "10.0.0.1")
		_ = reserve(t, l, "ada", "10.0.0.1")
		if err := l.Succeeded(ctx, "ada", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if w := reserve(t, l, "ada", "10.0.0.2"); w != 0 {
			t.Fatalf("account still limited after a success (wait %v)", w)
		}
		// 10.0.0.1 had 2 failures and got 1 back: one more attempt, then no.
		if w := reserve(t, l, "bob", "10.0.0.1"); w != 0 {
			t.Fatalf("address not given its attempt back (wait %v)", w)
		}
		if w := reserve(t, l, "carol", "10.0.0.1"); w == 0 {
			t.Fatal("address over its limit allowed")
		}
	})

	t.Run("window ends", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 1, 10, 300*time.Millisecond)
		_ = reserve(t, l, "ada", "10.0.0.1")
		if w := reserve(t, l, "ada", "10.0.0.1"); w == 0 || w > 300*time.Millisecond {
			t.Fatalf("wait %v; want (0, 300ms]", w)
		}
		time.Sleep(400 * time.Millisecond)
		if w := reserve(t, l, "ada", "10.0.0.1"); w != 0 {
			t.Fatalf("still limited after the window (wait %v)", w)
		}
	})

	t.Run("concurrent attempts cannot exceed the limit", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, 5, 1000, time.Minute)
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if w, err := l.Reserve(ctx, "ada", "10.0.0.1"); err == nil && w == 0 {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if n := allowed.Load(); n != 5 {
			t.Fatalf("%d of 50 concurrent attempts allowed; want 5", n)
		}
	})
}
