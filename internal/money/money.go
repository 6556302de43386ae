// Package money holds Shopgraph's Money value: integer minor units plus an
// ISO-4217 currency code. Never floats.
package money

import (
	"fmt"

	"golang.org/x/text/currency"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

// Money is an amount in the minor units of a currency (cents for USD).
type Money struct {
	Amount   int64  `json:"amount" bson:"amount"`
	Currency string `json:"currency" bson:"currency"`
}

// New returns a validated Money value.
// Returns INVALID_INPUT if the amount is negative or the currency is not an
// ISO-4217 code.
func New(amount int64, cur string) (Money, error) {
	m := Money{Amount: amount, Currency: cur}
	return m, m.Validate("")
}

// Validate reports whether m is a non-negative amount in a known currency.
// field names the input field in the error.
func (m Money) Validate(field string) error {
	if m.Amount < 0 {
		return apperr.Invalid(field, "amount must not be negative, got %d", m.Amount)
	}
	if err := ValidateCurrency(m.Currency); err != nil {
		return apperr.Invalid(field, "%s", apperr.Message(err))
	}
	return nil
}

// ValidateCurrency returns INVALID_INPUT unless code is an ISO-4217 code in
// upper case, such as "USD".
func ValidateCurrency(code string) error {
	if len(code) != 3 {
		return apperr.Invalid("currency", "unknown currency %q: want an ISO-4217 code such as USD", code)
	}
	u, err := currency.ParseISO(code)
	if err != nil || u.String() != code || code == "XXX" {
		return apperr.Invalid("currency", "unknown currency %q: want an ISO-4217 code such as USD", code)
	}
	return nil
}

// Add returns m+o. Returns INVALID_INPUT if the currencies differ.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, apperr.Errorf(apperr.InvalidInput, "cannot add %s to %s", o.Currency, m.Currency)
	}
	return Money{Amount: m.Amount + o.Amount, Currency: m.Currency}, nil
}

// Times returns m multiplied by n.
func (m Money) Times(n int64) Money {
	return Money{Amount: m.Amount * n, Currency: m.Currency}
}

// Scale returns the number of minor-unit digits of the currency (2 for USD,
// 0 for JPY).
func Scale(code string) int {
	u, err := currency.ParseISO(code)
	if err != nil {
		return 2
	}
	scale, _ := currency.Standard.Rounding(u)
	return scale
}

// String formats m for people, e.g. "USD 12.34".
func (m Money) String() string {
	scale := Scale(m.Currency)
	if scale == 0 {
		return fmt.Sprintf("%s %d", m.Currency, m.Amount)
	}
	div := int64(1)
	for range scale {
		div *= 10
	}
	sign := ""
	a := m.Amount
	if a < 0 {
		sign, a = "-", -a
	}
	return fmt.Sprintf("%s %s%d.%0*d", m.Currency, sign, a/div, scale, a%div)
}

// Formatted is String, for the GraphQL Money.formatted field.
func (m Money) Formatted() string { return m.String() }
