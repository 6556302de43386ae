package money_test

import (
	"testing"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/money"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		amount   int64
		currency string
		wantErr  bool
	}{
		{"usd", 1999, "USD", false},
		{"zero", 0, "EUR", false},
		{"yen", 500, "JPY", false},
		{"negative", -1, "USD", true},
		{"lower case", 100, "usd", true},
		{"unknown", 100, "ABC", true},
		{"empty", 100, "", true},
		{"not a currency", 100, "XXX", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := money.New(tt.amount, tt.currency)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && apperr.Code(err) != apperr.InvalidInput {
				t.Fatalf("code = %s", apperr.Code(err))
			}
		})
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		m    money.Money
		want string
	}{
		{money.Money{Amount: 1999, Currency: "USD"}, "USD 19.99"},
		{money.Money{Amount: 5, Currency: "EUR"}, "EUR 0.05"},
		{money.Money{Amount: 500, Currency: "JPY"}, "JPY 500"},
	} {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%+v = %q, want %q", tt.m, got, tt.want)
		}
	}
	if _, err := (money.Money{Amount: 1, Currency: "USD"}).Add(money.Money{Amount: 1, Currency: "EUR"}); err == nil {
		t.Error("adding USD to EUR succeeded")
	}
}
