package notifytest

import (
	"testing"
	"time"
)

// Await polls cond until it holds. It asserts nothing about time: it waits
// as long as the test may run, and fails the test only when the test's
// deadline (go test -timeout) is near, naming what it waited for.
func Await(t testing.TB, what string, cond func() bool) {
	t.Helper()
	var deadline time.Time
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		deadline, _ = d.Deadline()
	}
	for !cond() {
		if !deadline.IsZero() && time.Until(deadline) < 10*time.Second {
			t.Fatalf("still waiting for %s when the test's deadline came near", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
