package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"github.com/shopgraph/shopgraph/internal/auth"
)

// Deduplication of in-flight upstream queries.
//
// When several requests send a service the same query with the same
// variables for the same caller while the first is still in flight, they
// share its response: one upstream request instead of many. This is what
// Hive Gateway and Cosmo Router do by default. Mutations are never shared,
// and neither are queries of different callers: the key holds the caller's
// verified token (or none), the service, the document, the operation name
// and the variables. Config.DisableDedupe turns it off.
//
// Written by hand rather than with golang.org/x/sync/singleflight, whose
// shared call runs on its first caller's context: here the call runs on a
// context of its own, cancelled when every caller waiting for it has gone,
// so that one client going does not fail the others, and no call outlives
// all of them.

// flight coalesces identical in-flight calls.
type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done    chan struct{}
	data    json.RawMessage
	err     error
	waiters int
	cancel  context.CancelFunc
}

func newFlight() *flight { return &flight{calls: map[string]*flightCall{}} }

// do returns the result of fn for key: of a call already in flight for key,
// or of a new one. fn runs on a context that carries ctx's values and ends
// when every caller waiting for it has returned. A caller whose ctx ends
// first gets ctx's error.
func (f *flight) do(ctx context.Context, key string, fn func(context.Context) (json.RawMessage, error)) (json.RawMessage, error) {
	f.mu.Lock()
	c, ok := f.calls[key]
	if !ok {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &flightCall{done: make(chan struct{}), cancel: cancel}
		f.calls[key] = c
		go func() {
			c.data, c.err = fn(cctx)
			f.forget(key, c)
			cancel()
			close(c.done)
		}()
	}
	c.waiters++
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.data, c.err
	case <-ctx.Done():
		f.mu.Lock()
		c.waiters--
		last := c.waiters == 0
		if last && f.calls[key] == c {
			delete(f.calls, key) // a caller arriving now starts afresh
		}
		f.mu.Unlock()
		if last {
			c.cancel()
		}
		return nil, ctx.Err()
	}
}

// forget removes c from the calls in flight, so that later callers start
// a call of their own.
func (f *flight) forget(key string, c *flightCall) {
	f.mu.Lock()
	if f.calls[key] == c {
		delete(f.calls, key)
	}
	f.mu.Unlock()
}

// sendQuery sends a query to the service like send, sharing the response of
// an identical query of the same caller in flight (see flight), unless
// deduplication is off.
func (u *upstream) sendQuery(ctx context.Context, query string, variables map[string]any, operationName string) (json.RawMessage, error) {
	if u.flight == nil {
		return u.send(ctx, query, variables, operationName)
	}
	vars, err := json.Marshal(variables) // map keys sorted: one text per value
	if err != nil {
		return u.send(ctx, query, variables, operationName)
	}
	token := ""
	if id, ok := auth.FromContext(ctx); ok {
		token = id.Token
	}
	key := strings.Join([]string{token, u.service.Name, operationName, query, string(vars)}, "\x00")
	data, err := u.flight.do(ctx, key, func(ctx context.Context) (json.RawMessage, error) {
		return u.send(ctx, query, variables, operationName)
	})
	if ctxErr := ctx.Err(); ctxErr != nil && err == ctxErr {
		return nil, u.fail(codeUnavailable, err)
	}
	return data, err
}
