package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/shopgraph/shopgraph/internal/auth"
)

// serveSSE answers a request with Accept: text/event-stream in graphql-sse's
// "distinct connections" format: a POST with a JSON body, or a GET with the
// query in the URL (EventSource). Each result is an `event: next` whose data
// is the result's JSON, and `event: complete` ends the stream. A request
// refused before execution gets its HTTP status and a JSON body, like any
// GraphQL request; the caller's token, if any, has been verified by
// authenticate (401 otherwise). SSE has no error event: a subscription that
// fails or is refused by its service ends with a `next` carrying the errors,
// then `complete`.
func (s *subscriptions) serveSSE(w http.ResponseWriter, r *http.Request, next http.Handler) {
	var raw []byte
	body := r.Body
	// restore gives the query path the body as it came.
	restore := func() {
		if raw != nil {
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(raw), body), body}
		}
	}
	if r.Method == http.MethodPost {
		// Keep the body for the query path; readParams enforces the limit.
		b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
		if err != nil {
			writeErrors(w, http.StatusBadRequest, requestError(codeBadRequest, "cannot read the request body"))
			return
		}
		raw = b
		r.Body = io.NopCloser(bytes.NewReader(raw))
	}
	// A client that lists text/event-stream but prefers JSON (urql) gets
	// Server-Sent Events for subscriptions only.
	streamAll := negotiate(r).preferred == mediaEventStream
	p, status, perr := readParams(w, r)
	if perr != nil {
		if !streamAll {
			restore()
			next.ServeHTTP(w, r)
			return
		}
		writeErrors(w, status, perr)
		return
	}
	req, status, errs := s.prepare(p)
	if len(errs) > 0 {
		if n := negotiate(r); n.preferred == mediaGraphQLResponse {
			writeJSONAs(w, status, n.preferred, response{Errors: errs})
			return
		}
		writeErrors(w, status, errs...)
		return
	}
	if req == nil {
		restore()
		if !streamAll {
			next.ServeHTTP(w, r)
			return
		}
		s.serveSSESingle(w, r, next)
		return
	}
	info := infoFrom(r.Context())
	info.operation = req.operationName
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	done, ok := s.register(&liveConn{shutdown: cancel})
	if !ok {
		writeErrors(w, http.StatusServiceUnavailable, requestError(codeUnavailable, subscriptionShuttingDownMessage))
		return
	}
	defer done()
	st := newSSEStream(w, s.opts.KeepAlive, cancel)
	st.start()
	var wg sync.WaitGroup
	wg.Go(func() { st.keepAlive(ctx) })
	defer func() {
		// Nothing may write to w once the handler returns.
		cancel()
		wg.Wait()
		st.end()
	}()
	c := caller{requestID: info.requestID, clientAddr: info.clientAddr}
	if id, ok := auth.FromContext(r.Context()); ok {
		c.token = id.Token
		// See "Expired tokens" in subscription.go. fail ends the stream, so
		// the relay's later writes are dropped.
		afterExpiry(ctx, &id, func() {
			st.fail(tokenExpiredErrors())
			cancel()
		})
	}
	s.relay(ctx, req, c, st)
}

// serveSSESingle answers a query or mutation asked for as an event stream
// through the query path: one `next`, then `complete`; a refused request
// keeps its status and JSON body.
func (s *subscriptions) serveSSESingle(w http.ResponseWriter, r *http.Request, next http.Handler) {
	rec := record(next, r)
	if rec.status != http.StatusOK {
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
		return
	}
	st := newSSEStream(w, s.opts.KeepAlive, func() {})
	st.start()
	st.next(compactJSON(bytes.TrimSpace(rec.body.Bytes())))
	st.complete()
	st.end()
}

// sseStream writes the events of one response; it is the sink of its relay.
type sseStream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	broken  func() // called when a write fails: the client is gone or stuck

	mu    sync.Mutex
	ended bool
}

var _ sink = (*sseStream)(nil)

func newSSEStream(w http.ResponseWriter, timeout time.Duration, broken func()) *sseStream {
	return &sseStream{w: w, rc: http.NewResponseController(w), timeout: timeout, broken: broken}
}

// start sends the headers and a first comment, so that the client knows the
// stream is open.
func (st *sseStream) start() {
	h := st.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	st.w.WriteHeader(http.StatusOK)
	st.write(false, []byte(":\n\n"))
}

// write sends b and flushes it, unless the stream has ended; last ends it.
func (st *sseStream) write(last bool, parts ...[]byte) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended {
		return
	}
	st.ended = last
	// A client that does not read must not hold the relay forever.
	_ = st.rc.SetWriteDeadline(time.Now().Add(st.timeout))
	for _, p := range parts {
		if _, err := st.w.Write(p); err != nil {
			st.ended = true
			st.broken()
			return
		}
	}
	if err := st.rc.Flush(); err != nil {
		st.ended = true
		st.broken()
	}
}

// end stops all writes and clears the write deadline, which would outlive
// the response on a kept-alive connection.
func (st *sseStream) end() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ended = true
	_ = st.rc.SetWriteDeadline(time.Time{})
}

func (st *sseStream) next(result []byte) {
	st.write(false, []byte("event: next\ndata: "), result, []byte("\n\n"))
}

func (st *sseStream) fail(errs []byte) {
	st.write(false, []byte(`event: next`+"\n"+`data: {"errors":`), errs, []byte("}\n\n"))
	st.complete()
}

func (st *sseStream) complete() {
	// The empty data line makes EventSource dispatch the event.
	st.write(true, []byte("event: complete\ndata:\n\n"))
}

// keepAlive writes a comment every interval until ctx ends, so that proxies
// keep the stream open and a vanished client is noticed.
func (st *sseStream) keepAlive(ctx context.Context) {
	t := time.NewTicker(st.timeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st.write(false, []byte(":\n\n"))
		}
	}
}
