// Package config is Shopgraph's typed configuration. It is read once, at the
// edge (main's run), from flags and an injected getenv; nothing else in the
// program reads the environment. Every setting is a flag whose default comes
// from its environment variable, so `shopgraph -h` lists them all.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Targets that -target accepts, besides "all".
var Services = []string{"users", "products", "inventory", "orders", "payments", "shipping", "notifications"}

// PostgresServices are the services that keep their data in PostgreSQL (the
// others use MongoDB).
var PostgresServices = []string{"users", "inventory", "orders", "payments", "shipping"}

// DefaultPorts are the fixed conventional ports.
var DefaultPorts = map[string]int{
	"gateway": 4000, "users": 4001, "products": 4002, "inventory": 4003,
	"orders": 4004, "payments": 4005, "shipping": 4006, "notifications": 4007,
}

// Config is every setting of the shopgraph binary.
type Config struct {
	// Target is "all", "gateway" or one service name.
	Target string
	// Host is the interface every listener binds.
	Host string
	// Ports per target ("gateway", "users", …). 0 picks a free port.
	Ports map[string]int
	// URLs are the GraphQL endpoints of the services, as the gateway and other
	// services reach them. In all-in-one mode they are derived from Host and
	// the actual ports.
	URLs map[string]string
	// DataDir holds what the embedded defaults keep (signing key, FerretDB).
	DataDir string

	DatabaseURL  string
	DatabaseURLs map[string]string // per-service overrides
	MongoURI     string
	RedisURL     string
	// RedisPrefix starts every Redis key and stream name of this deployment.
	RedisPrefix string

	// JWTPrivateKeyFile is the PEM signing key of the users service.
	JWTPrivateKeyFile string
	// JWKSURL is where services that do not sign fetch the public keys.
	JWKSURL         string
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration

	// OAuth2 client credentials between services. OAuthClientsFile lists
	// the clients the users service issues service tokens to; OAuthClientID
	// with OAuthClientSecret (client_secret_basic) or OAuthClientKeyFile
	// (private_key_jwt) is this process's own client; OAuthTokenURL is the
	// token endpoint (default: the users service's /oauth/token). In
	// all-in-one mode the clients are made at start-up, with no settings.
	OAuthClientsFile  string
	OAuthClientID     string
	OAuthClientSecret string
	// OAuthClientSecretFile holds the secret instead (a Docker or
	// Kubernetes secret), read at start-up.
	OAuthClientSecretFile string
	OAuthClientKeyFile    string
	OAuthTokenURL         string
	ServiceTokenTTL       time.Duration
	// RequireServiceToken makes every service answer only requests that
	// carry a service token for it (the gateway's or another service's).
	RequireServiceToken bool

	// TLS is "off" (serve what the cert and key files say) or "auto" (make a
	// local CA and certificate in the data directory). TLSCertFile and
	// TLSKeyFile make every listener serve HTTPS; TLSCAFile is what the
	// services' certificates are checked against; TLSClientAuth requires
	// client certificates (mutual TLS); RequireTLS refuses to start a
	// non-loopback listener or to call a service over plain http.
	TLS           string
	TLSCertFile   string
	TLSKeyFile    string
	TLSCAFile     string
	TLSClientAuth bool
	RequireTLS    bool
	// HSTSMaxAge, if positive, makes the gateway send
	// Strict-Transport-Security over HTTPS.
	HSTSMaxAge time.Duration

	AdminEmail    string
	AdminPassword string

	// ReservationTTL is how long stock stays reserved for an order waiting
	// for its payment; SagaStepTimeout is the deadline of each checkout step.
	ReservationTTL  time.Duration
	SagaStepTimeout time.Duration

	// CatalogCacheSize is the most entries the products service's read
	// cache holds (0: no cache); CatalogCacheTTL the longest it serves one.
	CatalogCacheSize int
	CatalogCacheTTL  time.Duration

	// ShippingStepInterval is how long the sandbox carrier takes between
	// shipment statuses (0: only admins advance shipments).
	ShippingStepInterval time.Duration

	LoginLimitPerAccount int
	LoginLimitPerAddress int
	LoginLimitWindow     time.Duration
	// RegisterLimitPerAddress is how many registrations are allowed per
	// client address per LoginLimitWindow.
	RegisterLimitPerAddress int

	// SMTP server of the notification emails. An empty SMTPHost logs the
	// emails instead (status LOGGED).
	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	SMTPPassword string
	SMTPFrom     string
	// SMTPStartTLS is "required", "opportunistic" or "off".
	SMTPStartTLS string

	// SMS provider of the notification text messages: a form POST to SMSURL
	// with the account SID and auth token as basic auth. An empty SMSURL
	// uses the sandbox, which logs them (status LOGGED).
	SMSURL string
	// NotifyRetryBase is the wait before a failed notification is sent
	// again; it doubles with each attempt.
	NotifyRetryBase time.Duration
	SMSAccountSID   string
	SMSAuthToken    string
	SMSFrom         string

	// PaymentProvider is "sandbox" (test tokens, in memory) or "stripe".
	PaymentProvider string
	// StripeSecretKey is the Stripe API key; StripeWebhookSecret checks
	// the signatures of the events Stripe posts to /webhooks/stripe;
	// StripeAPIBase replaces https://api.stripe.com (stripe-mock in tests).
	StripeSecretKey     string
	StripeWebhookSecret string
	StripeAPIBase       string

	CORSOrigins     []string
	UpstreamTimeout time.Duration
	StartupTimeout  time.Duration
	// SchemaPollInterval is how often the gateway reads the services'
	// schemas again (0: never, the schema read at start-up stays).
	SchemaPollInterval time.Duration
	// Limits of the gateway on operations, and its caches.
	MaxQueryDepth   int
	MaxQueryAliases int
	MaxQueryCost    int
	MaxQueryBytes   int
	MaxBatchSize    int
	Introspection   bool
	// GatewayDedupe shares identical in-flight upstream queries of one
	// caller.
	GatewayDedupe   bool
	PlanCacheSize   int
	APQCacheSize    int
	ShutdownTimeout time.Duration
	LogLevel        string
	LogFormat       string
}

