package gateway

import (
	"context"
	"sync"
)

// errorCollector gathers the errors of one request's upstream calls.
//
// The upstream queryer hands its errors to the collector and returns nil to
// nautilus: nautilus's ParallelExecutor funnels step errors through a
// 10-slot channel that the same goroutine drains, and with more than ten
// failing steps (a service down under a list) it can block forever.
type errorCollector struct {
	mu   sync.Mutex
	errs []error
}

type collectorKey struct{}

// withErrorCollector returns a context whose upstream errors go to c.
func withErrorCollector(ctx context.Context) (context.Context, *errorCollector) {
	c := &errorCollector{}
	return context.WithValue(ctx, collectorKey{}, c), c
}

// report hands err to the request's collector, if ctx has one, and returns
// what the queryer should return to nautilus.
func report(ctx context.Context, err error) error {
	c, ok := ctx.Value(collectorKey{}).(*errorCollector)
	if !ok || err == nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, flatten(err)...)
	return nil
}

// all returns the errors collected so far.
func (c *errorCollector) all() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.errs...)
}
