package gateway

// Subscriptions.
//
// nautilus cannot plan subscriptions (it forwards one as a plain POST and
// returns its first event), so the gateway relays them itself, on the same
// /graphql endpoint as queries:
//
//   - Clients connect with a websocket speaking graphql-transport-ws or the
//     legacy graphql-ws (subscriptions-transport-ws), chosen by the
//     Sec-WebSocket-Protocol header, or with Server-Sent Events (POST with
//     Accept: text/event-stream, or GET with the query in the URL for
//     EventSource) in graphql-sse's "distinct connections" format.
//   - A subscription is validated against the merged schema and must select
//     exactly one root field; the service whose schema defines that field
//     owns it. Every field it selects must be one that service resolves:
//     nautilus cannot plan the fields other services add to an event's
//     objects, so the gateway refuses them with a validation error that says
//     which service resolves them, rather than relaying a document the
//     service would reject. Clients fetch such fields with a query, by ID.
//   - Client subscriptions are multiplexed over a few graphql-transport-ws
//     websockets per service (subscription_upstream.go), initialised without
//     a token: each subscription is one operation on one of them, with a
//     unique id and the caller's token in extensions.authorization, which
//     the service verifies for that operation alone. Events are passed
//     through as the service sent them, with extensions.service added to
//     their errors. (One upstream websocket per client subscription would
//     cost the gateway two file descriptors per subscriber.)
//
// Why a websocket upstream rather than SSE: every subgraph serves both, but
// gqlgen's SSE transport as configured sends no keep-alives, so a service
// that vanishes without closing its TCP connections would leave the client
// waiting forever; over a websocket the gateway pings the service and gives
// up when no pong comes back, and it carries many operations at once.
//
// Expired tokens: a subscription outlives requests, but not the access token
// it was started with. When the verified token of a websocket connection (from
// the upgrade request or connection_init) or of an SSE request expires, the
// gateway ends everything it carries (afterExpiry):
//
//   - graphql-transport-ws: the socket is closed with 4403 "token expired",
//     and no per-operation error is sent. The graphql-ws client (Apollo
//     Client's GraphQLWsLink, urql) retries after 4403, calling
//     connectionParams again for a fresh token, and resubscribes its active
//     operations; an error message would end them for good instead.
//   - legacy graphql-ws: each subscription gets an error (extensions.code
//     UNAUTHENTICATED, message "token expired") then complete, since its
//     clients ignore close codes; then the socket is closed with 4403 "token
//     expired" as well, so that a reconnecting client brings a fresh token.
//   - SSE: a next carrying that error, then complete; the stream ends (SSE
//     has no error event).
//
// Either way the connection ends: nothing keeps running on an expired token,
// queries included. The expiry is the token's exp claim, on the gateway's
// clock (time.Now; the verifier's skew allowance does not extend it).
//
// Queries and mutations sent over a websocket, or with an Accept header that
// prefers text/event-stream (listed first, or with the highest q; see
// negotiate), are answered by the gateway's ordinary query path, as one
// result followed by complete. One that lists text/event-stream after a
// JSON type (urql's default) is answered with JSON.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/shopgraph/shopgraph/internal/auth"
)

// Defaults of the SubscriptionOptions' zero values.
const (
	DefaultSubscriptionKeepAlive   = 12 * time.Second
	DefaultSubscriptionInitTimeout = 10 * time.Second
	DefaultMaxSubscriptionsPerConn = 100
)

// codeTooManySubscriptions refuses an operation beyond a websocket
// connection's MaxPerConnection.
const codeTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"

// What clients are told.
const (
	subscriptionShuttingDownMessage    = "the gateway is shutting down; reconnect"
	subscriptionServiceRefusedMessage  = "service %s refused the subscription's credentials"
	subscriptionServiceEndedMessage    = "service %s ended the subscription unexpectedly"
	subscriptionServiceNotStreamingMsg = "service %s does not serve subscriptions over graphql-transport-ws"
	subscriptionTokenExpiredMessage    = "token expired"
)

// SubscriptionOptions tune the gateway's subscriptions. Zero values take
// the defaults.
type SubscriptionOptions struct {
	// KeepAlive is the interval of keep-alive messages to clients (a
	// graphql-transport-ws ping, a legacy ka, an SSE comment) and of the
	// websocket pings that check clients and services are still there
	// (default 12s).
	KeepAlive time.Duration
	// InitTimeout is how long a websocket client has to send
	// connection_init (default 10s); then it is closed with 4408.
	InitTimeout time.Duration
	// MaxPerConnection bounds the subscriptions one websocket connection may
	// run at once (default 100); the one beyond gets an error.
	MaxPerConnection int
}

