// Package gateway is Shopgraph's edge: one GraphQL endpoint in front of the
// subgraphs. nautilus/gateway merges the subgraphs' schemas and plans and
// executes queries across them; around it this package adds what nautilus
// lacks: start-up that waits for every service, the federation plumbing
// hidden from the public schema, its own HTTP layer with spec-shaped errors
// and no internal addresses, token verification and forwarding, timeouts on
// every upstream call, health and readiness, CORS, request logging and
// GraphiQL.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	nautilus "github.com/nautilus/gateway"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shopgraph/shopgraph/internal/auth"
)

// Defaults of the Config's zero durations.
const (
	DefaultUpstreamTimeout = 10 * time.Second
	DefaultStartupTimeout  = 60 * time.Second
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
	// CORSOrigins are the origins browsers may call the gateway from; "*"
	// allows any. Empty allows none (no CORS headers are sent).
	CORSOrigins []string
	// UpstreamTimeout bounds every call to a service (default 10s).
	UpstreamTimeout time.Duration
	// StartupTimeout is how long New waits for every service to answer
	// introspection (default 60s).
	StartupTimeout time.Duration
	// Log receives request logs and internal errors (default: discarded).
	Log *slog.Logger
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
	if c.UpstreamTimeout < 0 || c.StartupTimeout < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	if c.UpstreamTimeout == 0 {
		c.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if c.StartupTimeout == 0 {
		c.StartupTimeout = DefaultStartupTimeout
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return errors.Join(errs...)
}

// Gateway serves the merged schema of its services over HTTP.
type Gateway struct {
	cfg       Config
	log       *slog.Logger
	nautilus  *nautilus.Gateway
	schema    *ast.Schema // the merged, public schema
	upstreams map[string]*upstream
	client    *http.Client
	locations fieldLocations
}

// New introspects every service, retrying each with backoff until
// cfg.StartupTimeout, and builds the gateway on their merged schema. The
// error names every service that did not answer, and why.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	g := &Gateway{
		cfg:       cfg,
		log:       cfg.Log,
		client:    &http.Client{Timeout: cfg.UpstreamTimeout},
		upstreams: map[string]*upstream{},
	}
	for _, s := range cfg.Services {
		g.upstreams[s.URL] = newUpstream(s, g.client)
	}
	sources, err := g.introspect(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, s := range cfg.Services {
		names[s.URL] = s.Name
	}
	g.locations = newFieldLocations(sources, names)
	plans := &planCache{}
	factory := nautilus.QueryerFactory(g.queryerFor)
	ng, err := nautilus.New(sources,
		nautilus.WithQueryerFactory(&factory),
		nautilus.WithQueryPlanCache(plans),
		nautilus.WithMiddlewares(nautilus.RequestMiddleware(forwardHeaders)),
		nautilus.WithLogger(nautilusLogger{g.log}),
	)
	if err != nil {
		return nil, fmt.Errorf("merge the services' schemas: %w", err)
	}
	g.nautilus = ng
	if g.schema, err = plans.mergedSchema(ctx, ng); err != nil {
		return nil, err
	}
	return g, nil
}

// Handler returns the gateway's HTTP handler: GraphQL at /graphql (POST and
// GET), GraphiQL at /, liveness at /healthz and readiness at /readyz.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/graphql", g.authenticate(http.HandlerFunc(g.serveGraphQL)))
	mux.HandleFunc("GET /healthz", g.serveHealth)
	mux.HandleFunc("GET /readyz", g.serveReady)
	mux.Handle("GET /{$}", graphiql())
	return g.withRequestID(g.logRequests(g.cors(mux)))
}
