package graph

import (
	"os"
	"testing"
	"time"
)

// TestMain gives the loaders a generous wait: on a busy test machine the
// resolvers of a list's elements can start more than the production wait
// apart, which would split a batch these tests expect whole.
func TestMain(m *testing.M) {
	wait = 50 * time.Millisecond
	os.Exit(m.Run())
}