// subscriptions is the gateway's subscription server: it knows every live
// websocket connection and SSE stream, so that Shutdown can end them.
type subscriptions struct {
	g    *Gateway
	opts SubscriptionOptions

	mu      sync.Mutex
	closing bool
	live    map[*liveConn]struct{}
	wg      sync.WaitGroup // one per live connection
	hooked  sync.Map       // *http.Server → struct{}: shutdown hook registered
	pool    *upstreamPool
}

// liveConn is a websocket connection or SSE stream, ended by shutdown.
type liveConn struct {
	shutdown func() // must not block
}

func newSubscriptions(g *Gateway, opts SubscriptionOptions) *subscriptions {
	if opts.KeepAlive <= 0 {
		opts.KeepAlive = DefaultSubscriptionKeepAlive
	}
	if opts.InitTimeout <= 0 {
		opts.InitTimeout = DefaultSubscriptionInitTimeout
	}
	if opts.MaxPerConnection <= 0 {
		opts.MaxPerConnection = DefaultMaxSubscriptionsPerConn
	}
	s := &subscriptions{g: g, opts: opts, live: map[*liveConn]struct{}{}}
	s.pool = newUpstreamPool(s)
	return s
}

// Shutdown ends every subscription: websocket clients get the close code
// 1001 Going Away and SSE streams end, so that clients reconnect elsewhere.
// New subscriptions are refused from now on. It returns when every
// connection has ended, or with ctx's error when ctx ends first.
//
// The gateway also calls it by itself when the http.Server serving it shuts
// down (http.Server.Shutdown does not wait for websockets, which it no
// longer tracks once upgraded, and would wait for SSE streams forever).
func (g *Gateway) Shutdown(ctx context.Context) error {
	return g.subs.shutdown(ctx)
}

func (s *subscriptions) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*liveConn, 0, len(s.live))
	for c := range s.live {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("subscriptions still open: %w", ctx.Err())
	}
}

// tokenExpiredErrors is the error list sent when a subscription's token
// expires.
func tokenExpiredErrors() []byte {
	return errorsJSON(requestError(codeUnauthenticated, subscriptionTokenExpiredMessage))
}

// afterExpiry calls f in its own goroutine when id's token expires (at once
// if it has), unless ctx ends first. An identity without an expiry never
// expires.
func afterExpiry(ctx context.Context, id *auth.Identity, f func()) {
	if id == nil || id.Expires.IsZero() {
		return
	}
	t := time.AfterFunc(time.Until(id.Expires), func() {
		if ctx.Err() == nil {
			f()
		}
	})
	context.AfterFunc(ctx, func() { t.Stop() })
}

// register notes a live connection; done must be called when it ends. It
// returns false when the gateway is shutting down.
func (s *subscriptions) register(c *liveConn) (done func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, false
	}
	s.live[c] = struct{}{}
	s.wg.Add(1)
	return func() {
		s.mu.Lock()
		delete(s.live, c)
		s.mu.Unlock()
		s.wg.Done()
	}, true
}

// hookServer makes the http.Server that serves r end the subscriptions when
// it shuts down.
func (s *subscriptions) hookServer(r *http.Request) {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return
	}
	if _, loaded := s.hooked.LoadOrStore(srv, struct{}{}); !loaded {
		srv.RegisterOnShutdown(func() { _ = s.shutdown(context.Background()) })
	}
}

