package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The graphql-transport-ws protocol (github.com/enisdenjo/graphql-ws,
// PROTOCOL.md) and the legacy graphql-ws one (apollographql/
// subscriptions-transport-ws, PROTOCOL.md).
const (
	protoTransportWS = "graphql-transport-ws"
	protoLegacyWS    = "graphql-ws"

	msgConnectionInit  = "connection_init"
	msgConnectionAck   = "connection_ack"
	msgPing            = "ping"
	msgPong            = "pong"
	msgSubscribe       = "subscribe"
	msgNext            = "next"
	msgError           = "error"
	msgComplete        = "complete"
	msgLegacyStart     = "start"
	msgLegacyData      = "data"
	msgLegacyStop      = "stop"
	msgLegacyKeepAlive = "ka"
	msgLegacyConnError = "connection_error"
	msgLegacyTerminate = "connection_terminate"
)

// Close codes of graphql-transport-ws.
const (
	closeBadRequest           websocket.StatusCode = 4400
	closeUnauthorized         websocket.StatusCode = 4401
	closeForbidden            websocket.StatusCode = 4403
	closeSubprotocolNotAccept websocket.StatusCode = 4406
	closeInitTimeout          websocket.StatusCode = 4408
	closeSubscriberExists     websocket.StatusCode = 4409
	closeTooManyInitRequests  websocket.StatusCode = 4429
	closeInternalServerError  websocket.StatusCode = 4500
	closeGoingAway                                 = websocket.StatusGoingAway
	closeNormal                                    = websocket.StatusNormalClosure
)

const (
	// maxClientMessage bounds a message from a websocket client.
	maxClientMessage = maxRequestBody
	// upstreamCloseGrace bounds the close of an upstream websocket.
	upstreamCloseGrace = 2 * time.Second
	// minPongWait is the least time a peer has to answer a websocket ping.
	minPongWait = 5 * time.Second
)

// wsMessage is a message of either websocket protocol.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// caller is who a subscription runs for.
type caller struct {
	token      string // the verified bearer token, or ""
	requestID  string
	clientAddr string
}

// sink receives a subscription's results in the client's protocol. Writes
// after the client stopped the subscription are dropped.
type sink interface {
	// next sends one execution result, a JSON object.
	next(result []byte)
	// fail ends the subscription with errors, a JSON array of GraphQL errors.
	fail(errs []byte)
	// complete ends the subscription.
	complete()
}

// relay runs one client subscription: it opens the subscription on the
// owning service, as one operation of a pooled upstream connection, and
// forwards what the service sends to out until the service completes or
// fails it, or ctx ends (the client stopped, left, or the gateway shuts
// down; then nothing more is sent to out).
func (s *subscriptions) relay(ctx context.Context, req *subscriptionRequest, c caller, out sink) {
	log := s.g.log.With("request_id", c.requestID, "service", req.service.Name, "field", req.field)
	op, gerr := s.pool.subscribe(ctx, req, c, log)
	if gerr != nil {
		if ctx.Err() == nil {
			out.fail(errorsJSON(gerr))
		}
		return
	}
	defer op.release()

	// gqlgen sends a subscription its resolver refused (UNAUTHENTICATED,
	// FORBIDDEN, …) as one `next` with errors and null data, then
	// `complete`. That is a refusal, not an event: it goes to the client as
	// an `error`. So a first result without data waits for what follows it.
	var held []byte
	first := true
	for {
		var m wsMessage
		var ok bool
		select {
		case <-ctx.Done():
			return // the client stopped: what the service still sends is not for it
		case m, ok = <-op.msgs:
		}
		if ctx.Err() != nil {
			return
		}
		if !ok {
			if op.overflow {
				log.WarnContext(ctx, "subscription client fell behind its events", "buffered", upstreamOpBuffer)
				out.fail(errorsJSON(&gqlerror.Error{Message: subscriptionTooSlowMessage,
					Extensions: map[string]any{"code": codeUnavailable, "service": req.service.Name}}))
				return
			}
			log.WarnContext(ctx, "subscription upstream failed", "err", op.conn.err)
			out.fail(errorsJSON(&gqlerror.Error{Message: fmt.Sprintf(subscriptionServiceEndedMessage, req.service.Name),
				Extensions: map[string]any{"code": codeUnavailable, "service": req.service.Name}}))
			return
		}
		switch m.Type {
		case msgNext:
			result := tagErrors(m.Payload, req.service.Name)
			if held != nil {
				out.next(held)
				held = nil
			}
			if first && isRefusal(result) {
				held = result
			} else {
				out.next(result)
			}
			first = false
		case msgError:
			if held != nil {
				out.next(held)
			}
			out.fail(tagErrorList(m.Payload, req.service.Name))
			return
		case msgComplete:
			if held != nil {
				out.fail(refusalErrors(held))
				return
			}
			out.complete()
			return
		}
	}
}

// Multiplexing. Every client subscription is one operation on one of a few
// graphql-transport-ws websockets per service (a gateway with a websocket
// per client subscription would need two file descriptors per subscriber).
// A pooled connection is initialised without a token; each operation
// carries its caller's token in extensions.authorization, which the
// subgraph verifies for that operation alone (internal/subgraph). A new
// connection is opened when every open one carries upstreamOpsPerConn
// operations; one is closed when its last operation ends.
const (
	// upstreamOpsPerConn is how many operations a pooled upstream
	// connection carries at most.
	upstreamOpsPerConn = 2500
	// upstreamOpBuffer is how many messages of the service an operation
	// holds for a client that is slower than its events; beyond it the
	// client gets an error rather than holding up the other operations of
	// the connection.
	upstreamOpBuffer = 512
)

const subscriptionTooSlowMessage = "the subscription's events came faster than the client read them; subscribe again"

// upstreamPool holds the pooled upstream connections of every service.
type upstreamPool struct {
	s      *subscriptions
	mu     sync.Mutex
	conns  map[string][]*upstreamConn // by service name
	nextID atomic.Uint64
	// perConn is upstreamOpsPerConn; tests lower it.
	perConn int
}

func newUpstreamPool(s *subscriptions) *upstreamPool {
	return &upstreamPool{s: s, conns: map[string][]*upstreamConn{}, perConn: upstreamOpsPerConn}
}

// upstreamConn is one graphql-transport-ws websocket to a service, shared
// by many operations.
type upstreamConn struct {
	pool    *upstreamPool
	service Service
	ready   chan struct{} // closed once initialised, or failed (dialErr)
	dialErr *gqlerror.Error
	conn    *websocket.Conn

	// Guarded by pool.mu.
	count int  // operations counted against the connection
	dead  bool // out of the pool

	mu  sync.Mutex
	ops map[string]*upstreamOp
	err error // why it died
}

// upstreamOp is one client subscription on a pooled connection.
type upstreamOp struct {
	conn     *upstreamConn
	id       string
	msgs     chan wsMessage // closed when the connection died or overflow
	overflow bool           // set before msgs is closed
	released atomic.Bool
}

// subscribe starts req as an operation on a pooled connection to its
// service. Its error is what the client gets.
func (p *upstreamPool) subscribe(ctx context.Context, req *subscriptionRequest, c caller, log *slog.Logger) (*upstreamOp, *gqlerror.Error) {
	svc := req.service
	uc := p.acquire(svc, log)
	select {
	case <-uc.ready:
	case <-ctx.Done():
		p.put(uc)
		return nil, requestError(codeUnavailable, "cancelled")
	}
	if uc.dialErr != nil {
		p.put(uc)
		return nil, uc.dialErr
	}
	payload := map[string]any{
		"query":         req.query,
		"operationName": req.operationName,
		"variables":     req.variables,
	}
	if c.token != "" {
		payload["extensions"] = map[string]any{"authorization": "Bearer " + c.token}
	}
	sub, err := json.Marshal(payload)
	if err != nil {
		p.put(uc)
		return nil, requestError(codeInternal, "internal error")
	}
	op := &upstreamOp{conn: uc, id: strconv.FormatUint(p.nextID.Add(1), 36), msgs: make(chan wsMessage, upstreamOpBuffer)}
	uc.mu.Lock()
	if uc.ops == nil { // died meanwhile
		cause := uc.err
		uc.mu.Unlock()
		p.put(uc)
		return nil, uc.unavailable(ctx, log, cause)
	}
	uc.ops[op.id] = op
	uc.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, p.s.g.cfg.UpstreamTimeout)
	err = uc.write(wctx, wsMessage{ID: op.id, Type: msgSubscribe, Payload: sub})
	cancel()
	if err != nil {
		uc.forget(op)
		p.put(uc)
		_ = uc.conn.CloseNow() // a write that failed may have left half a frame
		return nil, uc.unavailable(ctx, log, err)
	}
	return op, nil
}

