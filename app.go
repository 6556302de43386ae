package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	// autoSecrets are the OAuth2 client secrets all-in-one mode makes at
	// start-up, per client (each service and the gateway).
	autoSecrets map[string]string
	creds       map[string]*auth.ServiceCredentials
	tls         *httpserver.TLSFiles
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
			a.urls[s.name] = srv.Scheme() + "://" + net.JoinHostPort(dialHost(a.cfg.Host), strconv.Itoa(srv.Port())) + "/graphql"
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
		creds, err := a.serviceCredentials("gateway")
		if err != nil {
			return err
		}
		tr, err := a.transport()
		if err != nil {
			return err
		}
		g, err := gateway.New(ctx, gateway.Config{
			Services:             ups,
			Verifier:             v,
			Credentials:          creds,
			Transport:            tr,
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
		if _, err := a.listen("gateway", hsts(g.Handler(), a.cfg.HSTSMaxAge)); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) listen(name string, h http.Handler) (*httpserver.Server, error) {
	if a.cfg.RequireServiceToken && name != "gateway" {
		v, err := a.tokenVerifier()
		if err != nil {
			return nil, err
		}
		h = requireServiceToken(h, auth.ServiceMiddleware(v, name, true, a.log)(h))
	}
	addr := net.JoinHostPort(a.cfg.Host, strconv.Itoa(a.cfg.Ports[name]))
	srv, err := httpserver.Listen(name, addr, a.observe(name, h), a.log)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", name, addr, err)
	}
	f, err := a.tlsFiles()
	if err != nil {
		return nil, err
	}
	if f.Enabled() {
		c, err := f.ServerConfig()
		if err != nil {
			_ = srv.Listener.Close()
			return nil, fmt.Errorf("%s: TLS: %w", name, err)
		}
		srv.UseTLS(c)
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
		base := s.Scheme() + "://" + net.JoinHostPort(host, strconv.Itoa(s.Port()))
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
	p, err := postgres.Open(ctx, a.cfg.DatabaseURLFor(s), s, migrations, a.log, a.tracePgx(s)...)
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
		if err := a.traceRedis(c); err != nil {
			return nil, err
		}
		a.tel.Registry().MustRegister(events.StreamCollector(c, a.cfg.RedisPrefix), observability.RedisPoolCollector(a.processName(), c))
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
		c, err := mongodb.Connect(ctx, uri, a.tel.MongoMonitor(a.processName()))
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
		hc, err := a.httpClient()
		if err != nil {
			return nil, err
		}
		a.verifier = auth.NewVerifier(&auth.RemoteKeys{URL: a.cfg.JWKSEndpoint(), Client: hc, MinRefresh: time.Minute}, nil)
	}
	return a.verifier, nil
}

// requireServiceToken serves the GraphQL endpoint through guarded and
// everything else (health, JWKS, the token endpoint) through open.
func requireServiceToken(open, guarded http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/graphql" || r.URL.Path == "/" {
			guarded.ServeHTTP(w, r)
			return
		}
		open.ServeHTTP(w, r)
	})
}

// oauthClientNames are the clients all-in-one mode makes: each service and
// the gateway.
func oauthClientNames() []string { return append([]string{"gateway"}, config.Services...) }

// clientScopes are the scopes each client of all-in-one mode may ask for:
// orders and inventory read the catalog's variants by SKU.
func clientScopes(name string) []string {
	if name == "orders" || name == "inventory" {
		return []string{auth.ScopeVariantsRead}
	}
	return nil
}

// allInOneSecrets makes (once) a random client secret for each client of
// all-in-one mode. They live in memory only: every client is in this
// process, and a restart makes new ones.
func (a *app) allInOneSecrets() (map[string]string, error) {
	if a.autoSecrets == nil {
		a.autoSecrets = map[string]string{}
		for _, n := range oauthClientNames() {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return nil, err
			}
			a.autoSecrets[n] = hex.EncodeToString(b)
		}
	}
	return a.autoSecrets, nil
}

// oauthClients are the clients the users service issues tokens to: those of
// -oauth-clients-file, and in all-in-one mode its own.
func (a *app) oauthClients() ([]auth.OAuthClient, error) {
	var clients []auth.OAuthClient
	if a.cfg.OAuthClientsFile != "" {
		cs, err := auth.LoadOAuthClients(a.cfg.OAuthClientsFile)
		if err != nil {
			return nil, err
		}
		clients = cs
	}
	if a.cfg.Target == "all" {
		secrets, err := a.allInOneSecrets()
		if err != nil {
			return nil, err
		}
		for _, n := range oauthClientNames() {
			var auds []string
			for _, s := range config.Services {
				if s != n {
					auds = append(auds, s)
				}
			}
			clients = append(clients, auth.OAuthClient{ID: "shopgraph-" + n, SecretSHA256: []string{auth.HashSecret(secrets[n])},
				Scopes: clientScopes(n), Audiences: auds})
		}
	}
	return clients, nil
}

