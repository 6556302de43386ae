package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/sync/errgroup"

	"github.com/shopgraph/shopgraph/gateway"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/config"
	"github.com/shopgraph/shopgraph/internal/httpserver"
	"github.com/shopgraph/shopgraph/internal/mongodb"
	"github.com/shopgraph/shopgraph/internal/postgres"
	"github.com/shopgraph/shopgraph/internal/redisconn"
	"github.com/shopgraph/shopgraph/subgraphs/products"
	"github.com/shopgraph/shopgraph/subgraphs/users"
	userspg "github.com/shopgraph/shopgraph/subgraphs/users/postgres"
)

// service is one subgraph: how to build its HTTP handler from the shared
// dependencies.
type service struct {
	name  string
	build func(ctx context.Context, a *app) (http.Handler, func(), error)
}

// services are the subgraphs this binary can run, in start-up order.
var services = []service{
	{"users", buildUsers},
	{"products", buildProducts},
}

// app holds what the running targets share, opened on first use.
type app struct {
	cfg config.Config
	log *slog.Logger

	servers []*httpserver.Server
	closers []func()

	redis    *redis.Client
	mongo    *mongo.Client
	key      jwk.Key
	verifier *auth.Verifier
	urls     map[string]string // service name → URL the gateway uses
}

func (a *app) start(ctx context.Context) error {
	a.urls = map[string]string{}
	known := map[string]bool{"all": true, "gateway": true}
	for _, s := range services {
		known[s.name] = true
	}
	if !known[a.cfg.Target] {
		return fmt.Errorf("-target=%s: this build does not include the %s service yet", a.cfg.Target, a.cfg.Target)
	}
	for _, s := range services {
		if !a.cfg.Runs(s.name) {
			a.urls[s.name] = a.cfg.ServiceURL(s.name)
			continue
		}
		h, closeFn, err := s.build(ctx, a)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		a.closers = append(a.closers, closeFn)
		srv, err := a.listen(s.name, h)
		if err != nil {
			return err
		}
		a.urls[s.name] = fmt.Sprintf("http://%s/graphql", net.JoinHostPort(dialHost(a.cfg.Host), strconv.Itoa(srv.Port())))
		if a.cfg.URLs[s.name] != "" && a.cfg.Target != "all" {
			a.urls[s.name] = a.cfg.URLs[s.name]
		}
	}
	if a.cfg.Runs("gateway") {
		v, err := a.tokenVerifier(ctx)
		if err != nil {
			return err
		}
		ups := make([]gateway.Service, 0, len(services))
		for _, s := range services {
			ups = append(ups, gateway.Service{Name: s.name, URL: a.urls[s.name]})
		}
		g, err := gateway.New(ctx, gateway.Config{
			Services:        ups,
			Verifier:        v,
			CORSOrigins:     a.cfg.CORSOrigins,
			UpstreamTimeout: a.cfg.UpstreamTimeout,
			StartupTimeout:  a.cfg.StartupTimeout,
			Log:             a.log.With("service", "gateway"),
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
	srv, err := httpserver.Listen(name, addr, h, a.log)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", name, addr, err)
	}
	a.servers = append(a.servers, srv)
	return srv, nil
}

// serve serves every listener until ctx is done, then shuts them all down.
func (a *app) serve(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range a.servers {
		g.Go(func() error {
			if err := s.Serve(gctx, a.cfg.ShutdownTimeout); err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

func (a *app) printURLs(w io.Writer) {
	host := dialHost(a.cfg.Host)
	for _, s := range a.servers {
		base := "http://" + net.JoinHostPort(host, strconv.Itoa(s.Port()))
		if s.Name == "gateway" {
			fmt.Fprintf(w, "GraphiQL:  %s/\n", base)
			fmt.Fprintf(w, "GraphQL:   %s/graphql\n", base)
			continue
		}
		fmt.Fprintf(w, "%-10s %s/graphql\n", s.Name+":", base)
	}
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if a.closers[i] != nil {
			a.closers[i]()
		}
	}
}

// dialHost is the host to reach a listener bound to host.
func dialHost(host string) string {
	if host == "" || host == "0.0.0.0" || host == "::" {
		return "localhost"
	}
	return host
}

func (a *app) redisClient(ctx context.Context) (*redis.Client, error) {
	if a.redis == nil {
		c, err := redisconn.Open(ctx, a.cfg.RedisURL)
		if err != nil {
			return nil, err
		}
		a.redis = c
		a.closers = append(a.closers, func() { _ = c.Close() })
	}
	return a.redis, nil
}

// mongoClient connects to MONGODB_URI, or starts the embedded FerretDB in the
// data directory when none is set.
func (a *app) mongoClient(ctx context.Context) (*mongo.Client, error) {
	if a.mongo != nil {
		return a.mongo, nil
	}
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
	return c, nil
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
func (a *app) tokenVerifier(ctx context.Context) (*auth.Verifier, error) {
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

func buildUsers(ctx context.Context, a *app) (http.Handler, func(), error) {
	pool, err := postgres.Open(ctx, a.cfg.DatabaseURLFor("users"), "users", userspg.Migrations, a.log)
	if err != nil {
		return nil, nil, err
	}
	rdb, err := a.redisClient(ctx)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	key, err := a.signingKey()
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	signer, err := auth.NewSigner(key, a.cfg.AccessTokenTTL, nil)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	jwks, err := auth.PublicSet(key)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	v, err := a.tokenVerifier(ctx)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	svc, err := users.New(ctx, users.Config{
		DB: pool, Redis: rdb, RedisPrefix: a.cfg.RedisPrefix + "users:",
		Signer: signer, Verifier: v, JWKS: jwks,
		RefreshTTL:           a.cfg.RefreshTokenTTL,
		AdminEmail:           a.cfg.AdminEmail,
		AdminPassword:        a.cfg.AdminPassword,
		LoginLimitPerAccount: a.cfg.LoginLimitPerAccount,
		LoginLimitPerAddress: a.cfg.LoginLimitPerAddress,
		LoginLimitWindow:     a.cfg.LoginLimitWindow,
		Log:                  a.log.With("service", "users"),
	})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return svc.Handler, func() { svc.Close(); pool.Close() }, nil
}

func buildProducts(ctx context.Context, a *app) (http.Handler, func(), error) {
	mc, err := a.mongoClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	v, err := a.tokenVerifier(ctx)
	if err != nil {
		return nil, nil, err
	}
	svc, err := products.New(ctx, products.Config{
		DB:       mc.Database("shopgraph_products"),
		Verifier: v,
		Log:      a.log.With("service", "products"),
	})
	if err != nil {
		return nil, nil, err
	}
	return svc.Handler, svc.Close, nil
}
