package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// fixture is seeded data as seed leaves it.
func fixture() *seedData {
	d := &seedData{
		CategoryID: "cat1",
		Stock:      map[string]int{"A-S": 100, "A-M": 200, "B-S": 101, "B-M": 201, "O-S": 999_997},
		ProductNames: map[string]string{
			"A-S": "Bench A", "A-M": "Bench A", "B-S": "Bench B", "B-M": "Bench B", "O-S": "Order product",
		},
	}
	for _, p := range []struct{ id, name, sku string }{{"p1", "Bench A", "A"}, {"p2", "Bench B", "B"}} {
		d.Products = append(d.Products, product{ID: p.id, Name: p.name, Variants: []variant{
			{ID: p.id + "s", SKU: p.sku + "-S", Name: "Size S", Price: 1000, Currency: "USD"},
			{ID: p.id + "m", SKU: p.sku + "-M", Name: "Size M", Price: 1500, Currency: "USD"},
		}})
	}
	d.Customers = []customer{{Email: "c@example.com", Token: "t", Orders: []placedOrder{
		{ID: "o2", Lines: []orderLine{{"O-S", 2}}},
		{ID: "o1", Lines: []orderLine{{"O-S", 1}}},
	}}}
	return d
}

func TestChecks(t *testing.T) {
	t.Parallel()
	d := fixture()
	const product = `{"product":{"id":"p2","name":"Bench B","variants":[
		{"name":"Size S","price":{"amount":1000,"currency":"USD"}},{"name":"Size M","price":{"amount":1500,"currency":"USD"}}]}}`
	const list = `{"products":{"edges":[
		{"node":{"id":"p1","name":"Bench A","variants":[{"sku":"A-S","stock":{"available":100}},{"sku":"A-M","stock":{"available":200}}]}},
		{"node":{"id":"p2","name":"Bench B","variants":[{"sku":"B-S","stock":{"available":101}},{"sku":"B-M","stock":{"available":201}}]}}]}}`
	order := func(id string, qty int, email string) string {
		return `{"node":{"id":"` + id + `","status":"CONFIRMED","customer":{"email":"` + email + `"},"lines":[{"sku":"O-S","quantity":` +
			map[int]string{1: "1", 2: "2"}[qty] + `,"variant":{"sku":"O-S","name":"Size S","product":{"name":"Order product"},"stock":{"available":999997}}}]}}`
	}
	orders := `{"myOrders":{"edges":[` + order("o2", 2, "c@example.com") + `,` + order("o1", 1, "c@example.com") + `]}}`
	tests := []struct {
		name    string
		req     request
		data    string
		wantErr string // "" if the check must pass
	}{
		{"typename", typenameRequest(d, 0), `{"__typename":"Query"}`, ""},
		{"typename missing (nautilus drops it)", typenameRequest(d, 0), `{}`, `want "Query"`},
		{"typename wrong", typenameRequest(d, 0), `{"__typename":"Mutation"}`, `want "Query"`},

		{"product", productRequest(d, 1), product, ""},
		{"product picks the i-th seeded product", productRequest(d, 3), product, ""},
		{"product null", productRequest(d, 1), `{"product":null}`, "is null"},
		{"product without its id", productRequest(d, 1), strings.Replace(product, `"id":"p2",`, "", 1), `want {id: "p2"`},
		{"product with a wrong price", productRequest(d, 1), strings.Replace(product, "1500", "1499", 1), "variant 1"},
		{"product with a price without amount", productRequest(d, 1), strings.Replace(product, `"amount":1500,`, "", 1), "variant 1"},
		{"product with a variant missing", productRequest(d, 1), `{"product":{"id":"p2","name":"Bench B","variants":[{"name":"Size S","price":{"amount":1000,"currency":"USD"}}]}}`, "1 variants, want 2"},
		{"product with a field nobody asked for", productRequest(d, 1), strings.Replace(product, `"name":"Bench B",`, `"name":"Bench B","slug":"x",`, 1), "unexpected response shape"},

		{"list", listRequest(d, 0), list, ""},
		{"list with a stock that differs from the seed", listRequest(d, 0), strings.Replace(list, `"available":201`, `"available":200`, 1), "B-M: available 200, want 201"},
		{"list without stock", listRequest(d, 0), strings.Replace(list, `"stock":{"available":101}`, `"stock":null`, 1), "B-S has no stock"},
		{"list with stock missing its field", listRequest(d, 0), strings.Replace(list, `"stock":{"available":101}`, `"stock":{}`, 1), "B-S has no stock"},
		{"list short of a product", listRequest(d, 0), `{"products":{"edges":[]}}`, "0 products, want 2"},
		{"list in another order", listRequest(d, 0), strings.NewReplacer(`"p1","name":"Bench A"`, `"p2","name":"Bench B"`, `"p2","name":"Bench B"`, `"p1","name":"Bench A"`).Replace(list), "product 0"},

		{"orders", ordersRequest(d, 0), orders, ""},
		{"orders of someone else", ordersRequest(d, 0), strings.ReplaceAll(orders, "c@example.com", "x@example.com"), "want c@example.com"},
		{"orders without the customer", ordersRequest(d, 0), strings.Replace(orders, `"customer":{"email":"c@example.com"}`, `"customer":null`, 1), "want c@example.com"},
		{"orders oldest first", ordersRequest(d, 0), `{"myOrders":{"edges":[` + order("o1", 1, "c@example.com") + `,` + order("o2", 2, "c@example.com") + `]}}`, `want "o2"`},
		{"orders missing one", ordersRequest(d, 0), `{"myOrders":{"edges":[` + order("o2", 2, "c@example.com") + `]}}`, "has 1 orders, want 2"},
		{"orders with a product name from nowhere", ordersRequest(d, 0), strings.Replace(orders, "Order product", "Other", 1), `want "Order product"`},
		{"orders with wrong stock", ordersRequest(d, 0), strings.Replace(orders, "999997", "1000000", 1), "want available 999997"},
		{"orders not confirmed", ordersRequest(d, 0), strings.Replace(orders, "CONFIRMED", "PENDING", 1), "want CONFIRMED"},
		{"orders with a variant dropped", ordersRequest(d, 0), strings.Replace(orders, `"variant":{"sku":"O-S","name":"Size S","product":{"name":"Order product"},"stock":{"available":999997}}`, `"variant":null`, 1), "variant <nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.req.Check(json.RawMessage(tt.data))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("check failed: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("check passed, want an error with %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("check error %q, want one with %q", err, tt.wantErr)
			}
		})
	}
}