// routeSubscriptions sends the websocket upgrades and Server-Sent Events
// requests of /graphql to the subscription server, and every other request
// to next, the query path.
func (g *Gateway) routeSubscriptions(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
			g.subs.hookServer(r)
			g.subs.serveWebsocket(w, r, next)
		case negotiate(r).eventStream && (r.Method == http.MethodGet || r.Method == http.MethodPost):
			g.subs.hookServer(r)
			g.subs.serveSSE(w, r, next)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// subscriptionRequest is a validated subscription, ready to relay.
type subscriptionRequest struct {
	service Service
	field   string // the root field, as "Subscription.orderStatusChanged"
	// The request to send to the service.
	query         string
	operationName string
	variables     map[string]any
}

// prepare validates p against the current merged schema, with the same
// limits, plan cache and persisted queries as the query path. For a
// subscription it returns what to relay; for a query or a mutation it
// returns nil and no errors: the query path answers those. A refusal comes
// with its HTTP status.
func (s *subscriptions) prepare(p params) (*subscriptionRequest, int, gqlerror.List) {
	g := s.g
	pq, status, perr := g.resolvePersisted(&p)
	if perr != nil {
		return nil, status, gqlerror.List{perr}
	}
	if p.Query == "" {
		return nil, 0, nil // the query path says a query is required
	}
	if len(p.Query) > g.cfg.MaxQueryBytes {
		return nil, 0, nil // the query path refuses it
	}
	snap := g.current()
	key, cacheable := planKey(p.Query, p.OperationName)
	var op *operation
	if cacheable {
		op, _ = snap.plans.get(key)
	}
	if op == nil {
		var errs []*gqlerror.Error
		if op, status, errs = g.compile(snap, p.Query, p.OperationName); errs != nil {
			return nil, status, errs
		}
		if cacheable {
			snap.plans.add(key, op)
		}
	}
	if op.op.Operation != ast.Subscription {
		return nil, 0, nil
	}
	doc := op.doc
	if _, err := validator.VariableValues(snap.schema, op.op, p.Variables); err != nil {
		return nil, http.StatusBadRequest, gqlerror.List{variableError(err)}
	}
	if err := g.checkCost(doc, op.op, p.Variables); err != nil {
		return nil, http.StatusBadRequest, gqlerror.List{err}
	}
	root := rootType(snap.schema, op.op)
	fields := responseKeys(doc, op.op.SelectionSet)
	if len(fields) != 1 {
		return nil, http.StatusBadRequest, gqlerror.List{requestError(codeValidationFailed, fmt.Sprintf(
			"a subscription must select exactly one root field; this one selects %d (%s)", len(fields), strings.Join(fields, ", ")))}
	}
	field := root.Name + "." + rootFieldName(doc, op.op.SelectionSet)
	svc, ok := g.service(snap.locations[field])
	if !ok {
		return nil, http.StatusInternalServerError, gqlerror.List{g.internal("route a subscription", fmt.Errorf("no service resolves %s", field))}
	}
	if f, other := snap.locations.foreignField(doc, op.op.SelectionSet, root.Name, svc.Name); f != "" {
		return nil, http.StatusBadRequest, gqlerror.List{requestError(codeValidationFailed, fmt.Sprintf(
			"%s is resolved by service %s, but %s is served by service %s alone: a subscription can select only that service's fields; "+
				"query the others by ID when an event arrives", f, other, field, svc.Name))}
	}
	g.remember(pq, p.Query)
	query := p.Query
	if len(doc.Operations) > 1 {
		query = printOperation(doc, op.op, op.op.SelectionSet)
	}
	return &subscriptionRequest{service: svc, field: field, query: query, operationName: op.op.Name, variables: p.Variables}, 0, nil
}

// service returns the first configured service among names.
func (g *Gateway) service(names []string) (Service, bool) {
	for _, s := range g.cfg.Services {
		if slices.Contains(names, s.Name) {
			return s, true
		}
	}
	return Service{}, false
}

// responseKeys returns the distinct response keys (alias or name) of the
// fields of set, through fragments. The validator's SingleFieldSubscriptions
// rule counts field names, so `a: f(x: 1) b: f(x: 2)` passes it; no service
// can serve that as one stream.
func responseKeys(doc *ast.QueryDocument, set ast.SelectionSet) []string {
	var keys []string
	seen := map[string]bool{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				k := s.Alias
				if k == "" {
					k = s.Name
				}
				if !seen[k] {
					seen[k] = true
					keys = append(keys, k)
				}
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				if f := doc.Fragments.ForName(s.Name); f != nil && !seen["..."+s.Name] {
					seen["..."+s.Name] = true
					walk(f.SelectionSet)
				}
			}
		}
	}
	walk(set)
	return keys
}

// rootFieldName is the name of the first field of set, through fragments.
func rootFieldName(doc *ast.QueryDocument, set ast.SelectionSet) string {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			return s.Name
		case *ast.InlineFragment:
			if n := rootFieldName(doc, s.SelectionSet); n != "" {
				return n
			}
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil {
				if n := rootFieldName(doc, f.SelectionSet); n != "" {
					return n
				}
			}
		}
	}
	return ""
}

// foreignField returns the first field of set ("Type.field") that service
// does not resolve, and the service that does; "" when there is none.
func (l fieldLocations) foreignField(doc *ast.QueryDocument, set ast.SelectionSet, parent, service string) (string, string) {
	visited := map[string]bool{}
	var walk func(ast.SelectionSet, string) (string, string)
	walk = func(set ast.SelectionSet, parent string) (string, string) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if strings.HasPrefix(s.Name, "__") {
					continue
				}
				key := parent + "." + s.Name
				if locs := l[key]; len(locs) > 0 && !slices.Contains(locs, service) {
					return key, locs[0]
				}
				if f, other := walk(s.SelectionSet, fieldType(s)); f != "" {
					return f, other
				}
			case *ast.InlineFragment:
				cond := s.TypeCondition
				if cond == "" {
					cond = parent
				}
				if f, other := walk(s.SelectionSet, cond); f != "" {
					return f, other
				}
			case *ast.FragmentSpread:
				if f := doc.Fragments.ForName(s.Name); f != nil && !visited[s.Name] {
					visited[s.Name] = true
					if f, other := walk(f.SelectionSet, f.TypeCondition); f != "" {
						return f, other
					}
				}
			}
		}
		return "", ""
	}
	return walk(set, parent)
}
