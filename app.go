package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/sync/errgroup"

	"github.com/shopgraph/shopgraph/gateway"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/config"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/httpserver"
	"github.com/shopgraph/shopgraph/internal/mongodb"
	"github.com/shopgraph/shopgraph/internal/observability"
	"github.com/shopgraph/shopgraph/internal/postgres"
	"github.com/shopgraph/shopgraph/internal/redisconn"
	"github.com/shopgraph/shopgraph/internal/subgraph"
)

// component is a built service: its HTTP handler, the stores /readyz pings
// and, for services that consume streams or run timers, a loop that runs
// until its context ends.
type component struct {
	handler http.Handler
	run     func(ctx context.Context) error
	ready   []subgraph.Check
}

// service is one subgraph: how to build it from the shared dependencies.
type service struct {
	name  string
	build func(ctx context.Context, a *app) (component, error)
}

// services are the subgraphs this binary runs, in start-up order (a service
// comes after those whose URL it needs).
var services = []service{
	{"users", buildUsers},
	{"products", buildProducts},
	{"inventory", buildInventory},
	{"payments", buildPayments},
	{"shipping", buildShipping},
	{"orders", buildOrders},
	{"notifications", buildNotifications},
}

// app holds what the running targets share, opened on first use.
type app struct {
	cfg config.Config
	log *slog.Logger
	tel *observability.Telemetry

	servers []*httpserver.Server
	closers []func()
	group   *errgroup.Group
	gctx    context.Context

	redis *redis.Client
	mongo *mongo.Client
	// embedded is the embedded FerretDB, when there is no -mongodb-uri.
	embedded *mongodb.Embedded
	key      jwk.Key
	verifier *auth.Verifier
	urls     map[string]string // service name → URL the gateway and services use
}

