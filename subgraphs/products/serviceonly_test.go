package products_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// TestServiceOnlyFields: variantsBySku answers only a service token for
// products with scope variants:read; everyone else is refused with a code.
func TestServiceOnlyFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const q = `{ variantsBySku(skus: ["NOPE"]) { sku } }`
	tests := []struct {
		name   string
		token  string
		status int
		code   string
	}{
		{"no token", "", http.StatusOK, "UNAUTHENTICATED"},
		{"customer token", e.customer, http.StatusOK, "FORBIDDEN"},
		{"admin token", e.admin, http.StatusOK, "FORBIDDEN"},
		{"service token without the scope", testenv.ServiceToken(t, e.key, "shipping", "products", time.Hour), http.StatusOK, "FORBIDDEN"},
		{"another service's token", testenv.ServiceToken(t, e.key, "orders", "shipping", time.Hour, auth.ScopeVariantsRead), http.StatusForbidden, "FORBIDDEN"},
		{"expired service token", testenv.ServiceToken(t, e.key, "orders", "products", -time.Minute, auth.ScopeVariantsRead), http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"service token forwarded as a user's", "", http.StatusForbidden, "FORBIDDEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var res response
			if tt.name == "service token forwarded as a user's" {
				res = e.doWith(t, map[string]string{"Authorization": "Bearer " + e.service, auth.ForwardedAuthorization: "Bearer " + e.service}, q, nil)
			} else {
				res = e.do(t, tt.token, q, nil)
			}
			if res.Status != tt.status || len(res.Errors) == 0 || res.Errors[0].Extensions.Code != tt.code {
				t.Fatalf("status %d, errors %+v, data %s; want %d %s", res.Status, res.Errors, res.Data, tt.status, tt.code)
			}
			if len(res.Data) > 0 && string(res.Data) != "null" {
				t.Fatalf("data leaked: %s", res.Data)
			}
		})
	}
	t.Run("service token", func(t *testing.T) {
		t.Parallel()
		var out struct{ VariantsBySku []*variant }
		e.ok(t, e.service, q, nil, &out)
		if len(out.VariantsBySku) != 1 || out.VariantsBySku[0] != nil {
			t.Fatalf("%+v", out)
		}
	})
}
