package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
)

// serveWebsocket runs one client websocket: graphql-transport-ws or legacy
// graphql-ws, as the client's Sec-WebSocket-Protocol asks (the former when it
// offers both).
func (s *subscriptions) serveWebsocket(w http.ResponseWriter, r *http.Request, next http.Handler) {
	opts := &websocket.AcceptOptions{Subprotocols: []string{protoTransportWS, protoLegacyWS}}
	// Browsers send the page's Origin; the same origins as CORS may connect.
	for _, o := range s.g.cfg.CORSOrigins {
		if o == "*" {
			opts.InsecureSkipVerify = true
		} else {
			opts.OriginPatterns = append(opts.OriginPatterns, o)
		}
	}
	conn, err := websocket.Accept(w, r, opts)
	if err != nil {
		return // Accept has answered the request
	}
	info := infoFrom(r.Context())
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	sess := &wsSession{
		s:         s,
		conn:      conn,
		legacy:    conn.Subprotocol() == protoLegacyWS,
		next:      next,
		ctx:       ctx,
		cancel:    cancel,
		info:      requestInfo{requestID: info.requestID, clientAddr: info.clientAddr},
		log:       s.g.log.With("request_id", info.requestID),
		subs:      map[string]*wsSub{},
		closeDone: make(chan struct{}),
	}
	if id, ok := auth.FromContext(r.Context()); ok {
		// The upgrade request carried a token, verified by authenticate;
		// connection_init may still bring another.
		sess.identity = &id
	}
	sess.run()
}

// wsSession is one client websocket connection.
type wsSession struct {
	s      *subscriptions
	conn   *websocket.Conn
	legacy bool
	next   http.Handler // the query path, for queries and mutations
	ctx    context.Context
	cancel context.CancelFunc
	info   requestInfo
	log    *slog.Logger

	mu       sync.Mutex
	initSeen bool
	acked    bool
	identity *auth.Identity
	subs     map[string]*wsSub

	closeOnce sync.Once
	closeDone chan struct{}
	relays    sync.WaitGroup
}

func (sess *wsSession) run() {
	done, ok := sess.s.register(&liveConn{shutdown: func() {
		sess.closeWith(closeGoingAway, subscriptionShuttingDownMessage)
	}})
	if !ok {
		_ = sess.conn.Close(closeGoingAway, subscriptionShuttingDownMessage)
		return
	}
	defer done()
	defer sess.end()
	if sess.conn.Subprotocol() == "" {
		sess.closeWith(closeSubprotocolNotAccept, "Subprotocol not acceptable: use graphql-transport-ws or graphql-ws")
		return
	}
	sess.conn.SetReadLimit(maxClientMessage)
	timer := time.AfterFunc(sess.s.opts.InitTimeout, func() {
		sess.mu.Lock()
		seen := sess.initSeen
		sess.mu.Unlock()
		if !seen {
			sess.closeWith(closeInitTimeout, "Connection initialisation timeout")
		}
	})
	defer timer.Stop()
	for {
		_, data, err := sess.conn.Read(context.Background())
		if err != nil {
			return
		}
		sess.handle(data)
	}
}

// end stops every subscription of the connection and closes it.
func (sess *wsSession) end() {
	sess.cancel()
	sess.mu.Lock()
	for _, sub := range sess.subs {
		sub.stop()
	}
	sess.mu.Unlock()
	sess.closeOnce.Do(func() {
		_ = sess.conn.CloseNow()
		close(sess.closeDone)
	})
	<-sess.closeDone // a close handshake in progress
	sess.relays.Wait()
}

// closeWith closes the connection with code and reason, in the background:
// the close handshake waits for the client.
func (sess *wsSession) closeWith(code websocket.StatusCode, reason string) {
	if len(reason) > 123 {
		reason = reason[:120] + "..."
	}
	sess.closeOnce.Do(func() {
		go func() {
			defer close(sess.closeDone)
			_ = sess.conn.Close(code, reason)
		}()
	})
}

// invalid closes the connection for a message the protocol does not allow.
func (sess *wsSession) invalid(format string, args ...any) {
	sess.closeWith(closeBadRequest, "Invalid message received: "+fmt.Sprintf(format, args...))
}

// write sends one message to the client. A client that does not read is
// found out by the keep-alive, which closes the connection and so unblocks
// the write.
func (sess *wsSession) write(b []byte) {
	_ = sess.conn.Write(context.Background(), websocket.MessageText, b)
}