// acquire returns the least loaded connection to svc with room for one more
// operation, opening a new one when there is none, and counts the operation
// against it. It may not be ready yet.
func (p *upstreamPool) acquire(svc Service, log *slog.Logger) *upstreamConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best *upstreamConn
	for _, uc := range p.conns[svc.Name] {
		if uc.count < p.perConn && (best == nil || uc.count < best.count) {
			best = uc
		}
	}
	if best == nil {
		best = &upstreamConn{pool: p, service: svc, ready: make(chan struct{})}
		p.conns[svc.Name] = append(p.conns[svc.Name], best)
		go best.open(log)
	}
	best.count++
	return best
}

// put uncounts an operation of uc; a connection left with none is closed.
func (p *upstreamPool) put(uc *upstreamConn) {
	p.mu.Lock()
	uc.count--
	idle := uc.count == 0
	if idle {
		p.remove(uc)
	}
	p.mu.Unlock()
	if idle {
		go func() {
			<-uc.ready
			if uc.conn != nil {
				_ = uc.conn.Close(closeNormal, "") // the read loop ends
				_ = uc.conn.CloseNow()
			}
		}()
	}
}

// remove takes uc out of the pool; p.mu is held.
func (p *upstreamPool) remove(uc *upstreamConn) {
	if uc.dead {
		return
	}
	uc.dead = true
	list := p.conns[uc.service.Name]
	if i := slices.Index(list, uc); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(p.conns, uc.service.Name)
	} else {
		p.conns[uc.service.Name] = list
	}
}