func TestRequestsCarryTheCustomersToken(t *testing.T) {
	t.Parallel()
	d := fixture()
	d.Customers = append(d.Customers, customer{Email: "b@example.com", Token: "t2"})
	if a, b := ordersRequest(d, 0).Token, ordersRequest(d, 1).Token; a != "t" || b != "t2" {
		t.Errorf("tokens %q, %q; want t, t2", a, b)
	}
	if r := productRequest(d, 0); r.Token != "" || r.Vars["id"] != "p1" {
		t.Errorf("product request: token %q, id %v", r.Token, r.Vars["id"])
	}
}

func TestDecodeResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{"data", 200, `{"data":{"a":1}}`, ""},
		{"GraphQL error", 200, `{"data":null,"errors":[{"message":"nope","extensions":{"code":"FORBIDDEN"}}]}`, "nope (FORBIDDEN)"},
		{"partial data with an error", 200, `{"data":{"a":1},"errors":[{"message":"half"}]}`, "half"},
		{"HTTP error with a GraphQL body", 401, `{"errors":[{"message":"bad token","extensions":{"code":"UNAUTHENTICATED"}}]}`, "HTTP 401"},
		{"HTTP error", 502, `{"data":{"a":1}}`, "HTTP 502"},
		{"not JSON", 200, `<html>`, "not a GraphQL response"},
		{"no data", 200, `{"data":null}`, "no data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeResponse(tt.status, []byte(tt.body))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("decodeResponse = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