func (sess *wsSession) writeMessage(m wsMessage) {
	b, err := json.Marshal(m)
	if err != nil {
		sess.closeWith(closeInternalServerError, "Internal server error")
		return
	}
	sess.write(b)
}

// handle acts on one message from the client.
func (sess *wsSession) handle(data []byte) {
	var m wsMessage
	if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
		sess.invalid("not a JSON message with a type")
		return
	}
	switch m.Type {
	case msgConnectionInit:
		sess.init(m.Payload)
	case msgPing:
		if !sess.legacy {
			sess.writeMessage(wsMessage{Type: msgPong, Payload: m.Payload})
			return
		}
		sess.invalid("unexpected type %q", m.Type)
	case msgPong:
		if sess.legacy {
			sess.invalid("unexpected type %q", m.Type)
		}
	case msgSubscribe, msgLegacyStart:
		if (m.Type == msgSubscribe) == sess.legacy {
			sess.invalid("unexpected type %q", m.Type)
			return
		}
		sess.subscribe(m)
	case msgComplete, msgLegacyStop:
		if (m.Type == msgComplete) == sess.legacy {
			sess.invalid("unexpected type %q", m.Type)
			return
		}
		sess.mu.Lock()
		sub := sess.subs[m.ID]
		delete(sess.subs, m.ID)
		sess.mu.Unlock()
		if sub != nil {
			sub.stop()
		}
	case msgLegacyTerminate:
		if !sess.legacy {
			sess.invalid("unexpected type %q", m.Type)
			return
		}
		sess.closeWith(closeNormal, "")
	default:
		sess.invalid("unexpected type %q", m.Type)
	}
}

// init authenticates the connection from the connection_init payload
// ("Authorization": "Bearer …", "authToken" or "token", or the same under
// "headers"). No token leaves the connection anonymous; each service decides
// what an anonymous caller may do. An invalid, expired or forged token is
// refused here: close 4403 Forbidden.
func (sess *wsSession) init(payload json.RawMessage) {
	sess.mu.Lock()
	if sess.initSeen {
		sess.mu.Unlock()
		sess.closeWith(closeTooManyInitRequests, "Too many initialisation requests")
		return
	}
	sess.initSeen = true
	sess.mu.Unlock()
	token, bad, err := initToken(payload)
	if err != nil {
		sess.invalid("the connection_init payload must be a JSON object")
		return
	}
	if bad != "" {
		sess.refuse(closeForbidden, codeUnauthenticated, bad)
		return
	}
	if token != "" {
		id, err := sess.s.g.cfg.Verifier.VerifyUser(sess.ctx, token)
		if err != nil {
			if apperr.Code(err) == apperr.Unauthenticated {
				sess.refuse(closeForbidden, codeUnauthenticated, "Forbidden: "+apperr.Message(err))
				return
			}
			sess.log.ErrorContext(sess.ctx, "verify token", "err", err)
			sess.refuse(closeInternalServerError, codeUnavailable, "tokens cannot be verified right now; try again later")
			return
		}
		sess.mu.Lock()
		sess.identity = &id
		sess.mu.Unlock()
	}
	sess.mu.Lock()
	sess.acked = true
	identity := sess.identity
	sess.mu.Unlock()
	afterExpiry(sess.ctx, identity, sess.expire)
	sess.writeMessage(wsMessage{Type: msgConnectionAck})
	if sess.legacy {
		sess.writeMessage(wsMessage{Type: msgLegacyKeepAlive})
	}
	sess.keepAlive()
}

// expire ends the connection when its token expires; see "Expired tokens"
// in subscription.go.
func (sess *wsSession) expire() {
	if sess.legacy {
		sess.mu.Lock()
		subs := make([]*wsSub, 0, len(sess.subs))
		for _, sub := range sess.subs {
			subs = append(subs, sub)
		}
		sess.mu.Unlock()
		errs := tokenExpiredErrors()
		for _, sub := range subs {
			sub.expire(errs)
		}
	}
	sess.closeWith(closeForbidden, subscriptionTokenExpiredMessage)
}

// refuse ends a connection whose connection_init is refused. Legacy clients
// get a connection_error first: the close code is all graphql-transport-ws
// has.
func (sess *wsSession) refuse(code websocket.StatusCode, gqlCode, message string) {
	if sess.legacy {
		payload, _ := json.Marshal(requestError(gqlCode, message))
		sess.writeMessage(wsMessage{Type: msgLegacyConnError, Payload: payload})
	}
	sess.closeWith(code, message)
}

