package config_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/config"
)

func TestLoadGatewayLimits(t *testing.T) {
	t.Parallel()
	c, err := config.Load(nil, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.SchemaPollInterval != 10*time.Second || c.MaxQueryDepth != 20 || c.MaxQueryAliases != 30 || c.MaxQueryCost != 100000 ||
		c.MaxQueryBytes != 32768 || c.MaxBatchSize != 10 || !c.Introspection || c.PlanCacheSize != 1000 || c.APQCacheSize != 1000 {
		t.Errorf("defaults: %+v", c)
	}
	c, err = config.Load([]string{"-max-query-depth=8", "-introspection=false"}, env(map[string]string{
		"SHOPGRAPH_MAX_QUERY_COST": "500", "SHOPGRAPH_INTROSPECTION": "true", "SHOPGRAPH_SCHEMA_POLL_INTERVAL": "0",
		"SHOPGRAPH_MAX_BATCH_SIZE": "1",
	}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxQueryDepth != 8 || c.Introspection || c.MaxQueryCost != 500 || c.SchemaPollInterval != 0 || c.MaxBatchSize != 1 {
		t.Errorf("from flags and the environment: %+v", c)
	}
	for _, bad := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-max-query-cost=0"}, nil, "-max-query-cost: 0 must be at least 1"},
		{[]string{"-schema-poll-interval=-1s"}, nil, "-schema-poll-interval must not be negative"},
		{nil, map[string]string{"SHOPGRAPH_INTROSPECTION": "maybe"}, `$SHOPGRAPH_INTROSPECTION: "maybe" is not true or false`},
	} {
		if _, err := config.Load(bad.args, env(bad.env), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v %v: err = %v, want %q", bad.args, bad.env, err, bad.want)
		}
	}
}

func TestLoadGatewayDedupe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want bool
	}{
		{"default on", nil, nil, true},
		{"flag off", []string{"-gateway-dedupe=false"}, nil, false},
		{"environment off", nil, map[string]string{"SHOPGRAPH_GATEWAY_DEDUPE": "false"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := config.Load(tt.args, env(tt.env), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if c.GatewayDedupe != tt.want {
				t.Errorf("GatewayDedupe %v, want %v", c.GatewayDedupe, tt.want)
			}
		})
	}
}
