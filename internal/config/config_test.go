package config_test

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Load(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Target != "all" || c.Ports["gateway"] != 4000 || c.Ports["notifications"] != 4007 {
		t.Errorf("defaults: target %q ports %v", c.Target, c.Ports)
	}
	if c.DataDir != "./.shopgraph" || c.RedisURL != "redis://localhost:6379/0" || c.AccessTokenTTL != 15*time.Minute {
		t.Errorf("defaults: %+v", c)
	}
	if c.CatalogCacheSize != 100_000 || c.CatalogCacheTTL != 10*time.Minute {
		t.Errorf("defaults: catalog cache of %d entries for %s", c.CatalogCacheSize, c.CatalogCacheTTL)
	}
	if got := c.ServiceURL("orders"); got != "http://localhost:4004/graphql" {
		t.Errorf("ServiceURL(orders) = %q", got)
	}
	if got := c.JWKSEndpoint(); got != "http://localhost:4001/.well-known/jwks.json" {
		t.Errorf("JWKSEndpoint = %q", got)
	}
}

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	e := env(map[string]string{
		"SHOPGRAPH_TARGET": "orders", "SHOPGRAPH_ORDERS_PORT": "9004", "DATABASE_URL": "postgres://db/x",
		"ORDERS_DATABASE_URL": "postgres://db/orders", "SHOPGRAPH_USERS_URL": "http://users:4001/graphql",
		"SHOPGRAPH_ACCESS_TOKEN_TTL": "5m",
	})
	c, err := config.Load([]string{"-orders-port=9104"}, e, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Target != "orders" || c.Ports["orders"] != 9104 || c.AccessTokenTTL != 5*time.Minute {
		t.Errorf("got target %q port %d ttl %v", c.Target, c.Ports["orders"], c.AccessTokenTTL)
	}
	if c.DatabaseURLFor("orders") != "postgres://db/orders" || c.DatabaseURLFor("users") != "postgres://db/x" {
		t.Errorf("database URLs: %v / %v", c.DatabaseURLFor("orders"), c.DatabaseURLFor("users"))
	}
	if c.ServiceURL("users") != "http://users:4001/graphql" || c.JWKSEndpoint() != "http://users:4001/.well-known/jwks.json" {
		t.Errorf("urls: %v %v", c.ServiceURL("users"), c.JWKSEndpoint())
	}
	if !c.Runs("orders") || c.Runs("gateway") {
		t.Error("Runs")
	}
}

func TestRequireTLSAllowsLoopbackAndTLS(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-require-tls"}, // all-in-one on loopback stays plain http
		{"-require-tls", "-host=0.0.0.0", "-tls-cert-file=c.pem", "-tls-key-file=k.pem", "-products-url=https://products:4002/graphql"},
	} {
		c, err := config.Load(args, env(nil), &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if want := c.TLSEnabled(); strings.HasPrefix(c.ServiceURL("users"), "https://") != want {
			t.Fatalf("%q: users URL %s", args, c.ServiceURL("users"))
		}
	}
}

func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown target", []string{"-target=billing"}, nil, `-target: "billing"`},
		{"bad port", []string{"-gateway-port=70000"}, nil, "-gateway-port: 70000 is not a port"},
		{"bad duration env", nil, map[string]string{"SHOPGRAPH_UPSTREAM_TIMEOUT": "soon"}, "$SHOPGRAPH_UPSTREAM_TIMEOUT"},
		{"admin half set", []string{"-admin-email=a@b.co"}, nil, "must be set together"},
		{"bad mongo uri", []string{"-mongodb-uri=http://x"}, nil, "-mongodb-uri"},
		{"bad service url", []string{"-users-url=users:4001"}, nil, "-users-url"},
		{"bad log level", []string{"-log-level=loud"}, nil, "-log-level"},
		{"stray argument", []string{"extra"}, nil, "unexpected arguments"},
		{"bad tls mode", []string{"-tls=on"}, nil, "-tls: \"on\""},
		{"tls cert without key", []string{"-tls-cert-file=c.pem"}, nil, "set both or neither"},
		{"mutual TLS without TLS", []string{"-tls-client-auth"}, nil, "-tls-client-auth needs -tls-cert-file"},
		{"require-tls on a public interface without TLS", []string{"-require-tls", "-host=0.0.0.0"}, nil, "-require-tls: listening on \"0.0.0.0\" without TLS"},
		{"require-tls with an http service URL", []string{"-require-tls", "-tls=auto", "-products-url=http://products:4002/graphql"}, nil, "-products-url \"http://products:4002/graphql\" is not https"},
		{"oauth secret and key", []string{"-oauth-client-secret=s", "-oauth-client-key-file=k.pem"}, nil, "set one of them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(tt.args, env(tt.env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	_, err := config.Load([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"-target", "$DATABASE_URL", "$MONGODB_URI", "$REDIS_URL", "$SHOPGRAPH_DATA_DIR", "$SHOPGRAPH_ADMIN_EMAIL", "-orders-port"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %s", want)
		}
	}
}

