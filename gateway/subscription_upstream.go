package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
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

	msgConnectionInit      = "connection_init"
	msgConnectionAck       = "connection_ack"
	msgPing                = "ping"
	msgPong                = "pong"
	msgSubscribe           = "subscribe"
	msgNext                = "next"
	msgError               = "error"
	msgComplete            = "complete"
	msgLegacyStart         = "start"
	msgLegacyData          = "data"
	msgLegacyStop          = "stop"
	msgLegacyKeepAlive     = "ka"
	msgLegacyConnError     = "connection_error"
	msgLegacyTerminate     = "connection_terminate"
	upstreamSubscriptionID = "1"
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

// upstreamSub is one subscription relayed from a service over its own
// graphql-transport-ws websocket.
type upstreamSub struct {
	service Service
	conn    *websocket.Conn
	stopped atomic.Bool
}

// relay runs one client subscription: it opens the subscription on the
// owning service and forwards what the service sends to out until the
// service completes or fails it, or ctx ends (the client stopped, left, or
// the gateway shuts down; then nothing more is sent to out).
func (s *subscriptions) relay(ctx context.Context, req *subscriptionRequest, c caller, out sink) {
	log := s.g.log.With("request_id", c.requestID, "service", req.service.Name, "field", req.field)
	u, gerr := s.openUpstream(ctx, req, c, log)
	if gerr != nil {
		if ctx.Err() == nil {
			out.fail(errorsJSON(gerr))
		}
		return
	}
	stop := context.AfterFunc(ctx, u.stop)
	defer func() {
		stop()
		u.stop()
	}()
	u.keepAlive(s.opts.KeepAlive)

	// gqlgen sends a subscription its resolver refused (UNAUTHENTICATED,
	// FORBIDDEN, …) as one `next` with errors and null data, then
	// `complete`. That is a refusal, not an event: it goes to the client as
	// an `error`. So a first result without data waits for what follows it.
	var held []byte
	first := true
	var buf bytes.Buffer
	for {
		data, err := u.read(&buf)
		if err != nil {
			if u.stopped.Load() || ctx.Err() != nil {
				return
			}
			log.WarnContext(ctx, "subscription upstream failed", "err", err)
			out.fail(errorsJSON(&gqlerror.Error{Message: fmt.Sprintf(subscriptionServiceEndedMessage, req.service.Name),
				Extensions: map[string]any{"code": codeUnavailable, "service": req.service.Name}}))
			return
		}
		if u.stopped.Load() || ctx.Err() != nil {
			return // the client stopped: what the service still sends is not for it
		}
		m, err := parseMessage(data)
		if err != nil {
			log.ErrorContext(ctx, "subscription upstream sent an invalid message", "err", err, "message", fmt.Sprintf("%.200q", data))
			out.fail(errorsJSON(requestError(codeInternal, "internal error")))
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
				held = bytes.Clone(result) // data is reused by the next read
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
		case msgPing:
			_ = u.write(ctx, wsMessage{Type: msgPong, Payload: m.Payload})
		case msgPong:
		default:
			log.WarnContext(ctx, "subscription upstream sent an unexpected message", "type", m.Type)
		}
	}
}