func (uc *upstreamConn) unavailable(ctx context.Context, log *slog.Logger, cause error) *gqlerror.Error {
	if ctx.Err() == nil {
		log.WarnContext(ctx, "subscription upstream unavailable", "url", uc.service.URL, "err", cause)
	}
	return &gqlerror.Error{Message: "service " + uc.service.Name + " is unavailable",
		Extensions: map[string]any{"code": codeUnavailable, "service": uc.service.Name}}
}

// open dials the service and initialises the connection, without a token,
// then reads it until it dies. It is not tied to the operation that opened
// it: others wait for it too.
func (uc *upstreamConn) open(log *slog.Logger) {
	s := uc.pool.s
	svc := uc.service
	ctx := context.Background()
	fail := func(e *gqlerror.Error) {
		uc.dialErr = e
		uc.pool.mu.Lock()
		uc.pool.remove(uc)
		uc.pool.mu.Unlock()
		close(uc.ready)
	}
	dctx, cancel := context.WithTimeout(ctx, s.g.cfg.UpstreamTimeout)
	defer cancel()
	var header http.Header
	if u := s.g.upstreams[svc.URL]; u != nil && u.tokens != nil {
		tok, terr := u.tokens.Token()
		if terr != nil {
			fail(uc.unavailable(ctx, log, terr))
			return
		}
		header = http.Header{"Authorization": {"Bearer " + tok.AccessToken}}
	}
	conn, _, err := websocket.Dial(dctx, svc.URL, &websocket.DialOptions{
		HTTPClient:   s.g.client,
		HTTPHeader:   header,
		Subprotocols: []string{protoTransportWS},
	})
	if err != nil {
		fail(uc.unavailable(ctx, log, err))
		return
	}
	if conn.Subprotocol() != protoTransportWS {
		_ = conn.CloseNow()
		log.ErrorContext(ctx, "subscription upstream does not speak graphql-transport-ws", "subprotocol", conn.Subprotocol())
		fail(&gqlerror.Error{Message: fmt.Sprintf(subscriptionServiceNotStreamingMsg, svc.Name),
			Extensions: map[string]any{"code": codeInternal, "service": svc.Name}})
		return
	}
	conn.SetReadLimit(maxUpstreamResponse)
	uc.conn = conn
	if err := uc.write(dctx, wsMessage{Type: msgConnectionInit, Payload: json.RawMessage(`{}`)}); err != nil {
		_ = conn.CloseNow()
		fail(uc.unavailable(ctx, log, err))
		return
	}
	for acked := false; !acked; {
		_, data, err := conn.Read(dctx)
		if err != nil {
			_ = conn.CloseNow()
			// gqlgen closes with 1000 when its InitFunc refuses; graphql-ws
			// servers with 4401 or 4403. No token was sent: the service
			// wants one on the connection.
			switch code := websocket.CloseStatus(err); code {
			case closeUnauthorized, closeForbidden:
				log.WarnContext(ctx, "subscription upstream refused an anonymous connection", "err", err)
				fail(&gqlerror.Error{Message: fmt.Sprintf(subscriptionServiceRefusedMessage, svc.Name),
					Extensions: map[string]any{"code": codeUnauthenticated, "service": svc.Name}})
				return
			}
			fail(uc.unavailable(ctx, log, err))
			return
		}
		m, err := parseMessage(data)
		if err != nil {
			_ = conn.CloseNow()
			fail(uc.unavailable(ctx, log, fmt.Errorf("invalid message during connection_init: %w", err)))
			return
		}
		switch m.Type {
		case msgConnectionAck:
			acked = true
		case msgPing:
			_ = uc.write(dctx, wsMessage{Type: msgPong})
		}
	}
	uc.ops = map[string]*upstreamOp{}
	close(uc.ready)
	uc.keepAlive(s.opts.KeepAlive)
	uc.readLoop(log)
}