// initToken returns the bearer token of a connection_init payload, or a
// reason to refuse the connection; an error if the payload is not an object.
func initToken(payload json.RawMessage) (token, bad string, err error) {
	if len(payload) == 0 || string(payload) == "null" {
		return "", "", nil
	}
	var p map[string]any
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", "", err
	}
	if h, ok := p["headers"].(map[string]any); ok {
		for k, v := range h {
			if _, taken := p[k]; !taken {
				p[k] = v
			}
		}
	}
	for k, v := range p {
		switch strings.ToLower(k) {
		case "authorization":
			s, _ := v.(string)
			if s == "" {
				continue
			}
			if len(s) < 8 || !strings.EqualFold(s[:7], "bearer ") {
				return "", "Forbidden: Authorization must carry a Bearer token", nil
			}
			return strings.TrimSpace(s[7:]), "", nil
		}
	}
	for _, k := range []string{"authToken", "token"} {
		if s, _ := p[k].(string); s != "" {
			if len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
				s = s[7:]
			}
			return strings.TrimSpace(s), "", nil
		}
	}
	return "", "", nil
}

// keepAlive sends the protocol's keep-alive (a ping, or a legacy ka) and a
// websocket ping every KeepAlive, and closes a connection that does not take
// them, or answer the ping, within KeepAlive (at least minPongWait): the
// client is gone or does not read.
//
// It runs on a timer rather than a goroutine of its own: a gateway holds
// many idle connections.
func (sess *wsSession) keepAlive() {
	every := sess.s.opts.KeepAlive
	msg := []byte(`{"type":"ping"}`)
	if sess.legacy {
		msg = []byte(`{"type":"ka"}`)
	}
	var t *time.Timer
	t = time.AfterFunc(every, func() {
		if sess.ctx.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(sess.ctx, max(every, minPongWait))
		err := sess.conn.Write(ctx, websocket.MessageText, msg)
		if err == nil {
			err = sess.conn.Ping(ctx)
		}
		cancel()
		if err != nil {
			if sess.ctx.Err() == nil {
				sess.log.InfoContext(sess.ctx, "subscription client did not answer the keep-alive", "err", err)
			}
			_ = sess.conn.CloseNow()
			return
		}
		t.Reset(every)
	})
	context.AfterFunc(sess.ctx, func() { t.Stop() })
}

// subscribe starts the operation of a subscribe (legacy: start) message.
func (sess *wsSession) subscribe(m wsMessage) {
	sess.mu.Lock()
	acked := sess.acked
	sess.mu.Unlock()
	if !acked {
		sess.closeWith(closeUnauthorized, "Unauthorized")
		return
	}
	if m.ID == "" {
		sess.invalid("%s needs an id", m.Type)
		return
	}
	var p params
	if err := json.Unmarshal(m.Payload, &p); err != nil || len(m.Payload) == 0 {
		sess.invalid("%s needs a payload with the query", m.Type)
		return
	}
	idJSON, _ := json.Marshal(m.ID)
	ctx, cancel := context.WithCancel(sess.ctx)
	sub := &wsSub{sess: sess, id: m.ID, idJSON: idJSON, cancel: cancel}
	sess.mu.Lock()
	if old := sess.subs[m.ID]; old != nil {
		if !sess.legacy {
			sess.mu.Unlock()
			cancel()
			sess.closeWith(closeSubscriberExists, "Subscriber for "+m.ID+" already exists")
			return
		}
		// subscriptions-transport-ws replaces the operation of the same id.
		old.stop()
	}
	if len(sess.subs) >= sess.s.opts.MaxPerConnection && sess.subs[m.ID] == nil {
		sess.mu.Unlock()
		cancel()
		sub.fail(errorsJSON(requestError(codeTooManySubscriptions, fmt.Sprintf(
			"at most %d operations may run at once on one connection; complete one first", sess.s.opts.MaxPerConnection))))
		return
	}
	sess.subs[m.ID] = sub
	identity := sess.identity
	sess.mu.Unlock()

	req, _, errs := sess.s.prepare(p)
	if len(errs) > 0 {
		sub.fail(errorsJSON(errs...))
		sess.remove(sub)
		return
	}
	c := caller{requestID: sess.info.requestID, clientAddr: sess.info.clientAddr}
	if identity != nil {
		c.token = identity.Token
	}
	sess.relays.Add(1)
	go func() {
		defer sess.relays.Done()
		defer sess.remove(sub)
		defer cancel()
		if req == nil {
			sess.single(ctx, p, identity, sub)
			return
		}
		sess.s.relay(ctx, req, c, sub)
	}()
}

