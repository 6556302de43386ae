package order

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/invisible"
)

// Input limits.
const (
	MinIdempotencyKey = 8
	MaxIdempotencyKey = 100
	MaxPaymentToken   = 200
	MaxReason         = 500
	// MaxPage is the largest page of orders.
	MaxPage = 100
)

var (
	postalCodeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 -]*$`)
	phoneRE      = regexp.MustCompile(`^\+?[0-9 ()-]+$`)
)

// PlaceInput is what placeOrder needs besides the cart.
type PlaceInput struct {
	Address        Address
	ShippingMethod string
	PaymentToken   string
	IdempotencyKey string
}

// normalize returns in with surrounding space trimmed and the country code
// upper-cased.
func (in PlaceInput) normalize() PlaceInput {
	a := &in.Address
	for _, f := range []*string{&a.Recipient, &a.Line1, &a.Line2, &a.City, &a.Region, &a.PostalCode, &a.Country, &a.Phone} {
		*f = strings.TrimSpace(*f)
	}
	a.Country = strings.ToUpper(a.Country)
	in.ShippingMethod = strings.TrimSpace(in.ShippingMethod)
	in.PaymentToken = strings.TrimSpace(in.PaymentToken)
	return in
}

// validate returns INVALID_INPUT naming the first field at fault.
func (in PlaceInput) validate() error {
	a := in.Address
	if n := utf8.RuneCountInString(in.IdempotencyKey); strings.TrimSpace(in.IdempotencyKey) == "" || n < MinIdempotencyKey || n > MaxIdempotencyKey {
		return apperr.Invalid("idempotencyKey", "an idempotency key of %d to %d characters is required (a UUID made up by the client for this checkout)", MinIdempotencyKey, MaxIdempotencyKey)
	}
	checks := []struct {
		field, value string
		required     bool
		max          int
	}{
		{"shippingAddress.recipient", a.Recipient, true, 100},
		{"shippingAddress.line1", a.Line1, true, 200},
		{"shippingAddress.line2", a.Line2, false, 200},
		{"shippingAddress.city", a.City, true, 100},
		{"shippingAddress.region", a.Region, false, 100},
		{"shippingAddress.postalCode", a.PostalCode, true, 20},
		{"shippingAddress.country", a.Country, true, 2},
		{"shippingAddress.phone", a.Phone, false, 30},
	}
	for _, c := range checks {
		name := c.field[strings.LastIndexByte(c.field, '.')+1:]
		switch {
		case c.required && c.value == "":
			return apperr.Invalid(c.field, "the shipping address needs a %s", name)
		case utf8.RuneCountInString(c.value) > c.max:
			return apperr.Invalid(c.field, "the shipping address's %s is longer than %d characters", name, c.max)
		case invisible.In(c.value):
			return apperr.Invalid(c.field, "the shipping address's %s contains control, invisible or bidi-override characters", name)
		}
	}
	if !postalCodeRE.MatchString(a.PostalCode) {
		return apperr.Invalid("shippingAddress.postalCode", "postal code %q may only have letters, digits, spaces and hyphens", a.PostalCode)
	}
	if !isCountry(a.Country) {
		return apperr.Invalid("shippingAddress.country", "%q is not an ISO 3166-1 alpha-2 country code such as US or DE", a.Country)
	}
	if a.Phone != "" && !phoneRE.MatchString(a.Phone) {
		return apperr.Invalid("shippingAddress.phone", "phone number %q may only have digits, spaces and + - ( )", a.Phone)
	}
	if in.ShippingMethod == "" {
		return apperr.Invalid("shippingMethod", "a shipping method is required")
	}
	if in.PaymentToken == "" {
		return apperr.Invalid("paymentToken", "a payment token is required")
	}
	if utf8.RuneCountInString(in.PaymentToken) > MaxPaymentToken {
		return apperr.Invalid("paymentToken", "the payment token is longer than %d characters", MaxPaymentToken)
	}
	return nil
}

// isCountry reports whether code is an ISO 3166-1 alpha-2 code of a country
// (not a grouping such as EU, nor the unknown region ZZ).
func isCountry(code string) bool {
	if len(code) != 2 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' {
		return false
	}
	r, err := language.ParseRegion(code)
	return err == nil && r.String() == code && r.IsCountry()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// cleanReason returns a cancellation reason trimmed, or def if it is empty.
// Returns INVALID_INPUT if it is too long or has control characters.
func cleanReason(reason, def string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return def, nil
	case utf8.RuneCountInString(reason) > MaxReason:
		return "", apperr.Invalid("reason", "the reason is longer than %d characters", MaxReason)
	case strings.ContainsFunc(reason, func(r rune) bool { return r != '\n' && isControl(r) }):
		return "", apperr.Invalid("reason", "the reason contains control characters")
	}
	return reason, nil
}

// validateFirst returns INVALID_INPUT unless first is 1 to MaxPage.
func validateFirst(first int) error {
	if first < 1 || first > MaxPage {
		return apperr.Invalid("first", "first must be 1 to %d, got %d", MaxPage, first)
	}
	return nil
}
