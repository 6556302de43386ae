package main

import (
	"context"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/subgraph"
	"github.com/shopgraph/shopgraph/subgraphs/inventory"
	inventorypg "github.com/shopgraph/shopgraph/subgraphs/inventory/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/notifications"
	"github.com/shopgraph/shopgraph/subgraphs/orders"
	"github.com/shopgraph/shopgraph/subgraphs/payments"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
	paymentspg "github.com/shopgraph/shopgraph/subgraphs/payments/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/payments/stripe"
	"github.com/shopgraph/shopgraph/subgraphs/products"
	"github.com/shopgraph/shopgraph/subgraphs/shipping"
	shippingpg "github.com/shopgraph/shopgraph/subgraphs/shipping/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/users"
	userspg "github.com/shopgraph/shopgraph/subgraphs/users/postgres"
)

// deps are what the PostgreSQL services share: their pool (migrated), the
// Redis client and the token verifier.
type deps struct {
	pool  *pgxpool.Pool
	redis *redis.Client
	v     *auth.Verifier
}

// depsFor opens service s's PostgreSQL schema and the shared Redis client
// and verifier.
func (a *app) depsFor(ctx context.Context, s string, migrations fs.FS) (deps, error) {
	pool, err := a.pool(ctx, s, migrations)
	if err != nil {
		return deps{}, err
	}
	rdb, err := a.redisClient(ctx)
	if err != nil {
		return deps{}, err
	}
	v, err := a.tokenVerifier()
	if err != nil {
		return deps{}, err
	}
	return deps{pool: pool, redis: rdb, v: v}, nil
}

// checks are the readiness checks of a service on d's stores.
func (d deps) checks() []subgraph.Check {
	return []subgraph.Check{pgCheck(d.pool), redisCheck(d.redis)}
}

func pgCheck(p *pgxpool.Pool) subgraph.Check {
	return subgraph.Check{Name: "postgres", Ping: p.Ping}
}

func redisCheck(r *redis.Client) subgraph.Check {
	return subgraph.Check{Name: "redis", Ping: func(ctx context.Context) error { return r.Ping(ctx).Err() }}
}

func mongoCheck(db *mongo.Database) subgraph.Check {
	return subgraph.Check{Name: "mongodb", Ping: func(ctx context.Context) error { return db.Client().Ping(ctx, nil) }}
}

// The builders below wire each subgraph from the configuration; each opens
// only what its service needs.

func buildUsers(ctx context.Context, a *app) (component, error) {
	pool, err := a.pool(ctx, "users", userspg.Migrations)
	if err != nil {
		return component{}, err
	}
	rdb, err := a.redisClient(ctx)
	if err != nil {
		return component{}, err
	}
	key, err := a.signingKey()
	if err != nil {
		return component{}, err
	}
	signer, err := auth.NewSigner(key, a.cfg.AccessTokenTTL, nil)
	if err != nil {
		return component{}, err
	}
	jwks, err := auth.PublicSet(key)
	if err != nil {
		return component{}, err
	}
	v, err := a.tokenVerifier()
	if err != nil {
		return component{}, err
	}
	clients, err := a.oauthClients()
	if err != nil {
		return component{}, err
	}
	oauth, err := auth.NewTokenServer(clients, signer, a.cfg.ServiceTokenTTL,
		auth.RedisReplayCache{Client: rdb, Prefix: a.cfg.RedisPrefix + "users:"}, nil, a.log.With("service", "users"))
	if err != nil {
		return component{}, err
	}
	svc, err := users.New(ctx, users.Config{
		DB: pool, Redis: rdb, RedisPrefix: a.cfg.RedisPrefix + "users:", StreamPrefix: a.cfg.RedisPrefix,
		Signer: signer, Verifier: v, JWKS: jwks, OAuth: oauth,
		RefreshTTL:              a.cfg.RefreshTokenTTL,
		AdminEmail:              a.cfg.AdminEmail,
		AdminPassword:           a.cfg.AdminPassword,
		LoginLimitPerAccount:    a.cfg.LoginLimitPerAccount,
		LoginLimitPerAddress:    a.cfg.LoginLimitPerAddress,
		LoginLimitWindow:        a.cfg.LoginLimitWindow,
		RegisterLimitPerAddress: a.cfg.RegisterLimitPerAddress,
		Log:                     a.log.With("service", "users"),
	})
	if err != nil {
		return component{}, err
	}
	return component{handler: svc.Handler, run: svc.Run, ready: []subgraph.Check{pgCheck(pool), redisCheck(rdb)}}, nil
}

func buildProducts(ctx context.Context, a *app) (component, error) {
	db, err := a.mongoDB(ctx, "products")
	if err != nil {
		return component{}, err
	}
	v, err := a.tokenVerifier()
	if err != nil {
		return component{}, err
	}
	rdb, err := a.redisClient(ctx)
	if err != nil {
		return component{}, err
	}
	svc, err := products.New(ctx, products.Config{DB: db, Verifier: v, Log: a.log.With("service", "products"),
		Redis: rdb, RedisPrefix: a.cfg.RedisPrefix, CacheSize: a.cfg.CatalogCacheSize, CacheTTL: a.cfg.CatalogCacheTTL})
	if err != nil {
		return component{}, err
	}
	if a.embedded != nil {
		// The store has created its collections: index their _id lookups.
		if err := a.embedded.IndexIDLookups(ctx, db.Name()); err != nil {
			return component{}, err
		}
	}
	return component{handler: svc.Handler, run: svc.Run, ready: []subgraph.Check{mongoCheck(db), redisCheck(rdb)}}, nil
}

