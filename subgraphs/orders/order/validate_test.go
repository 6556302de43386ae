package order

import (
	"strings"
	"testing"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

func TestPlaceInputValidate(t *testing.T) {
	t.Parallel()
	valid := PlaceInput{
		Address:        Address{Recipient: "Ann Lee", Line1: "1 Main St", City: "Springfield", PostalCode: "12345", Country: "us", Phone: "+1 (555) 010-0000"},
		ShippingMethod: "STANDARD", PaymentToken: "tok_visa", IdempotencyKey: "3f0c8a52-checkout",
	}
	cases := []struct {
		name  string
		edit  func(*PlaceInput)
		field string // "" for valid input
	}{
		{name: "valid", edit: func(*PlaceInput) {}},
		{name: "missing idempotency key", edit: func(in *PlaceInput) { in.IdempotencyKey = "" }, field: "idempotencyKey"},
		{name: "short idempotency key", edit: func(in *PlaceInput) { in.IdempotencyKey = "1234567" }, field: "idempotencyKey"},
		{name: "blank idempotency key", edit: func(in *PlaceInput) { in.IdempotencyKey = "          " }, field: "idempotencyKey"},
		{name: "long idempotency key", edit: func(in *PlaceInput) { in.IdempotencyKey = strings.Repeat("k", 101) }, field: "idempotencyKey"},
		{name: "longest idempotency key", edit: func(in *PlaceInput) { in.IdempotencyKey = strings.Repeat("k", 100) }},
		{name: "no recipient", edit: func(in *PlaceInput) { in.Address.Recipient = "  " }, field: "shippingAddress.recipient"},
		{name: "no street", edit: func(in *PlaceInput) { in.Address.Line1 = "" }, field: "shippingAddress.line1"},
		{name: "no city", edit: func(in *PlaceInput) { in.Address.City = "" }, field: "shippingAddress.city"},
		{name: "no postal code", edit: func(in *PlaceInput) { in.Address.PostalCode = "" }, field: "shippingAddress.postalCode"},
		{name: "odd postal code", edit: func(in *PlaceInput) { in.Address.PostalCode = "12;45" }, field: "shippingAddress.postalCode"},
		{name: "long city", edit: func(in *PlaceInput) { in.Address.City = strings.Repeat("x", 101) }, field: "shippingAddress.city"},
		{name: "control characters", edit: func(in *PlaceInput) { in.Address.Line2 = "Flat 1\x00" }, field: "shippingAddress.line2"},
		{name: "bidi override", edit: func(in *PlaceInput) { in.Address.Recipient = "Ada \u202eecalevoL" }, field: "shippingAddress.recipient"},
		{name: "zero-width space", edit: func(in *PlaceInput) { in.Address.Line1 = "12\u200b Main St" }, field: "shippingAddress.line1"},
		{name: "isolate", edit: func(in *PlaceInput) { in.Address.City = "\u2066London\u2069" }, field: "shippingAddress.city"},
		{name: "no country", edit: func(in *PlaceInput) { in.Address.Country = "" }, field: "shippingAddress.country"},
		{name: "alpha-3 country", edit: func(in *PlaceInput) { in.Address.Country = "USA" }, field: "shippingAddress.country"},
		{name: "unknown country", edit: func(in *PlaceInput) { in.Address.Country = "XX" }, field: "shippingAddress.country"},
		{name: "unknown region ZZ", edit: func(in *PlaceInput) { in.Address.Country = "ZZ" }, field: "shippingAddress.country"},
		{name: "grouping, not a country", edit: func(in *PlaceInput) { in.Address.Country = "EU" }, field: "shippingAddress.country"},
		{name: "another country", edit: func(in *PlaceInput) { in.Address.Country = "DE" }},
		{name: "odd phone", edit: func(in *PlaceInput) { in.Address.Phone = "call me" }, field: "shippingAddress.phone"},
		{name: "no shipping method", edit: func(in *PlaceInput) { in.ShippingMethod = " " }, field: "shippingMethod"},
		{name: "no payment token", edit: func(in *PlaceInput) { in.PaymentToken = "" }, field: "paymentToken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := valid
			tc.edit(&in)
			err := in.normalize().validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid input refused: %v", err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.InvalidInput || e.Field != tc.field {
				t.Fatalf("err = %v, want INVALID_INPUT on %s", err, tc.field)
			}
		})
	}
}