// remove forgets sub, unless its id has been taken by another since.
func (sess *wsSession) remove(sub *wsSub) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.subs[sub.id] == sub {
		delete(sess.subs, sub.id)
	}
}

// single answers a query or mutation sent over the websocket through the
// gateway's query path: one result, then complete; or an error.
func (sess *wsSession) single(ctx context.Context, p params, identity *auth.Identity, out sink) {
	info := sess.info
	ctx = context.WithValue(ctx, infoKey{}, &info)
	if identity != nil {
		ctx = auth.WithIdentity(ctx, *identity)
	}
	body, err := json.Marshal(p)
	if err != nil {
		out.fail(errorsJSON(requestError(codeInternal, "internal error")))
		return
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/graphql", bytes.NewReader(body))
	if err != nil {
		out.fail(errorsJSON(requestError(codeInternal, "internal error")))
		return
	}
	r.Header.Set("Content-Type", "application/json")
	rec := record(sess.next, r)
	if rec.status == http.StatusOK {
		out.next(compactJSON(rec.body.Bytes()))
		out.complete()
		return
	}
	out.fail(rec.errors())
}

// wsSub is one operation of a websocket connection; it is the sink of its
// relay.
type wsSub struct {
	sess   *wsSession
	id     string
	idJSON []byte
	cancel context.CancelFunc
	ended  atomic.Bool // stopped by the client, or its last message sent
}

var _ sink = (*wsSub)(nil)

func (sub *wsSub) next(result []byte) {
	typ := msgNext
	if sub.sess.legacy {
		typ = msgLegacyData
	}
	if sub.ended.Load() {
		return
	}
	bp := encodeBuffers.Get().(*[]byte)
	*bp = appendWS((*bp)[:0], sub.idJSON, typ, result)
	sub.sess.write(*bp) // the connection copies it
	encodeBuffers.Put(bp)
}

// encodeBuffers hold the messages of next, the hot path.
var encodeBuffers = sync.Pool{New: func() any { return new([]byte) }}

// fail sends an error message; no complete follows (graphql-transport-ws:
// the error ends the operation; legacy clients drop it on error as well).
func (sub *wsSub) fail(errs []byte) {
	if sub.ended.CompareAndSwap(false, true) {
		sub.sess.remove(sub) // the id is free once the client hears it ended
		sub.sess.write(encodeWS(sub.idJSON, msgError, errs))
	}
}

func (sub *wsSub) complete() {
	if sub.ended.CompareAndSwap(false, true) {
		sub.sess.remove(sub) // the id is free once the client hears it ended
		sub.sess.write(encodeWS(sub.idJSON, msgComplete, nil))
	}
}

// expire ends the operation with errs then complete, and stops its relay.
func (sub *wsSub) expire(errs []byte) {
	if sub.ended.CompareAndSwap(false, true) {
		sub.sess.remove(sub)
		sub.sess.write(encodeWS(sub.idJSON, msgError, errs))
		sub.sess.write(encodeWS(sub.idJSON, msgComplete, nil))
	}
	sub.cancel()
}

// stop ends the operation without a word to the client, which asked for it
// or is gone.
func (sub *wsSub) stop() {
	sub.ended.Store(true)
	sub.cancel()
}

// encodeWS writes a message around a payload that is JSON already.
func encodeWS(idJSON []byte, typ string, payload []byte) []byte {
	return appendWS(make([]byte, 0, len(payload)+len(idJSON)+len(typ)+32), idJSON, typ, payload)
}

func appendWS(b, idJSON []byte, typ string, payload []byte) []byte {
	b = append(b, `{"id":`...)
	b = append(b, idJSON...)
	b = append(b, `,"type":"`...)
	b = append(b, typ...)
	b = append(b, '"')
	if payload != nil {
		b = append(b, `,"payload":`...)
		b = append(b, payload...)
	}
	return append(b, '}')
}

// recorder is the response of an internal request to the query path.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func record(h http.Handler, r *http.Request) *recorder {
	rec := &recorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// errors returns the errors of a refused request's response, as a JSON array.
func (r *recorder) errors() []byte {
	var res struct {
		Errors []*gqlerror.Error `json:"errors"`
	}
	if json.Unmarshal(r.body.Bytes(), &res) != nil || len(res.Errors) == 0 {
		return errorsJSON(requestError(codeInternal, "internal error"))
	}
	return errorsJSON(res.Errors...)
}