func buildInventory(ctx context.Context, a *app) (component, error) {
	d, err := a.depsFor(ctx, "inventory", inventorypg.Migrations)
	if err != nil {
		return component{}, err
	}
	creds, err := a.serviceCredentials("inventory")
	if err != nil {
		return component{}, err
	}
	hc, err := a.httpClient()
	if err != nil {
		return component{}, err
	}
	svc, err := inventory.New(ctx, inventory.Config{
		DB: d.pool, Redis: d.redis, StreamPrefix: a.cfg.RedisPrefix, ReservationTTL: a.cfg.ReservationTTL,
		ProductsURL: a.urls["products"], Verifier: d.v, Credentials: creds, HTTPClient: hc,
		Log: a.log.With("service", "inventory"),
	})
	if err != nil {
		return component{}, err
	}
	return component{handler: svc.Handler, run: svc.Run, ready: d.checks()}, nil
}

func buildPayments(ctx context.Context, a *app) (component, error) {
	d, err := a.depsFor(ctx, "payments", paymentspg.Migrations)
	if err != nil {
		return component{}, err
	}
	var provider payment.Provider // nil: the sandbox
	if a.cfg.PaymentProvider == "stripe" {
		sp, err := stripe.New(stripe.Config{
			SecretKey: a.cfg.StripeSecretKey, APIBase: a.cfg.StripeAPIBase, Log: a.log.With("service", "payments"),
		})
		if err != nil {
			return component{}, err
		}
		provider = sp
	}
	svc, err := payments.New(ctx, payments.Config{
		DB: d.pool, Redis: d.redis, StreamPrefix: a.cfg.RedisPrefix, Verifier: d.v,
		Provider: provider, StripeWebhookSecret: a.cfg.StripeWebhookSecret,
		Log: a.log.With("service", "payments"),
	})
	if err != nil {
		return component{}, err
	}
	return component{handler: svc.Handler, run: svc.Run, ready: d.checks()}, nil
}

func buildShipping(ctx context.Context, a *app) (component, error) {
	d, err := a.depsFor(ctx, "shipping", shippingpg.Migrations)
	if err != nil {
		return component{}, err
	}
	svc, err := shipping.New(ctx, shipping.Config{
		DB: d.pool, Redis: d.redis, StreamPrefix: a.cfg.RedisPrefix, Verifier: d.v,
		StepInterval: a.cfg.ShippingStepInterval,
		Log:          a.log.With("service", "shipping"),
	})
	if err != nil {
		return component{}, err
	}
	return component{handler: svc.Handler, run: svc.Run, ready: d.checks()}, nil
}

func buildNotifications(ctx context.Context, a *app) (component, error) {
	db, err := a.mongoDB(ctx, "notifications")
	if err != nil {
		return component{}, err
	}
	rdb, err := a.redisClient(ctx)
	if err != nil {
		return component{}, err
	}
	v, err := a.tokenVerifier()
	if err != nil {
		return component{}, err
	}
	log := a.log.With("service", "notifications")
	c := a.cfg
	mailer, sms, err := notifications.Channels(notifications.ChannelSettings{
		SMTPHost: c.SMTPHost, SMTPPort: c.SMTPPort, SMTPUsername: c.SMTPUsername, SMTPPassword: c.SMTPPassword,
		SMTPFrom: c.SMTPFrom, SMTPStartTLS: c.SMTPStartTLS,
		SMSURL: c.SMSURL, SMSAccountSID: c.SMSAccountSID, SMSAuthToken: c.SMSAuthToken, SMSFrom: c.SMSFrom,
	}, log)
	if err != nil {
		return component{}, err
	}
	svc, err := notifications.New(ctx, notifications.Config{
		DB: db, Redis: rdb, StreamPrefix: c.RedisPrefix, Mailer: mailer, SMS: sms, Verifier: v,
		RetryBase: c.NotifyRetryBase, Log: log,
	})
	if err != nil {
		return component{}, err
	}
	if a.embedded != nil {
		// The store has created its collections: index their _id lookups.
		if err := a.embedded.IndexIDLookups(ctx, db.Name()); err != nil {
			return component{}, err
		}
	}
	return component{handler: svc.Handler, run: svc.Run, ready: []subgraph.Check{mongoCheck(db), redisCheck(rdb)}}, nil
}

func buildOrders(ctx context.Context, a *app) (component, error) {
	d, err := a.depsFor(ctx, "orders", orders.Migrations)
	if err != nil {
		return component{}, err
	}
	creds, err := a.serviceCredentials("orders")
	if err != nil {
		return component{}, err
	}
	hc, err := a.httpClient()
	if err != nil {
		return component{}, err
	}
	svc, err := orders.New(ctx, orders.Config{
		DB: d.pool, Redis: d.redis, Prefix: a.cfg.RedisPrefix, Verifier: d.v,
		ProductsURL: a.urls["products"], ShippingURL: a.urls["shipping"], Credentials: creds, HTTPClient: hc,
		ReservationTTL: a.cfg.ReservationTTL, StepTimeout: a.cfg.SagaStepTimeout,
		StatusDelivered: a.statusDelivered,
		Log:             a.log.With("service", "orders"),
	})
	if err != nil {
		return component{}, err
	}
	a.tel.ObserveSubscriptions("orders", func() int { return svc.Status.Stats().Subscribers })
	return component{handler: svc.Handler, run: svc.Run, ready: d.checks()}, nil
}
