package catalog_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/graphqlclient"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/orders/catalog"
	"github.com/shopgraph/shopgraph/subgraphs/products"
	productcatalog "github.com/shopgraph/shopgraph/subgraphs/products/catalog"
)

// TestAgainstProducts asks the real products subgraph.
func TestAgainstProducts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key, verifier := testenv.SigningKey(t)
	svc, err := products.New(ctx, products.Config{DB: testenv.Mongo(t, "products"), Verifier: verifier, Log: testenv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler)
	t.Cleanup(srv.Close)
	admin := auth.WithIdentity(ctx, auth.Identity{UserID: "admin", Role: auth.RoleAdmin})
	create := func(name string, status productcatalog.Status, skus ...string) *productcatalog.Product {
		in := productcatalog.ProductInput{Name: name, Status: status}
		for i, s := range skus {
			in.Variants = append(in.Variants, productcatalog.VariantInput{SKU: s, Name: "V" + s, Price: money.Money{Amount: int64(1000 + i), Currency: "EUR"}})
		}
		p, err := svc.Catalog.CreateProduct(admin, in)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	create("Mug", productcatalog.StatusActive, "MUG-1", "MUG-2")
	old := create("Old lamp", productcatalog.StatusActive, "LAMP-OLD")
	if _, err := svc.Catalog.ArchiveProduct(admin, old.ID); err != nil {
		t.Fatal(err)
	}
	create("Secret", productcatalog.StatusDraft, "SECRET-1")

	// The orders service's own token: variantsBySku answers only services.
	tok := testenv.ServiceToken(t, key, "orders", "products", time.Hour, auth.ScopeVariantsRead)
	c := catalog.New(srv.URL+"/graphql", nil, graphqlclient.WithServiceToken(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})))
	got, err := c.Variants(ctx, []string{"MUG-2", "LAMP-OLD", "NOPE", "SECRET-1", "MUG-2"})
	if err != nil {
		t.Fatal(err)
	}
	if v := got["MUG-2"]; v.Name != "VMUG-2" || v.Price != (money.Money{Amount: 1001, Currency: "EUR"}) || v.ProductName != "Mug" || !v.Orderable() || v.ProductID == "" {
		t.Errorf("MUG-2: %+v", v)
	}
	if v, ok := got["LAMP-OLD"]; !ok || v.Orderable() || v.ProductStatus != "ARCHIVED" || v.ProductName != "Old lamp" {
		t.Errorf("archived LAMP-OLD: %+v, %v; want known and not orderable", v, ok)
	}
	for _, sku := range []string{"NOPE", "SECRET-1"} {
		if v, ok := got[sku]; ok {
			t.Errorf("%s: %+v, want unknown", sku, v)
		}
	}
	if len(got) != 2 {
		t.Errorf("got %d variants", len(got))
	}

	// Unreachable or failing: UNAVAILABLE.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	t.Cleanup(down.Close)
	for _, url := range []string{down.URL, "http://127.0.0.1:1/graphql"} {
		if _, err := catalog.New(url, nil).Variants(ctx, []string{"MUG-1"}); apperr.Code(err) != apperr.Unavailable {
			t.Errorf("%s: %v, want UNAVAILABLE", url, err)
		}
	}
}