// start builds and starts every target this process runs: the services
// first (serving and running their loops at once, since the gateway
// introspects them), then the gateway.
func (a *app) start(ctx context.Context) error {
	a.group, a.gctx = errgroup.WithContext(ctx)
	a.urls = map[string]string{}
	for _, s := range services {
		a.urls[s.name] = a.cfg.ServiceURL(s.name)
	}
	for _, s := range services {
		if !a.cfg.Runs(s.name) {
			continue
		}
		c, err := s.build(ctx, a)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		srv, err := a.listen(s.name, subgraph.WithReadiness(c.handler, a.log.With("service", s.name), c.ready...))
		if err != nil {
			return err
		}
		if c.run != nil {
			// Its consumers and relay trace and count as this service.
			rctx := observability.WithScope(a.gctx, a.tel.Scope(s.name))
			a.group.Go(func() error {
				if err := c.run(rctx); err != nil && a.gctx.Err() == nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
				return nil
			})
		}
		if a.cfg.Target == "all" || a.cfg.URLs[s.name] == "" {
			// All-in-one mode: reach each service where it actually listens.
			a.urls[s.name] = "http://" + net.JoinHostPort(dialHost(a.cfg.Host), strconv.Itoa(srv.Port())) + "/graphql"
		}
	}
	if a.cfg.Runs("gateway") {
		v, err := a.tokenVerifier()
		if err != nil {
			return err
		}
		ups := make([]gateway.Service, 0, len(services))
		for _, s := range services {
			ups = append(ups, gateway.Service{Name: s.name, URL: a.urls[s.name]})
		}
		g, err := gateway.New(ctx, gateway.Config{
			Services:             ups,
			Verifier:             v,
			CORSOrigins:          a.cfg.CORSOrigins,
			UpstreamTimeout:      a.cfg.UpstreamTimeout,
			StartupTimeout:       a.cfg.StartupTimeout,
			SchemaPollInterval:   a.cfg.SchemaPollInterval,
			MaxDepth:             a.cfg.MaxQueryDepth,
			MaxAliases:           a.cfg.MaxQueryAliases,
			MaxCost:              a.cfg.MaxQueryCost,
			MaxQueryBytes:        a.cfg.MaxQueryBytes,
			MaxBatchSize:         a.cfg.MaxBatchSize,
			DisableIntrospection: !a.cfg.Introspection,
			DisableDedupe:        !a.cfg.GatewayDedupe,
			PlanCacheSize:        a.cfg.PlanCacheSize,
			APQCacheSize:         a.cfg.APQCacheSize,
			Log:                  a.log.With("service", "gateway"),
			Telemetry:            a.tel.Scope("gateway"),
		})
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		if _, err := a.listen("gateway", g.Handler()); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) listen(name string, h http.Handler) (*httpserver.Server, error) {
	addr := net.JoinHostPort(a.cfg.Host, strconv.Itoa(a.cfg.Ports[name]))
	srv, err := httpserver.Listen(name, addr, a.observe(name, h), a.log)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", name, addr, err)
	}
	a.servers = append(a.servers, srv)
	a.group.Go(func() error {
		if err := srv.Serve(a.gctx, a.cfg.ShutdownTimeout); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
	return srv, nil
}

// wait serves until the context given to start is done (or a listener or
// service loop fails), then waits for every server to shut down.
func (a *app) wait() error {
	return a.group.Wait()
}

func (a *app) printURLs(w io.Writer) {
	host := dialHost(a.cfg.Host)
	for _, s := range a.servers {
		base := "http://" + net.JoinHostPort(host, strconv.Itoa(s.Port()))
		if s.Name == "gateway" {
			fmt.Fprintf(w, "%-15s %s/\n", "GraphiQL:", base)
			fmt.Fprintf(w, "%-15s %s/graphql\n", "GraphQL:", base)
			continue
		}
		fmt.Fprintf(w, "%-15s %s/graphql\n", s.Name+":", base)
	}
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// dialHost is the host to reach a listener bound to host.
func dialHost(host string) string {
	if host == "" || host == "0.0.0.0" || host == "::" {
		return "localhost"
	}
	return host
}

// pool opens service s's PostgreSQL schema with its migrations applied.
func (a *app) pool(ctx context.Context, s string, migrations fs.FS) (*pgxpool.Pool, error) {
	p, err := postgres.Open(ctx, a.cfg.DatabaseURLFor(s), s, migrations, a.log)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, p.Close)
	a.collectPool(s, p)
	return p, nil
}

func (a *app) redisClient(ctx context.Context) (*redis.Client, error) {
	if a.redis == nil {
		c, err := redisconn.Open(ctx, a.cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		a.redis = c
		a.closers = append(a.closers, func() { _ = c.Close() })
		a.tel.Registry().MustRegister(events.StreamCollector(c, a.cfg.RedisPrefix))
	}
	return a.redis, nil
}

// mongoDB returns the database of service s: on MONGODB_URI, or on the
// embedded FerretDB in the data directory when none is set.
func (a *app) mongoDB(ctx context.Context, s string) (*mongo.Database, error) {
	if a.mongo == nil {
		uri := a.cfg.MongoURI
		if uri == "" {
			if a.cfg.Target != "all" {
				a.log.Warn("no -mongodb-uri set: using an embedded FerretDB in the data directory")
			}
			e, err := mongodb.StartEmbedded(ctx, filepath.Join(a.cfg.DataDir, "ferretdb"), a.log)
			if err != nil {
				return nil, err
			}
			a.closers = append(a.closers, e.Stop)
			a.embedded = e
			uri = e.URI
		}
		c, err := mongodb.Connect(ctx, uri)
		if err != nil {
			return nil, err
		}
		a.mongo = c
		a.closers = append(a.closers, func() {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = c.Disconnect(cctx)
		})
	}
	return a.mongo.Database("shopgraph_" + s), nil
}

// signingKey loads the users service's key: the configured PEM file, or one
// generated once and kept in the data directory.
func (a *app) signingKey() (jwk.Key, error) {
	if a.key != nil {
		return a.key, nil
	}
	path := a.cfg.JWTPrivateKeyFile
	if path == "" {
		path = filepath.Join(a.cfg.DataDir, "jwt-signing-key.pem")
		if a.cfg.Target != "all" {
			a.log.Warn("no -jwt-private-key-file set: using a key generated in the data directory; replicas must share it", "path", path)
		}
	}
	k, err := auth.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	a.key = k
	return k, nil
}

// tokenVerifier trusts the local signing key when this process runs the
// users service, and the users service's JWKS otherwise.
func (a *app) tokenVerifier() (*auth.Verifier, error) {
	if a.verifier != nil {
		return a.verifier, nil
	}
	if a.cfg.Runs("users") {
		k, err := a.signingKey()
		if err != nil {
			return nil, err
		}
		set, err := auth.PublicSet(k)
		if err != nil {
			return nil, err
		}
		a.verifier = auth.NewVerifier(auth.StaticKeys{Set: set}, nil)
	} else {
		a.verifier = auth.NewVerifier(&auth.RemoteKeys{URL: a.cfg.JWKSEndpoint(), MinRefresh: time.Minute}, nil)
	}
	return a.verifier, nil
}
