// Package users is the users service: accounts, sign-in, sessions and address
// books, served as a GraphQL subgraph over PostgreSQL (with login and
// registration rate limits in Redis). It issues the access tokens every service verifies and publishes
// their public keys at /.well-known/jwks.json.
package users

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/subgraph"
	"github.com/shopgraph/shopgraph/subgraphs/users/graph"
	"github.com/shopgraph/shopgraph/subgraphs/users/loginlimit"
	userspg "github.com/shopgraph/shopgraph/subgraphs/users/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/users/user"
)

// Config is what the users service needs. DB must be a pool opened with
// postgres.Open(ctx, url, "users", userspg.Migrations, log).
type Config struct {
	DB          *pgxpool.Pool
	Redis       *redis.Client
	RedisPrefix string
	// StreamPrefix starts the stream names (the deployment's Redis prefix,
	// the same in every service); UserRegistered goes to users.events.
	StreamPrefix string
	// Signer issues access tokens; Verifier checks the bearer tokens of
	// requests; JWKS is served at /.well-known/jwks.json.
	Signer   *auth.Signer
	Verifier *auth.Verifier
	JWKS     jwk.Set
	// OAuth, if set, is the OAuth2 token endpoint of service identities,
	// served at /oauth/token with its metadata at
	// /.well-known/oauth-authorization-server.
	OAuth *auth.TokenServer
	// RefreshTTL is the lifetime of refresh tokens.
	RefreshTTL time.Duration
	// AdminEmail and AdminPassword, if set (both or neither), make sure that
	// this admin user exists at start-up (see user.Service.EnsureAdmin).
	AdminEmail, AdminPassword string
	// Failed sign-in attempts allowed per account and per client address
	// within LoginLimitWindow. Zero means the defaults: 5, 20 and 15 minutes.
	LoginLimitPerAccount, LoginLimitPerAddress int
	LoginLimitWindow                           time.Duration
	// Registration attempts allowed per client address within
	// LoginLimitWindow. Zero means the default, 10.
	RegisterLimitPerAddress int
	// Log is the service's logger; the caller labels it (service=users).
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service is the running users service.
type Service struct {
	// Handler serves GraphQL at /graphql, /healthz and
	// /.well-known/jwks.json.
	Handler http.Handler
	// Users is the domain service behind the handler.
	Users *user.Service

	relay *events.Relay
}

// New builds the users service and, if configured, makes sure the admin user
// exists.
func New(ctx context.Context, c Config) (*Service, error) {
	if c.DB == nil || c.Redis == nil || c.Signer == nil || c.Verifier == nil || c.JWKS == nil {
		return nil, errors.New("users: DB, Redis, Signer, Verifier and JWKS are required")
	}
	if c.RefreshTTL <= 0 {
		return nil, errors.New("users: RefreshTTL must be positive")
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		return nil, errors.New("users: AdminEmail and AdminPassword must be set together")
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	log := c.Log
	if err := events.Migrate(ctx, c.DB, log); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	limiter, err := loginlimit.New(loginlimit.Config{
		Redis:      c.Redis,
		Prefix:     c.RedisPrefix,
		PerAccount: orDefault(c.LoginLimitPerAccount, 5),
		PerAddress: orDefault(c.LoginLimitPerAddress, 20),
		Window:     orDefault(c.LoginLimitWindow, 15*time.Minute),
	})
	if err != nil {
		return nil, err
	}
	registrations, err := loginlimit.NewRegistrations(loginlimit.RegistrationsConfig{
		Redis:      c.Redis,
		Prefix:     c.RedisPrefix,
		PerAddress: orDefault(c.RegisterLimitPerAddress, 10),
		Window:     orDefault(c.LoginLimitWindow, 15*time.Minute),
	})
	if err != nil {
		return nil, err
	}
	svc, err := user.NewService(user.Config{
		Store:         userspg.NewStore(c.DB, log),
		Limiter:       limiter,
		Registrations: registrations,
		Tokens:        c.Signer,
		RefreshTTL:    c.RefreshTTL,
		Log:           log,
		Now:           c.Now,
	})
	if err != nil {
		return nil, err
	}
	if c.AdminEmail != "" {
		if err := svc.EnsureAdmin(ctx, c.AdminEmail, c.AdminPassword); err != nil {
			return nil, fmt.Errorf("admin %s: %w", c.AdminEmail, err)
		}
	}
	es := graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Users: svc, Log: log}})
	h := subgraph.Handler(es, subgraph.Options{
		Name:       "users",
		Verifier:   c.Verifier,
		Log:        c.Log,
		Middleware: graph.Middleware(svc),
		Routes: func(mux *http.ServeMux) {
			mux.Handle("GET /.well-known/jwks.json", auth.JWKSHandler(c.JWKS))
			if c.OAuth != nil {
				c.OAuth.Routes(mux)
			}
		},
	})
	return &Service{Handler: h, Users: svc, relay: events.NewRelay(c.DB, c.Redis, events.RelayOptions{Prefix: c.StreamPrefix, Log: log})}, nil
}

// Run publishes the users service's events (UserRegistered) until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	return s.relay.Run(ctx)
}

// Close releases what New started. The pool and the Redis client belong to
// the caller, who closes them.
func (s *Service) Close() {}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