// Load parses args (without the program name) with defaults taken from
// getenv, and validates the result. Help output goes to out.
func Load(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	c := Config{Ports: map[string]int{}, URLs: map[string]string{}, DatabaseURLs: map[string]string{}}
	fs := flag.NewFlagSet("shopgraph", flag.ContinueOnError)
	fs.SetOutput(out)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	str := func(p *string, name, envName, def, usage string) {
		fs.StringVar(p, name, env(envName, def), usage+" ($"+envName+")")
	}
	var errs []error
	dur := func(p *time.Duration, name, envName string, def time.Duration, usage string) {
		d := def
		if v := getenv(envName); v != "" {
			var err error
			if d, err = time.ParseDuration(v); err != nil {
				errs = append(errs, fmt.Errorf("$%s: %q is not a duration such as 15m", envName, v))
			}
		}
		fs.DurationVar(p, name, d, usage+" ($"+envName+")")
	}
	integer := func(p *int, name, envName string, def int, usage string) {
		n := def
		if v := getenv(envName); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil {
				errs = append(errs, fmt.Errorf("$%s: %q is not an integer", envName, v))
			}
		}
		fs.IntVar(p, name, n, usage+" ($"+envName+")")
	}
	boolean := func(p *bool, name, envName string, def bool, usage string) {
		b := def
		if v := getenv(envName); v != "" {
			var err error
			if b, err = strconv.ParseBool(v); err != nil {
				errs = append(errs, fmt.Errorf("$%s: %q is not true or false", envName, v))
			}
		}
		fs.BoolVar(p, name, b, usage+" ($"+envName+")")
	}

	str(&c.Target, "target", "SHOPGRAPH_TARGET", "all", "what to run: all, gateway, or one of "+strings.Join(Services, ", "))
	str(&c.Host, "host", "SHOPGRAPH_HOST", "localhost", "interface to listen on (0.0.0.0 in a container)")
	str(&c.DataDir, "data-dir", "SHOPGRAPH_DATA_DIR", "./.shopgraph", "directory for the embedded defaults' data")
	targets := append([]string{"gateway"}, Services...)
	for _, t := range targets {
		up := strings.ToUpper(t)
		p := new(int)
		integer(p, t+"-port", "SHOPGRAPH_"+up+"_PORT", DefaultPorts[t], t+" port (0 picks a free one)")
	}
	urls := map[string]*string{}
	dbs := map[string]*string{}
	for _, s := range Services {
		up := strings.ToUpper(s)
		urls[s] = new(string)
		str(urls[s], s+"-url", "SHOPGRAPH_"+up+"_URL", "", s+" GraphQL endpoint as other services reach it (default http://HOST:PORT/graphql)")
		if slices.Contains(PostgresServices, s) {
			dbs[s] = new(string)
			str(dbs[s], s+"-database-url", up+"_DATABASE_URL", "", s+" PostgreSQL URL, overriding -database-url")
		}
	}
	str(&c.DatabaseURL, "database-url", "DATABASE_URL", "postgres://postgres@localhost:5432/shopgraph?sslmode=disable", "PostgreSQL URL; each service keeps its own schema in it")
	str(&c.MongoURI, "mongodb-uri", "MONGODB_URI", "", "MongoDB URI (default in all-in-one mode: an embedded FerretDB in the data directory)")
	str(&c.RedisURL, "redis-url", "REDIS_URL", "redis://localhost:6379/0", "Redis URL")
	str(&c.RedisPrefix, "redis-prefix", "SHOPGRAPH_REDIS_PREFIX", "shopgraph:", "prefix of every Redis key and stream")
	str(&c.JWTPrivateKeyFile, "jwt-private-key-file", "SHOPGRAPH_JWT_PRIVATE_KEY_FILE", "", "PEM (PKCS#8) Ed25519 or RSA key the users service signs tokens with (default in all-in-one mode: generated once in the data directory)")
	str(&c.JWKSURL, "jwks-url", "SHOPGRAPH_JWKS_URL", "", "JWKS the services verify tokens against (default: the users service's /.well-known/jwks.json)")
	dur(&c.AccessTokenTTL, "access-token-ttl", "SHOPGRAPH_ACCESS_TOKEN_TTL", 15*time.Minute, "lifetime of access tokens")
	dur(&c.RefreshTokenTTL, "refresh-token-ttl", "SHOPGRAPH_REFRESH_TOKEN_TTL", 30*24*time.Hour, "lifetime of refresh tokens")
	// secret is a string flag whose environment value -h does not print.
	var secrets []func()
	secret := func(p *string, name, envName, usage string) {
		fs.StringVar(p, name, "", usage+" ($"+envName+")")
		secrets = append(secrets, func() {
			if *p == "" {
				*p = getenv(envName)
			}
		})
	}
	str(&c.OAuthClientsFile, "oauth-clients-file", "SHOPGRAPH_OAUTH_CLIENTS_FILE", "", "JSON file of the OAuth2 clients the users service issues service tokens to (all-in-one mode makes its own)")
	str(&c.OAuthClientID, "oauth-client-id", "SHOPGRAPH_OAUTH_CLIENT_ID", "", "this service's OAuth2 client ID (default: the target's name when a secret or key is set)")
	secret(&c.OAuthClientSecret, "oauth-client-secret", "SHOPGRAPH_OAUTH_CLIENT_SECRET", "this service's OAuth2 client secret (client_secret_basic)")
	str(&c.OAuthClientSecretFile, "oauth-client-secret-file", "SHOPGRAPH_OAUTH_CLIENT_SECRET_FILE", "", "file holding this service's OAuth2 client secret, instead of -oauth-client-secret")
	str(&c.OAuthClientKeyFile, "oauth-client-key-file", "SHOPGRAPH_OAUTH_CLIENT_KEY_FILE", "", "PEM private key of this service's OAuth2 client (private_key_jwt), instead of a secret")
	str(&c.OAuthTokenURL, "oauth-token-url", "SHOPGRAPH_OAUTH_TOKEN_URL", "", "OAuth2 token endpoint (default: the users service's /oauth/token)")
	dur(&c.ServiceTokenTTL, "service-token-ttl", "SHOPGRAPH_SERVICE_TOKEN_TTL", 5*time.Minute, "lifetime of service tokens")
	str(&c.TLS, "tls", "SHOPGRAPH_TLS", "off", "off (HTTPS when -tls-cert-file and -tls-key-file are set) or auto (make a local CA and certificate in the data directory)")
	str(&c.TLSCertFile, "tls-cert-file", "SHOPGRAPH_TLS_CERT_FILE", "", "PEM certificate (chain) every listener serves HTTPS with; read again when it changes")
	str(&c.TLSKeyFile, "tls-key-file", "SHOPGRAPH_TLS_KEY_FILE", "", "PEM private key of -tls-cert-file")
	str(&c.TLSCAFile, "tls-ca-file", "SHOPGRAPH_TLS_CA_FILE", "", "PEM CA certificates that the services' (and, with -tls-client-auth, clients') certificates are checked against (default: the system's)")
	boolean(&c.TLSClientAuth, "tls-client-auth", "SHOPGRAPH_TLS_CLIENT_AUTH", false, "mutual TLS: listeners require a client certificate from -tls-ca-file, and calls present -tls-cert-file")
	boolean(&c.RequireTLS, "require-tls", "SHOPGRAPH_REQUIRE_TLS", false, "refuse to start a non-loopback listener without TLS or to call a service over http://")
	dur(&c.HSTSMaxAge, "hsts-max-age", "SHOPGRAPH_HSTS_MAX_AGE", 0, "max-age of the Strict-Transport-Security header the gateway sends over HTTPS (0: none)")
	boolean(&c.RequireServiceToken, "require-service-token", "SHOPGRAPH_REQUIRE_SERVICE_TOKEN", false, "services answer only requests carrying a service token (the gateway's or another service's)")
	str(&c.AdminEmail, "admin-email", "SHOPGRAPH_ADMIN_EMAIL", "", "email of an admin user made sure of at start-up")
	secret(&c.AdminPassword, "admin-password", "SHOPGRAPH_ADMIN_PASSWORD", "password of that admin user")
	integer(&c.LoginLimitPerAccount, "login-limit-account", "SHOPGRAPH_LOGIN_LIMIT_ACCOUNT", 5, "failed logins allowed per account per window")
	integer(&c.LoginLimitPerAddress, "login-limit-address", "SHOPGRAPH_LOGIN_LIMIT_ADDRESS", 20, "failed logins allowed per client address per window")
	integer(&c.RegisterLimitPerAddress, "register-limit-address", "SHOPGRAPH_REGISTER_LIMIT_ADDRESS", 10, "registrations allowed per client address per login-limit window")
	dur(&c.LoginLimitWindow, "login-limit-window", "SHOPGRAPH_LOGIN_LIMIT_WINDOW", 15*time.Minute, "login rate-limit window")
	dur(&c.NotifyRetryBase, "notify-retry-base", "SHOPGRAPH_NOTIFY_RETRY_BASE", 30*time.Second, "wait before a failed email or SMS is sent again; doubles with each attempt")
	str(&c.SMTPHost, "smtp-host", "SHOPGRAPH_SMTP_HOST", "", "SMTP server of notification emails (empty: emails are logged, not sent)")
	integer(&c.SMTPPort, "smtp-port", "SHOPGRAPH_SMTP_PORT", 587, "SMTP server port")
	str(&c.SMTPUsername, "smtp-username", "SHOPGRAPH_SMTP_USERNAME", "", "SMTP user name (empty: no authentication)")
	secret(&c.SMTPPassword, "smtp-password", "SHOPGRAPH_SMTP_PASSWORD", "SMTP password")
	str(&c.SMTPFrom, "smtp-from", "SHOPGRAPH_SMTP_FROM", "Shopgraph <no-reply@shopgraph.local>", "sender of notification emails")
	str(&c.SMTPStartTLS, "smtp-starttls", "SHOPGRAPH_SMTP_STARTTLS", "opportunistic", "STARTTLS: required, opportunistic or off")
	str(&c.SMSURL, "sms-url", "SHOPGRAPH_SMS_URL", "", "SMS provider endpoint that creates a message (empty: the sandbox, which logs)")
	str(&c.SMSAccountSID, "sms-account-sid", "SHOPGRAPH_SMS_ACCOUNT_SID", "", "SMS provider account SID")
	secret(&c.SMSAuthToken, "sms-auth-token", "SHOPGRAPH_SMS_AUTH_TOKEN", "SMS provider auth token")
	str(&c.SMSFrom, "sms-from", "SHOPGRAPH_SMS_FROM", "", "phone number SMS are sent from (E.164, such as +14155550100)")
	str(&c.PaymentProvider, "payment-provider", "SHOPGRAPH_PAYMENT_PROVIDER", "sandbox", "card payment provider: sandbox (test tokens such as tok_visa) or stripe")
	secret(&c.StripeSecretKey, "stripe-secret-key", "STRIPE_SECRET_KEY", "Stripe secret API key (sk_live_… or sk_test_…), for -payment-provider=stripe")
	secret(&c.StripeWebhookSecret, "stripe-webhook-secret", "STRIPE_WEBHOOK_SECRET", "signing secret (whsec_…) of the Stripe webhook endpoint /webhooks/stripe of the payments service")
	str(&c.StripeAPIBase, "stripe-api-base", "SHOPGRAPH_STRIPE_API_BASE", "", "Stripe API root (default https://api.stripe.com; a stripe-mock in tests)")
	dur(&c.ReservationTTL, "reservation-ttl", "SHOPGRAPH_RESERVATION_TTL", 15*time.Minute, "how long stock stays reserved for an order awaiting payment")
	dur(&c.SagaStepTimeout, "saga-step-timeout", "SHOPGRAPH_SAGA_STEP_TIMEOUT", 2*time.Minute, "deadline of each checkout step; a step that times out before payment is compensated")
	integer(&c.CatalogCacheSize, "catalog-cache-size", "SHOPGRAPH_CATALOG_CACHE_SIZE", 100_000, "entries of the products service's in-process catalog read cache (0: no cache)")
	dur(&c.CatalogCacheTTL, "catalog-cache-ttl", "SHOPGRAPH_CATALOG_CACHE_TTL", 10*time.Minute, "longest the catalog read cache serves an entry: a bound for a lost invalidation (a change deletes what it touches at once on every replica)")
	dur(&c.ShippingStepInterval, "shipping-step-interval", "SHOPGRAPH_SHIPPING_STEP_INTERVAL", 30*time.Second, "time the sandbox carrier takes between shipment statuses (0: only admins advance shipments)")
	var cors string
	str(&cors, "cors-origins", "SHOPGRAPH_CORS_ORIGINS", "*", "comma-separated origins allowed by CORS (* for any, empty for none)")
	dur(&c.UpstreamTimeout, "upstream-timeout", "SHOPGRAPH_UPSTREAM_TIMEOUT", 10*time.Second, "timeout of every call from the gateway to a service")
	dur(&c.StartupTimeout, "startup-timeout", "SHOPGRAPH_STARTUP_TIMEOUT", 60*time.Second, "how long the gateway waits for the services at start-up")
	dur(&c.SchemaPollInterval, "schema-poll-interval", "SHOPGRAPH_SCHEMA_POLL_INTERVAL", 10*time.Second, "how often the gateway reads the services' schemas again, to serve a changed one without a restart (0: never)")
	integer(&c.MaxQueryDepth, "max-query-depth", "SHOPGRAPH_MAX_QUERY_DEPTH", 20, "deepest nesting of fields the gateway accepts in an operation")
	integer(&c.MaxQueryAliases, "max-query-aliases", "SHOPGRAPH_MAX_QUERY_ALIASES", 30, "most aliases the gateway accepts in an operation")
	integer(&c.MaxQueryCost, "max-query-cost", "SHOPGRAPH_MAX_QUERY_COST", 100000, "highest estimated cost the gateway accepts: fields, times the items of the lists above them (first/last, else 10)")
	integer(&c.MaxQueryBytes, "max-query-bytes", "SHOPGRAPH_MAX_QUERY_BYTES", 32768, "longest query text the gateway accepts, in bytes")
	integer(&c.MaxBatchSize, "max-batch-size", "SHOPGRAPH_MAX_BATCH_SIZE", 10, "most operations in one batched request, a JSON array (1: no batching)")
	boolean(&c.Introspection, "introspection", "SHOPGRAPH_INTROSPECTION", true, "answer __schema and __type queries at the gateway")
	boolean(&c.GatewayDedupe, "gateway-dedupe", "SHOPGRAPH_GATEWAY_DEDUPE", true, "share one request to a service among identical queries of the same caller in flight at the gateway")
	integer(&c.PlanCacheSize, "plan-cache-size", "SHOPGRAPH_PLAN_CACHE_SIZE", 1000, "prepared operations the gateway keeps")
	integer(&c.APQCacheSize, "apq-cache-size", "SHOPGRAPH_APQ_CACHE_SIZE", 1000, "automatic persisted queries the gateway keeps")
	dur(&c.ShutdownTimeout, "shutdown-timeout", "SHOPGRAPH_SHUTDOWN_TIMEOUT", 15*time.Second, "how long in-flight requests may take to finish on shutdown")
	str(&c.LogLevel, "log-level", "SHOPGRAPH_LOG_LEVEL", "info", "debug, info, warn or error")
	str(&c.LogFormat, "log-format", "SHOPGRAPH_LOG_FORMAT", "text", "text or json")

	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	for _, set := range secrets {
		set()
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	for _, t := range targets {
		c.Ports[t] = fs.Lookup(t + "-port").Value.(flag.Getter).Get().(int)
	}
	for _, s := range Services {
		if *urls[s] != "" {
			c.URLs[s] = *urls[s]
		}
		if dbs[s] != nil && *dbs[s] != "" {
			c.DatabaseURLs[s] = *dbs[s]
		}
	}
	for _, o := range strings.Split(cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	errs = append(errs, c.Validate())
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate reports every invalid setting, each with a message that names it.
func (c Config) Validate() error {
	var errs []error
	if c.Target != "all" && c.Target != "gateway" && !slices.Contains(Services, c.Target) {
		errs = append(errs, fmt.Errorf("-target: %q is not all, gateway or one of %s", c.Target, strings.Join(Services, ", ")))
	}
	names := make([]string, 0, len(c.Ports))
	for t := range c.Ports {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		if p := c.Ports[t]; p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("-%s-port: %d is not a port", t, p))
		}
	}
	for _, s := range Services {
		if u, ok := c.URLs[s]; ok {
			if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				errs = append(errs, fmt.Errorf("-%s-url: %q is not an http(s) URL", s, u))
			}
		}
	}
	errs = append(errs, c.validateTLS()...)
	for name, u := range map[string]string{"-database-url": c.DatabaseURL, "-redis-url": c.RedisURL} {
		if pu, err := url.Parse(u); err != nil || pu.Scheme == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not a URL", name, u))
		}
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		errs = append(errs, fmt.Errorf("-mongodb-uri: %q is not a mongodb:// URI", c.MongoURI))
	}
	if c.AccessTokenTTL <= 0 || c.RefreshTokenTTL <= 0 {
		errs = append(errs, errors.New("-access-token-ttl and -refresh-token-ttl must be positive"))
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("-admin-email and -admin-password must be set together"))
	}
	if c.ReservationTTL <= 0 || c.SagaStepTimeout <= 0 {
		errs = append(errs, errors.New("-reservation-ttl and -saga-step-timeout must be positive"))
	}
	if c.NotifyRetryBase <= 0 {
		errs = append(errs, errors.New("-notify-retry-base must be positive"))
	}
	if c.ShippingStepInterval < 0 {
		errs = append(errs, errors.New("-shipping-step-interval must not be negative"))
	}
	if c.UpstreamTimeout <= 0 {
		errs = append(errs, errors.New("-upstream-timeout must be positive"))
	}
	if c.SchemaPollInterval < 0 {
		errs = append(errs, errors.New("-schema-poll-interval must not be negative"))
	}
	for _, l := range []struct {
		name string
		n    int
	}{
		{"-max-query-depth", c.MaxQueryDepth}, {"-max-query-aliases", c.MaxQueryAliases}, {"-max-query-cost", c.MaxQueryCost},
		{"-max-query-bytes", c.MaxQueryBytes}, {"-max-batch-size", c.MaxBatchSize}, {"-plan-cache-size", c.PlanCacheSize},
		{"-apq-cache-size", c.APQCacheSize},
	} {
		if l.n < 1 {
			errs = append(errs, fmt.Errorf("%s: %d must be at least 1", l.name, l.n))
		}
	}
	if c.LoginLimitPerAccount <= 0 || c.LoginLimitPerAddress <= 0 || c.RegisterLimitPerAddress <= 0 || c.LoginLimitWindow <= 0 {
		errs = append(errs, errors.New("login and registration limits and window must be positive"))
	}
	errs = append(errs, c.validateNotifications()...)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("-log-level: %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("-log-format: %q is not text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// validateNotifications checks the SMTP and SMS settings.
func (c Config) validateNotifications() []error {
	var errs []error
	if c.SMTPPort < 1 || c.SMTPPort > 65535 {
		errs = append(errs, fmt.Errorf("-smtp-port: %d is not a port", c.SMTPPort))
	}
	switch c.SMTPStartTLS {
	case "required", "opportunistic", "off":
	default:
		errs = append(errs, fmt.Errorf("-smtp-starttls: %q is not required, opportunistic or off", c.SMTPStartTLS))
	}
	if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
		errs = append(errs, fmt.Errorf("-smtp-from: %q is not an email address such as \"Shop <no-reply@example.com>\"", c.SMTPFrom))
	}
	if c.SMTPHost == "" && (c.SMTPUsername != "" || c.SMTPPassword != "") {
		errs = append(errs, errors.New("-smtp-username and -smtp-password need -smtp-host"))
	}
	if c.SMTPPassword != "" && c.SMTPUsername == "" {
		errs = append(errs, errors.New("-smtp-password needs -smtp-username"))
	}
	errs = append(errs, c.validatePayments()...)
	if c.SMSURL == "" {
		if c.SMSAccountSID != "" || c.SMSAuthToken != "" || c.SMSFrom != "" {
			errs = append(errs, errors.New("-sms-account-sid, -sms-auth-token and -sms-from need -sms-url"))
		}
		return errs
	}
	if u, err := url.Parse(c.SMSURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("-sms-url: %q is not an http(s) URL", c.SMSURL))
	}
	if c.SMSAccountSID == "" || c.SMSAuthToken == "" {
		errs = append(errs, errors.New("-sms-url needs -sms-account-sid and -sms-auth-token"))
	}
	if !e164.MatchString(c.SMSFrom) {
		errs = append(errs, fmt.Errorf("-sms-from: %q is not a phone number in E.164 form such as +14155550100", c.SMSFrom))
	}
	return errs
}

