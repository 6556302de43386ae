package shipping_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/orders/shipping"
	shippingsvc "github.com/shopgraph/shopgraph/subgraphs/shipping"
	shippingpg "github.com/shopgraph/shopgraph/subgraphs/shipping/postgres"
)

// TestAgainstShipping asks the real shipping subgraph.
func TestAgainstShipping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, err := shippingsvc.New(ctx, shippingsvc.Config{DB: testenv.Postgres(t, "shipping", shippingpg.Migrations), Log: testenv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler)
	t.Cleanup(srv.Close)
	c := shipping.New(srv.URL+"/graphql", nil)

	for _, cur := range []string{"USD", "EUR"} {
		ms, err := c.Methods(ctx, cur)
		if err != nil {
			t.Fatalf("%s: %v", cur, err)
		}
		if len(ms) == 0 {
			t.Fatalf("%s: no methods", cur)
		}
		for _, m := range ms {
			if m.Code == "" || m.Name == "" || m.Price.Currency != cur || m.Price.Amount <= 0 {
				t.Errorf("%s: method %+v", cur, m)
			}
		}
		if cur == "USD" && (ms[0].Code != "STANDARD" || ms[0].Price != (money.Money{Amount: 599, Currency: "USD"})) {
			t.Errorf("USD methods %+v", ms)
		}
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	t.Cleanup(down.Close)
	for _, url := range []string{down.URL, "http://127.0.0.1:1/graphql"} {
		if _, err := shipping.New(url, nil).Methods(ctx, "USD"); apperr.Code(err) != apperr.Unavailable {
			t.Errorf("%s: %v, want UNAVAILABLE", url, err)
		}
	}
}