// serviceCredentials returns how target name gets its service tokens: the
// configured client (-oauth-client-secret or -oauth-client-key-file), or in
// all-in-one mode its own client; nil when neither (its calls to other
// services then carry no service token).
func (a *app) serviceCredentials(name string) (*auth.ServiceCredentials, error) {
	if c, ok := a.creds[name]; ok {
		return c, nil
	}
	if a.creds == nil {
		a.creds = map[string]*auth.ServiceCredentials{}
	}
	c := a.cfg
	hc, err := a.httpClient()
	if err != nil {
		return nil, err
	}
	var creds *auth.ServiceCredentials
	switch {
	case c.OAuthClientSecret != "" || c.OAuthClientSecretFile != "" || c.OAuthClientKeyFile != "":
		id := c.OAuthClientID
		if id == "" {
			id = c.Target
		}
		creds = &auth.ServiceCredentials{TokenURL: a.tokenURL(), ClientID: id, Secret: c.OAuthClientSecret, HTTP: hc}
		if c.OAuthClientSecretFile != "" {
			data, err := os.ReadFile(c.OAuthClientSecretFile)
			if err != nil {
				return nil, fmt.Errorf("OAuth client secret: %w", err)
			}
			creds.Secret = strings.TrimSpace(string(data))
		}
		if c.OAuthClientKeyFile != "" {
			data, err := os.ReadFile(c.OAuthClientKeyFile)
			if err != nil {
				return nil, fmt.Errorf("OAuth client key: %w", err)
			}
			k, err := auth.ParsePrivateKeyPEM(data)
			if err != nil {
				return nil, fmt.Errorf("OAuth client key %s: %w", c.OAuthClientKeyFile, err)
			}
			creds.Key, creds.Secret = k, ""
		}
	case c.Target == "all":
		secrets, err := a.allInOneSecrets()
		if err != nil {
			return nil, err
		}
		creds = &auth.ServiceCredentials{TokenURL: a.tokenURL(), ClientID: "shopgraph-" + name, Secret: secrets[name], HTTP: hc}
	default:
		a.log.Warn("no OAuth2 client configured (-oauth-client-secret or -oauth-client-key-file): calls to other services carry no service token", "target", name)
	}
	a.creds[name] = creds
	return creds, nil
}

// tokenURL is the token endpoint: the configured one, or where the users
// service listens.
func (a *app) tokenURL() string {
	if a.cfg.OAuthTokenURL != "" {
		return a.cfg.OAuthTokenURL
	}
	return strings.TrimSuffix(a.urls["users"], "/graphql") + "/oauth/token"
}

// tlsFiles are the TLS settings of listeners and calls: -tls=auto's local CA
// and certificate in the data directory, or the configured files.
func (a *app) tlsFiles() (httpserver.TLSFiles, error) {
	if a.tls != nil {
		return *a.tls, nil
	}
	c := a.cfg
	f := httpserver.TLSFiles{CertFile: c.TLSCertFile, KeyFile: c.TLSKeyFile, CAFile: c.TLSCAFile, ClientAuth: c.TLSClientAuth}
	if c.TLS == "auto" && c.TLSCertFile == "" {
		auto, err := httpserver.AutoTLS(filepath.Join(c.DataDir, "tls"), dialHost(c.Host))
		if err != nil {
			return f, fmt.Errorf("-tls=auto: %w", err)
		}
		f.CertFile, f.KeyFile = auto.CertFile, auto.KeyFile
		if f.CAFile == "" {
			f.CAFile = auto.CAFile
		}
	}
	a.tls = &f
	return f, nil
}

// transport is the HTTP transport of calls to other services: trusting
// -tls-ca-file and presenting this process's certificate for mutual TLS;
// nil (the default transport) when TLS is not configured.
func (a *app) transport() (http.RoundTripper, error) {
	f, err := a.tlsFiles()
	if err != nil || (!f.Enabled() && f.CAFile == "") {
		return nil, err
	}
	return f.Transport()
}

// httpClient is the client of calls to other services (5 s timeout).
func (a *app) httpClient() (*http.Client, error) {
	tr, err := a.transport()
	if err != nil {
		return nil, err
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: tr}, nil
}

// hsts makes h send Strict-Transport-Security with maxAge over HTTPS.
func hsts(h http.Handler, maxAge time.Duration) http.Handler {
	if maxAge <= 0 {
		return h
	}
	value := fmt.Sprintf("max-age=%d; includeSubDomains", int(maxAge.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			w.Header().Set("Strict-Transport-Security", value)
		}
		h.ServeHTTP(w, r)
	})
}