// validatePayments checks the payment provider settings.
func (c Config) validatePayments() []error {
	var errs []error
	switch c.PaymentProvider {
	case "sandbox":
		if c.StripeSecretKey != "" || c.StripeWebhookSecret != "" || c.StripeAPIBase != "" {
			errs = append(errs, errors.New("-stripe-secret-key, -stripe-webhook-secret and -stripe-api-base need -payment-provider=stripe"))
		}
	case "stripe":
		if c.StripeSecretKey == "" {
			errs = append(errs, errors.New("-payment-provider=stripe needs -stripe-secret-key"))
		}
		if c.StripeWebhookSecret == "" {
			errs = append(errs, errors.New("-payment-provider=stripe needs -stripe-webhook-secret: payments that need 3-D Secure, disputes and refunds made in Stripe arrive by webhook"))
		}
		if c.StripeAPIBase != "" {
			if u, err := url.Parse(c.StripeAPIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("-stripe-api-base: %q is not an http(s) URL", c.StripeAPIBase))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("-payment-provider: %q is not sandbox or stripe", c.PaymentProvider))
	}
	return errs
}

// validateTLS checks the TLS and OAuth2 settings; with -require-tls, that
// no listener on another interface than loopback and no call to a service
// goes without TLS.
func (c Config) validateTLS() []error {
	var errs []error
	if c.TLS != "off" && c.TLS != "auto" {
		errs = append(errs, fmt.Errorf("-tls: %q is not off or auto", c.TLS))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("-tls-cert-file and -tls-key-file: set both or neither"))
	}
	if c.TLSClientAuth && !c.TLSEnabled() {
		errs = append(errs, errors.New("-tls-client-auth needs -tls-cert-file and -tls-key-file (or -tls=auto)"))
	}
	if c.TLSClientAuth && c.TLSCAFile == "" && c.TLS != "auto" {
		errs = append(errs, errors.New("-tls-client-auth needs -tls-ca-file to check client certificates against"))
	}
	if (c.OAuthClientSecret != "" || c.OAuthClientSecretFile != "") && c.OAuthClientKeyFile != "" {
		errs = append(errs, errors.New("-oauth-client-secret and -oauth-client-key-file: set one of them"))
	}
	if !c.RequireTLS {
		return errs
	}
	for _, s := range Services {
		if strings.HasPrefix(c.URLs[s], "http://") {
			errs = append(errs, fmt.Errorf("-require-tls: -%s-url %q is not https", s, c.URLs[s]))
		}
	}
	for name, u := range map[string]string{"-jwks-url": c.JWKSURL, "-oauth-token-url": c.OAuthTokenURL} {
		if strings.HasPrefix(u, "http://") {
			errs = append(errs, fmt.Errorf("-require-tls: %s %q is not https", name, u))
		}
	}
	if !c.TLSEnabled() && !isLoopback(c.Host) {
		errs = append(errs, fmt.Errorf("-require-tls: listening on %q without TLS; set -tls-cert-file and -tls-key-file (or -tls=auto)", c.Host))
	}
	return errs
}