// readLoop routes the service's messages to their operations until the
// connection dies; then every operation still on it ends (UNAVAILABLE).
func (uc *upstreamConn) readLoop(log *slog.Logger) {
	var err error
	for {
		var data []byte
		_, data, err = uc.conn.Read(context.Background())
		if err != nil {
			break
		}
		m, perr := parseMessage(data) // data is the message's own: payloads may alias it
		if perr != nil {
			log.Error("subscription upstream sent an invalid message", "err", perr, "message", fmt.Sprintf("%.200q", data))
			err = perr
			break
		}
		switch m.Type {
		case msgNext, msgError, msgComplete:
			uc.mu.Lock()
			op := uc.ops[m.ID]
			end := m.Type != msgNext
			if op != nil && end {
				delete(uc.ops, m.ID)
			}
			if op == nil {
				uc.mu.Unlock()
				continue // an operation the client stopped
			}
			select {
			case op.msgs <- m:
				if end {
					close(op.msgs)
				}
			default:
				// The client is too slow: end its operation here and
				// upstream, not the connection's others.
				if !end {
					delete(uc.ops, m.ID)
					go uc.complete(op.id)
				}
				op.overflow = true
				close(op.msgs)
			}
			uc.mu.Unlock()
		case msgPing:
			go func() { // not on the read loop: a write may wait
				ctx, cancel := context.WithTimeout(context.Background(), upstreamCloseGrace)
				defer cancel()
				_ = uc.write(ctx, wsMessage{Type: msgPong, Payload: m.Payload})
			}()
		case msgPong:
		default:
			log.Warn("subscription upstream sent an unexpected message", "type", m.Type)
		}
	}
	_ = uc.conn.CloseNow()
	uc.pool.mu.Lock()
	uc.pool.remove(uc)
	uc.pool.mu.Unlock()
	uc.mu.Lock()
	uc.err = err
	ops := uc.ops
	uc.ops = nil
	for _, op := range ops {
		close(op.msgs)
	}
	uc.mu.Unlock()
}