// openUpstream dials the service, initialises the connection with the
// caller's token and subscribes. Its error is what the client gets.
func (s *subscriptions) openUpstream(ctx context.Context, req *subscriptionRequest, c caller, log *slog.Logger) (*upstreamSub, *gqlerror.Error) {
	svc := req.service
	unavailable := func(cause error) *gqlerror.Error {
		if ctx.Err() == nil {
			log.WarnContext(ctx, "subscription upstream unavailable", "url", svc.URL, "err", cause)
		}
		return &gqlerror.Error{Message: "service " + svc.Name + " is unavailable",
			Extensions: map[string]any{"code": codeUnavailable, "service": svc.Name}}
	}
	refused := func(cause error) *gqlerror.Error {
		log.WarnContext(ctx, "subscription upstream refused the token", "err", cause)
		return &gqlerror.Error{Message: fmt.Sprintf(subscriptionServiceRefusedMessage, svc.Name),
			Extensions: map[string]any{"code": codeUnauthenticated, "service": svc.Name}}
	}
	dctx, cancel := context.WithTimeout(ctx, s.g.cfg.UpstreamTimeout)
	defer cancel()
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	if c.requestID != "" {
		h.Set("X-Request-ID", c.requestID)
	}
	if c.clientAddr != "" {
		h.Set("X-Forwarded-For", c.clientAddr)
	}
	conn, res, err := websocket.Dial(dctx, svc.URL, &websocket.DialOptions{
		HTTPClient:   s.g.client,
		HTTPHeader:   h,
		Subprotocols: []string{protoTransportWS},
	})
	if err != nil {
		if res != nil && res.StatusCode == http.StatusUnauthorized {
			return nil, refused(err)
		}
		return nil, unavailable(err)
	}
	u := &upstreamSub{service: svc, conn: conn}
	if conn.Subprotocol() != protoTransportWS {
		u.stop()
		log.ErrorContext(ctx, "subscription upstream does not speak graphql-transport-ws", "subprotocol", conn.Subprotocol())
		return nil, &gqlerror.Error{Message: fmt.Sprintf(subscriptionServiceNotStreamingMsg, svc.Name),
			Extensions: map[string]any{"code": codeInternal, "service": svc.Name}}
	}
	conn.SetReadLimit(maxUpstreamResponse)
	init := map[string]any{}
	if c.token != "" {
		init["Authorization"] = "Bearer " + c.token
	}
	payload, _ := json.Marshal(init)
	if err := u.write(dctx, wsMessage{Type: msgConnectionInit, Payload: payload}); err != nil {
		u.stop()
		return nil, unavailable(err)
	}
	for acked := false; !acked; {
		_, data, err := conn.Read(dctx)
		if err != nil {
			u.stop()
			// gqlgen closes with 1000 when its InitFunc refuses the token;
			// graphql-ws servers with 4401 or 4403.
			switch code := websocket.CloseStatus(err); {
			case code == closeUnauthorized || code == closeForbidden || (code == closeNormal && c.token != ""):
				return nil, refused(err)
			}
			return nil, unavailable(err)
		}
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			u.stop()
			return nil, unavailable(fmt.Errorf("invalid message during connection_init: %w", err))
		}
		switch m.Type {
		case msgConnectionAck:
			acked = true
		case msgPing:
			_ = u.write(dctx, wsMessage{Type: msgPong})
		}
	}
	sub, err := json.Marshal(map[string]any{
		"query":         req.query,
		"operationName": req.operationName,
		"variables":     req.variables,
	})
	if err != nil {
		u.stop()
		return nil, requestError(codeInternal, "internal error")
	}
	if err := u.write(dctx, wsMessage{ID: upstreamSubscriptionID, Type: msgSubscribe, Payload: sub}); err != nil {
		u.stop()
		return nil, unavailable(err)
	}
	return u, nil
}

// read returns the next message of the service, in buf's memory: valid
// until the next read.
func (u *upstreamSub) read(buf *bytes.Buffer) ([]byte, error) {
	_, r, err := u.conn.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (u *upstreamSub) write(ctx context.Context, m wsMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return u.conn.Write(ctx, websocket.MessageText, b)
}

// stop completes the subscription on the service and closes the connection,
// in the background. The relay's pending read then fails.
func (u *upstreamSub) stop() {
	if !u.stopped.CompareAndSwap(false, true) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), upstreamCloseGrace)
		defer cancel()
		_ = u.write(ctx, wsMessage{ID: upstreamSubscriptionID, Type: msgComplete})
		_ = u.conn.Close(closeNormal, "")
	}()
}

// keepAlive pings the service every interval until the subscription ends,
// and closes the connection when a pong does not come back in time: a
// service that vanished without closing its connections must not leave the
// client waiting. A timer, not a goroutine, waits between pings.
func (u *upstreamSub) keepAlive(every time.Duration) {
	var t *time.Timer
	t = time.AfterFunc(every, func() {
		if u.stopped.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(every, minPongWait))
		err := u.conn.Ping(ctx)
		cancel()
		if err != nil {
			_ = u.conn.CloseNow()
			return
		}
		t.Reset(every)
	})
	// Once stopped, the timer fires once more at most, and does nothing.
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