// isLoopback reports whether host names only the loopback interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Runs reports whether this process runs target t.
func (c Config) Runs(t string) bool { return c.Target == "all" || c.Target == t }

// DatabaseURLFor returns the PostgreSQL URL of service s.
func (c Config) DatabaseURLFor(s string) string {
	if u := c.DatabaseURLs[s]; u != "" {
		return u
	}
	return c.DatabaseURL
}

// ServiceURL returns the GraphQL endpoint of service s: the configured URL,
// or http://HOST:PORT/graphql.
func (c Config) ServiceURL(s string) string {
	if u := c.URLs[s]; u != "" {
		return u
	}
	host := c.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	scheme := "http"
	if c.TLSEnabled() {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s:%d/graphql", scheme, host, c.Ports[s])
}

// TLSEnabled reports whether listeners serve HTTPS.
func (c Config) TLSEnabled() bool {
	return c.TLS == "auto" || (c.TLSCertFile != "" && c.TLSKeyFile != "")
}

// TokenEndpoint returns the OAuth2 token endpoint: the configured one or the
// users service's.
func (c Config) TokenEndpoint() string {
	if c.OAuthTokenURL != "" {
		return c.OAuthTokenURL
	}
	return strings.TrimSuffix(c.ServiceURL("users"), "/graphql") + "/oauth/token"
}

// JWKSEndpoint returns the JWKS URL: the configured one or the users
// service's.
func (c Config) JWKSEndpoint() string {
	if c.JWKSURL != "" {
		return c.JWKSURL
	}
	u := c.ServiceURL("users")
	return strings.TrimSuffix(u, "/graphql") + "/.well-known/jwks.json"
}