func TestLoadNotificationSettings(t *testing.T) {
	t.Parallel()
	c, err := config.Load(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPHost != "" || c.SMTPPort != 587 || c.SMTPFrom != "Shopgraph <no-reply@shopgraph.local>" ||
		c.SMTPStartTLS != "opportunistic" || c.SMSURL != "" {
		t.Errorf("defaults: %+v", c)
	}

	secrets := env(map[string]string{
		"SHOPGRAPH_SMTP_HOST": "smtp.example.com", "SHOPGRAPH_SMTP_USERNAME": "mailer",
		"SHOPGRAPH_SMTP_PASSWORD": "hunter2", "SHOPGRAPH_SMTP_STARTTLS": "required",
		"SHOPGRAPH_SMS_URL": "https://sms.example.com/Messages.json", "SHOPGRAPH_SMS_ACCOUNT_SID": "AC1",
		"SHOPGRAPH_SMS_AUTH_TOKEN": "tok-secret", "SHOPGRAPH_SMS_FROM": "+14155550100",
	})
	c, err = config.Load([]string{"-smtp-port=2525"}, secrets, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPHost != "smtp.example.com" || c.SMTPPort != 2525 || c.SMTPPassword != "hunter2" || c.SMTPStartTLS != "required" ||
		c.SMSAuthToken != "tok-secret" || c.SMSFrom != "+14155550100" {
		t.Errorf("from the environment: %+v", c)
	}
	if c, _ := config.Load([]string{"-smtp-password=flagged"}, secrets, &bytes.Buffer{}); c.SMTPPassword != "flagged" {
		t.Errorf("a flag does not win over the environment: %q", c.SMTPPassword)
	}
	// -h shows where secrets come from, not what they are.
	var help bytes.Buffer
	if _, err := config.Load([]string{"-h"}, secrets, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	if strings.Contains(help.String(), "hunter2") || strings.Contains(help.String(), "tok-secret") {
		t.Errorf("-h prints a secret:\n%s", help.String())
	}
	if !strings.Contains(help.String(), "$SHOPGRAPH_SMTP_PASSWORD") || !strings.Contains(help.String(), "smtp.example.com") {
		t.Errorf("-h lacks the SMTP settings:\n%s", help.String())
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad SMTP port", []string{"-smtp-port=0"}, "-smtp-port: 0 is not a port"},
		{"bad STARTTLS mode", []string{"-smtp-starttls=sometimes"}, "-smtp-starttls"},
		{"bad from", []string{"-smtp-from=nobody"}, "-smtp-from"},
		{"credentials without a host", []string{"-smtp-username=u"}, "need -smtp-host"},
		{"password without a user", []string{"-smtp-host=h", "-smtp-password=p"}, "needs -smtp-username"},
		{"SMS settings without a URL", []string{"-sms-account-sid=AC1"}, "need -sms-url"},
		{"bad SMS URL", []string{"-sms-url=sms.example.com", "-sms-account-sid=a", "-sms-auth-token=b", "-sms-from=+14155550100"}, "-sms-url"},
		{"SMS URL without credentials", []string{"-sms-url=https://sms.example.com/m", "-sms-from=+14155550100"}, "needs -sms-account-sid"},
		{"bad SMS from", []string{"-sms-url=https://sms.example.com/m", "-sms-account-sid=a", "-sms-auth-token=b", "-sms-from=555-0100"}, "-sms-from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load(tt.args, env(nil), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestSecretsStayOutOfHelp(t *testing.T) {
	t.Parallel()
	e := env(map[string]string{"SHOPGRAPH_ADMIN_EMAIL": "a@b.co", "SHOPGRAPH_ADMIN_PASSWORD": "Sup3r-Secret-Pw", "SHOPGRAPH_SMTP_PASSWORD": "smtp-Secret-9", "SHOPGRAPH_SMTP_HOST": "mail.example.com", "SHOPGRAPH_SMTP_USERNAME": "shop"})
	var out bytes.Buffer
	if _, err := config.Load([]string{"-h"}, e, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "Sup3r-Secret-Pw") || strings.Contains(out.String(), "smtp-Secret-9") {
		t.Fatal("-h prints a password taken from the environment")
	}
	c, err := config.Load(nil, e, &out)
	if err != nil || c.AdminPassword != "Sup3r-Secret-Pw" || c.SMTPPassword != "smtp-Secret-9" {
		t.Fatalf("secrets from the environment not loaded: %v", err)
	}
}