// release ends the operation: the client stopped or it ended. The service
// is told to complete it if it still runs.
func (op *upstreamOp) release() {
	if !op.released.CompareAndSwap(false, true) {
		return
	}
	uc := op.conn
	if uc.forget(op) {
		go func() {
			uc.complete(op.id)
			uc.pool.put(uc)
		}()
		return
	}
	uc.pool.put(uc)
}

// forget removes op from the connection; it reports whether it was there.
func (uc *upstreamConn) forget(op *upstreamOp) bool {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if uc.ops[op.id] != op {
		return false
	}
	delete(uc.ops, op.id)
	return true
}

// complete tells the service to stop operation id.
func (uc *upstreamConn) complete(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), upstreamCloseGrace)
	defer cancel()
	_ = uc.write(ctx, wsMessage{ID: id, Type: msgComplete})
}

func (uc *upstreamConn) write(ctx context.Context, m wsMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return uc.conn.Write(ctx, websocket.MessageText, b)
}

// keepAlive pings the service every interval until the connection closes,
// and closes it when a pong does not come back in time: a service that
// vanished without closing its connections must not leave the clients
// waiting. A timer, not a goroutine, waits between pings.
func (uc *upstreamConn) keepAlive(every time.Duration) {
	var t *time.Timer
	t = time.AfterFunc(every, func() {
		uc.mu.Lock()
		closed := uc.ops == nil
		uc.mu.Unlock()
		if closed {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(every, minPongWait))
		err := uc.conn.Ping(ctx)
		cancel()
		if err != nil {
			_ = uc.conn.CloseNow()
			return
		}
		t.Reset(every)
	})
}

// isRefusal reports whether an execution result carries errors and no data.
func isRefusal(result []byte) bool {
	var r struct {
		Data   json.RawMessage   `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(result, &r) != nil {
		return false
	}
	return len(r.Errors) > 0 && (len(r.Data) == 0 || string(r.Data) == "null")
}

// refusalErrors returns the errors of a result, as a JSON array.
func refusalErrors(result []byte) []byte {
	var r struct {
		Errors json.RawMessage `json:"errors"`
	}
	_ = json.Unmarshal(result, &r)
	return r.Errors
}

// tagErrors adds extensions.service to the errors of an execution result
// from service, as the query path does. A result without errors is returned
// as it came.
func tagErrors(result []byte, service string) []byte {
	if !bytes.Contains(result, []byte(`"errors"`)) {
		return compactJSON(result)
	}
	var r map[string]json.RawMessage
	if json.Unmarshal(result, &r) != nil || r["errors"] == nil {
		return compactJSON(result)
	}
	r["errors"] = tagErrorList(r["errors"], service)
	out, err := json.Marshal(orderedResult(r))
	if err != nil {
		return compactJSON(result)
	}
	return out
}

// tagErrorList adds extensions.service to each error of a JSON array.
func tagErrorList(list []byte, service string) []byte {
	var errs []map[string]any
	if json.Unmarshal(list, &errs) != nil {
		return errorsJSON(requestError(codeInternal, "internal error"))
	}
	for _, e := range errs {
		ext, _ := e["extensions"].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
		}
		ext["service"] = service
		e["extensions"] = ext
	}
	out, _ := json.Marshal(errs)
	return out
}

// orderedResult writes an execution result's keys in the spec's order:
// errors, data, extensions, then any others.
func orderedResult(r map[string]json.RawMessage) orderedObject {
	var o orderedObject
	for _, k := range []string{"errors", "data", "extensions"} {
		if v, ok := r[k]; ok {
			o = append(o, objectField{k, v})
			delete(r, k)
		}
	}
	for k, v := range r {
		o = append(o, objectField{k, v})
	}
	return o
}

// compactJSON returns b on one line, as an SSE data field needs.
func compactJSON(b []byte) []byte {
	if !bytes.ContainsAny(b, "\r\n") {
		return b
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// errorsJSON encodes GraphQL errors as a JSON array.
func errorsJSON(errs ...*gqlerror.Error) []byte {
	b, err := json.Marshal(errs)
	if err != nil {
		return []byte(`[{"message":"internal error","extensions":{"code":"INTERNAL"}}]`)
	}
	return b
}
