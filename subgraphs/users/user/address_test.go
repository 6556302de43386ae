package user

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

func validAddress() AddressInput {
	return AddressInput{Recipient: "Ada Lovelace", Line1: "12 St James's Square", City: "London",
		PostalCode: "sw1y 4jh", Country: "gb", Phone: "+44 20 7946 0000"}
}

func defaults(b *AddressBook) []string {
	var ids []string
	for _, a := range b.Addresses {
		if a.IsDefault {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

func TestAddressBook(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)
	yes, no := true, false

	t.Run("first address becomes the default and input is normalized", func(t *testing.T) {
		t.Parallel()
		b := &AddressBook{UserID: "u"}
		a, err := b.Add("a1", validAddress(), now)
		if err != nil {
			t.Fatal(err)
		}
		if !a.IsDefault || a.Country != "GB" || a.PostalCode != "SW1Y 4JH" || a.Phone != "+442079460000" || a.UserID != "u" {
			t.Fatalf("added %+v", a)
		}
		if _, err := b.Add("a2", validAddress(), now); err != nil {
			t.Fatal(err)
		}
		if got := defaults(b); len(got) != 1 || got[0] != "a1" {
			t.Fatalf("defaults = %v; want [a1]", got)
		}
	})

	t.Run("adding a default takes it from the previous one", func(t *testing.T) {
		t.Parallel()
		b := &AddressBook{UserID: "u"}
		_, _ = b.Add("a1", validAddress(), now)
		in := validAddress()
		in.IsDefault = &yes
		if _, err := b.Add("a2", in, now); err != nil {
			t.Fatal(err)
		}
		if got := defaults(b); len(got) != 1 || got[0] != "a2" {
			t.Fatalf("defaults = %v; want [a2]", got)
		}
	})

	t.Run("set default switches, update false clears, remove", func(t *testing.T) {
		t.Parallel()
		b := &AddressBook{UserID: "u"}
		_, _ = b.Add("a1", validAddress(), now)
		_, _ = b.Add("a2", validAddress(), now)
		if _, err := b.SetDefault("a2", now); err != nil {
			t.Fatal(err)
		}
		if got := defaults(b); len(got) != 1 || got[0] != "a2" {
			t.Fatalf("after SetDefault(a2) defaults = %v", got)
		}
		in := validAddress()
		in.City = "Cambridge"
		a, err := b.Update("a2", in, now)
		if err != nil || a.City != "Cambridge" || !a.IsDefault {
			t.Fatalf("Update without isDefault = %+v, %v; want city changed, still default", a, err)
		}
		in.IsDefault = &no
		if _, err := b.Update("a2", in, now); err != nil {
			t.Fatal(err)
		}
		if got := defaults(b); len(got) != 0 {
			t.Fatalf("after Update(isDefault: false) defaults = %v; want none", got)
		}
		if err := b.Remove("a1"); err != nil {
			t.Fatal(err)
		}
		if len(b.Addresses) != 1 || b.Addresses[0].ID != "a2" {
			t.Fatalf("after Remove(a1): %+v", b.Addresses)
		}
	})

	t.Run("unknown address", func(t *testing.T) {
		t.Parallel()
		b := &AddressBook{UserID: "u"}
		_, _ = b.Add("a1", validAddress(), now)
		_, err1 := b.Update("nope", validAddress(), now)
		err2 := b.Remove("nope")
		_, err3 := b.SetDefault("nope", now)
		for _, err := range []error{err1, err2, err3} {
			if apperr.Code(err) != apperr.NotFound {
				t.Fatalf("got %v; want NOT_FOUND", err)
			}
		}
	})

	t.Run("full book", func(t *testing.T) {
		t.Parallel()
		b := &AddressBook{UserID: "u"}
		for i := range MaxAddresses {
			if _, err := b.Add(fmt.Sprint(i), validAddress(), now); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.Add("one-more", validAddress(), now); apperr.Code(err) != apperr.Conflict {
			t.Fatalf("adding address %d: %v; want CONFLICT", MaxAddresses+1, err)
		}
		if len(b.Addresses) != MaxAddresses {
			t.Fatalf("book has %d addresses", len(b.Addresses))
		}
	})

	bad := []struct {
		field string
		edit  func(*AddressInput)
	}{
		{"recipient", func(in *AddressInput) { in.Recipient = "  " }},
		{"line1", func(in *AddressInput) { in.Line1 = "" }},
		{"line2", func(in *AddressInput) { in.Line2 = string(make([]byte, 201)) }},
		{"city", func(in *AddressInput) { in.City = "" }},
		{"postalCode", func(in *AddressInput) { in.PostalCode = "" }},
		{"postalCode", func(in *AddressInput) { in.PostalCode = "12#45" }},
		{"country", func(in *AddressInput) { in.Country = "XX" }},
		{"country", func(in *AddressInput) { in.Country = "GBR" }},
		{"phone", func(in *AddressInput) { in.Phone = "call me" }},
		{"recipient", func(in *AddressInput) { in.Recipient = "Ada\u202eecalevoL" }},
		{"line1", func(in *AddressInput) { in.Line1 = "1\u200b Main St" }},
		{"line2", func(in *AddressInput) { in.Line2 = "\u2066Flat 2\u2069" }},
		{"city", func(in *AddressInput) { in.City = "London\x00" }},
		{"region", func(in *AddressInput) { in.Region = "\ufeffKent" }},
	}
	for i, tt := range bad {
		t.Run(fmt.Sprintf("invalid %s %d", tt.field, i), func(t *testing.T) {
			t.Parallel()
			b := &AddressBook{UserID: "u"}
			orig, _ := b.Add("a1", validAddress(), now)
			in := validAddress()
			tt.edit(&in)
			if _, err := b.Add("a2", in, now); !isInvalid(err, tt.field) {
				t.Fatalf("Add: %v; want INVALID_INPUT on %s", err, tt.field)
			}
			if _, err := b.Update("a1", in, now); !isInvalid(err, tt.field) {
				t.Fatalf("Update: %v; want INVALID_INPUT on %s", err, tt.field)
			}
			if len(b.Addresses) != 1 || b.Addresses[0] != orig {
				t.Fatalf("book changed by invalid input: %+v", b.Addresses)
			}
		})
	}
}

func isInvalid(err error, field string) bool {
	e, ok := apperr.As(err)
	return ok && e.Code == apperr.InvalidInput && e.Field == field
}

func TestSortAddresses(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	as := []Address{
		{ID: "c", CreatedAt: t0.Add(2 * time.Hour)},
		{ID: "b", CreatedAt: t0.Add(time.Hour), IsDefault: true},
		{ID: "a", CreatedAt: t0},
	}
	SortAddresses(as)
	if got := as[0].ID + as[1].ID + as[2].ID; got != "bac" {
		t.Fatalf("order %s; want bac (default first, then oldest)", got)
	}
}
