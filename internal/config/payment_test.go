package config_test

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/shopgraph/shopgraph/internal/config"
)

func TestLoadPaymentSettings(t *testing.T) {
	t.Parallel()
	c, err := config.Load(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.PaymentProvider != "sandbox" || c.StripeSecretKey != "" {
		t.Errorf("defaults: provider %q", c.PaymentProvider)
	}
	stripeEnv := env(map[string]string{
		"SHOPGRAPH_PAYMENT_PROVIDER": "stripe", "STRIPE_SECRET_KEY": "sk_test_s3cret", "STRIPE_WEBHOOK_SECRET": "whsec_s3cret",
	})
	c, err = config.Load([]string{"-stripe-api-base=http://localhost:12111"}, stripeEnv, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.PaymentProvider != "stripe" || c.StripeSecretKey != "sk_test_s3cret" || c.StripeWebhookSecret != "whsec_s3cret" || c.StripeAPIBase != "http://localhost:12111" {
		t.Errorf("from the environment: %+v", c)
	}
	var help bytes.Buffer
	if _, err := config.Load([]string{"-h"}, stripeEnv, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	if strings.Contains(help.String(), "s3cret") || !strings.Contains(help.String(), "$STRIPE_SECRET_KEY") {
		t.Errorf("-h prints a Stripe secret or lacks the setting:\n%s", help.String())
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown provider", []string{"-payment-provider=paypal"}, `-payment-provider: "paypal" is not sandbox or stripe`},
		{"stripe without a key", []string{"-payment-provider=stripe", "-stripe-webhook-secret=whsec_1"}, "needs -stripe-secret-key"},
		{"stripe without a webhook secret", []string{"-payment-provider=stripe", "-stripe-secret-key=sk_test_1"}, "needs -stripe-webhook-secret"},
		{"bad API base", []string{"-payment-provider=stripe", "-stripe-secret-key=sk_test_1", "-stripe-webhook-secret=whsec_1", "-stripe-api-base=localhost:12111"}, "-stripe-api-base"},
		{"stripe settings for the sandbox", []string{"-stripe-secret-key=sk_test_1"}, "need -payment-provider=stripe"},
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
