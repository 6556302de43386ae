// Package gateway is Shopgraph's edge: one GraphQL endpoint in front of the
// subgraphs. nautilus/gateway merges the subgraphs' schemas and plans
// queries across them; around it this package adds what nautilus lacks:
// start-up that waits for every service, the federation plumbing hidden from
// the public schema, its own executor that batches the node fetches of a
// plan level per service (batch.go), a bounded plan cache (plancache.go),
// verified automatic persisted queries (apq.go), depth, alias, cost, size
// and batch limits (limits.go) and token and field limits checked before
// validation (internal/gqllimit), sharing of identical in-flight queries
// (dedupe.go), Accept negotiation (negotiate.go), schema reload without a restart
// (reload.go), its own HTTP layer with spec-shaped errors and no internal
// addresses, token verification and forwarding, timeouts on every upstream
// call, health and readiness, CORS, request logging and GraphiQL.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/observability"
)

// Defaults of the Config's zero values.
const (
	DefaultUpstreamTimeout = 10 * time.Second
	DefaultRequestTimeout  = 30 * time.Second
	DefaultStartupTimeout  = 60 * time.Second
	DefaultMaxDepth        = 20
	DefaultMaxAliases      = 30
	DefaultMaxCost         = 100000
	DefaultMaxQueryBytes   = 32 << 10
	DefaultMaxTokens       = 10000
	DefaultMaxFields       = 1500
	DefaultMaxSameName     = 50
	DefaultMaxBatchSize    = 10
	DefaultPlanCacheSize   = 1000
	DefaultAPQCacheSize    = 1000
)

// Service is one subgraph behind the gateway.
type Service struct {
	// Name identifies the service in errors, logs and /readyz, e.g. "users".
	Name string
	// URL is the service's GraphQL endpoint, e.g. http://localhost:4001/graphql.
	URL string
}

// Config configures a Gateway.
type Config struct {
	// Services are the subgraphs to join; at least one.
	Services []Service
	// Verifier checks the bearer tokens of incoming requests. Required.
	Verifier *auth.Verifier
	// Credentials, if set, are the gateway's own service identity: every
	// call to a service carries a service token for it (OAuth2 client
	// credentials) in Authorization, and the user's token in
	// X-Forwarded-Authorization.
	Credentials *auth.ServiceCredentials
	// Transport, if set, makes the calls to the services (e.g. one that
	// trusts the services' CA or presents a client certificate).
	Transport http.RoundTripper
	// CORSOrigins are the origins browsers may call the gateway from; "*"
	// allows any. Empty allows none (no CORS headers are sent).
	CORSOrigins []string
	// UpstreamTimeout bounds every call to a service (default 10s).
	UpstreamTimeout time.Duration
	// RequestTimeout bounds the execution of one operation, all its calls
	// to the services included (default 30s). A request also stops when
	// its client goes.
	RequestTimeout time.Duration
	// StartupTimeout is how long New waits for every service to answer
	// introspection (default 60s).
	StartupTimeout time.Duration
	// SchemaPollInterval is how often every service's schema is read again;
	// a changed schema is merged and served without a restart. Zero never
	// reads them again.
	SchemaPollInterval time.Duration

	// Limits on operations, checked before any service is called. Zero
	// values take the defaults.

	// MaxDepth bounds the nesting of an operation's fields (default 20).
	MaxDepth int
	// MaxAliases bounds the aliased fields of an operation (default 30).
	MaxAliases int
	// MaxCost bounds an operation's estimated size: each field counts
	// once for every object it can appear in, where a field with a first or
	// last argument returns that many and any other list 10 (default
	// 100000; GraphiQL's introspection query costs about 52000).
	MaxCost int
	// MaxQueryBytes bounds the length of a query's text (default 32 KiB).
	MaxQueryBytes int
	// MaxTokens bounds the lexical tokens of a query (default 10000).
	MaxTokens int
	// MaxFields bounds the fields of an operation with its fragments
	// expanded, and the fields written in a query (default 1500).
	MaxFields int
	// MaxSameNameFields bounds the fields of one response name in one
	// selection set, fragments included (default 50): validation compares
	// every pair of them.
	MaxSameNameFields int
	// MaxBatchSize bounds the operations of a batched request, a JSON array
	// of requests (default 10); 1 allows no batching.
	MaxBatchSize int
	// DisableIntrospection refuses __schema and __type; __typename stays.
	DisableIntrospection bool

	// DisableDedupe turns off the sharing of identical in-flight queries
	// to a service by requests of the same caller (see dedupe.go).
	DisableDedupe bool

	// PlanCacheSize bounds the prepared operations kept, keyed by their
	// normalized text and operation name (default 1000).
	PlanCacheSize int
	// APQCacheSize bounds the automatic persisted queries kept (default
	// 1000).
	APQCacheSize int
	// Subscriptions tune websocket and SSE subscriptions (see subscription.go).
	Subscriptions SubscriptionOptions
	// Log receives request logs and internal errors (default: discarded).
	Log *slog.Logger
	// Telemetry traces and counts every operation and every upstream fetch
	// (see observe.go); nil records nothing.
	Telemetry *observability.Scope
}

// validate reports every invalid setting and fills in the defaults.
func (c *Config) validate() error {
	var errs []error
	if len(c.Services) == 0 {
		errs = append(errs, errors.New("no services configured"))
	}
	names, urls := map[string]bool{}, map[string]string{}
	for i, s := range c.Services {
		if s.Name == "" {
			errs = append(errs, fmt.Errorf("service %d has no name", i+1))
		} else if names[s.Name] {
			errs = append(errs, fmt.Errorf("service %s is configured twice", s.Name))
		}
		names[s.Name] = true
		if other, ok := urls[s.URL]; ok {
			errs = append(errs, fmt.Errorf("services %s and %s have the same URL", other, s.Name))
		}
		urls[s.URL] = s.Name
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("service %s: %q is not an http(s) URL", s.Name, s.URL))
		}
	}
	if c.Verifier == nil {
		errs = append(errs, errors.New("no token verifier configured"))
	}
	if c.UpstreamTimeout < 0 || c.RequestTimeout < 0 || c.StartupTimeout < 0 || c.SchemaPollInterval < 0 {
		errs = append(errs, errors.New("timeouts and intervals must not be negative"))
	}
	if c.MaxDepth < 0 || c.MaxAliases < 0 || c.MaxCost < 0 || c.MaxQueryBytes < 0 || c.MaxBatchSize < 0 ||
		c.MaxTokens < 0 || c.MaxFields < 0 || c.MaxSameNameFields < 0 ||
		c.PlanCacheSize < 0 || c.APQCacheSize < 0 {
		errs = append(errs, errors.New("limits and cache sizes must not be negative"))
	}
	setDefault(&c.UpstreamTimeout, DefaultUpstreamTimeout)
	setDefault(&c.StartupTimeout, DefaultStartupTimeout)
	setDefault(&c.RequestTimeout, DefaultRequestTimeout)
	setDefault(&c.MaxDepth, DefaultMaxDepth)
	setDefault(&c.MaxAliases, DefaultMaxAliases)
	setDefault(&c.MaxCost, DefaultMaxCost)
	setDefault(&c.MaxQueryBytes, DefaultMaxQueryBytes)
	setDefault(&c.MaxBatchSize, DefaultMaxBatchSize)
	setDefault(&c.MaxTokens, DefaultMaxTokens)
	setDefault(&c.MaxFields, DefaultMaxFields)
	setDefault(&c.MaxSameNameFields, DefaultMaxSameName)
	setDefault(&c.PlanCacheSize, DefaultPlanCacheSize)
	setDefault(&c.APQCacheSize, DefaultAPQCacheSize)
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return errors.Join(errs...)
}

// setDefault sets a zero *v to def.
func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Gateway serves the merged schema of its services over HTTP.
type Gateway struct {
	cfg       Config
	log       *slog.Logger
	upstreams map[string]*upstream
	client    *http.Client
	snap      atomic.Pointer[snapshot] // see current
	apq       *apqStore
	reload    *reloader

	// schema and locations are the start-up snapshot's, for code that has
	// not moved to current() yet: they do not follow schema reloads.
	schema    *ast.Schema
	locations fieldLocations

	subs *subscriptions
}

// New introspects every service, retrying each with backoff until
// cfg.StartupTimeout, and builds the gateway on their merged schema. The
// error names every service that did not answer, and why.
//
// With a SchemaPollInterval, the gateway then reads the services' schemas
// again in the background until ctx ends or Close is called.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	g := &Gateway{
		cfg:       cfg,
		log:       cfg.Log,
		client:    &http.Client{Timeout: cfg.UpstreamTimeout, Transport: cfg.Telemetry.Transport(cfg.Transport, peers(cfg.Services))},
		upstreams: map[string]*upstream{},
		apq:       newAPQStore(cfg.APQCacheSize),
	}
	g.subs = newSubscriptions(g, cfg.Subscriptions)
	for _, s := range cfg.Services {
		g.upstreams[s.URL] = newUpstream(s, g.client)
		if !cfg.DisableDedupe {
			g.upstreams[s.URL].flight = newFlight()
		}
		if cfg.Credentials != nil {
			g.upstreams[s.URL].tokens = cfg.Credentials.TokenSource(s.Name)
		}
	}
	sources, err := g.introspect(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := g.build(ctx, sources)
	if err != nil {
		return nil, err
	}
	g.snap.Store(snap)
	g.schema, g.locations = snap.schema, snap.locations
	g.reload = g.startReloader(ctx)
	return g, nil
}

// Close stops reading the services' schemas in the background. The handler
// keeps serving the last merged schema.
func (g *Gateway) Close() {
	g.reload.stop()
}

// Handler returns the gateway's HTTP handler: GraphQL at /graphql (POST and
// GET), GraphiQL at /, liveness at /healthz and readiness at /readyz.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/graphql", g.authenticate(g.routeSubscriptions(http.HandlerFunc(g.serveGraphQL))))
	mux.HandleFunc("GET /healthz", g.serveHealth)
	mux.HandleFunc("GET /readyz", g.serveReady)
	mux.Handle("GET /{$}", graphiql())
	mux.Handle("GET /graphiql/", graphiql())
	return g.withRequestID(g.logRequests(g.cors(mux)))
}
