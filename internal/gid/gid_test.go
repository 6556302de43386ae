package gid_test

import (
	"testing"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/gid"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	id := gid.Encode("Variant", "TSHIRT-RED-M")
	typ, key, err := gid.Decode(id)
	if err != nil || typ != "Variant" || key != "TSHIRT-RED-M" {
		t.Fatalf("Decode(%q) = %q %q %v", id, typ, key, err)
	}
	if _, err := gid.DecodeAs(id, "Product"); err == nil {
		t.Error("a Variant ID decoded as a Product")
	}
	for _, bad := range []string{"", "!!!", gid.Encode("", "x"), "UHJvZHVjdA"} {
		if _, _, err := gid.Decode(bad); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
}

// TestDecodeRefusesHiddenBytes checks that an ID whose key (or type) holds
// a NUL, a control or format character, or broken UTF-8 is INVALID_INPUT in
// every service, through Decode and DecodeAs, before any store sees it.
func TestDecodeRefusesHiddenBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, typ, key string
	}{
		{"NUL in key", "User", "\x00x"},
		{"NUL at the end", "Order", "0195f7a2-3c1e-7b7e-9d3a-0c1f2e3d4c5b\x00"},
		{"newline", "Variant", "SKU\n1"},
		{"zero-width space", "Variant", "SKU\u200b1"},
		{"bidi override", "Product", "abc\u202e"},
		{"broken UTF-8", "Payment", "\xff\xfe"},
		{"NUL in type", "Us\x00er", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := gid.Encode(tt.typ, tt.key)
			if _, _, err := gid.Decode(id); apperr.Code(err) != apperr.InvalidInput {
				t.Errorf("Decode(%q) error %v, want INVALID_INPUT", id, err)
			}
			if _, err := gid.DecodeAs(id, tt.typ); apperr.Code(err) != apperr.InvalidInput {
				t.Errorf("DecodeAs(%q) error %v, want INVALID_INPUT", id, err)
			}
		})
	}
	// A key that is merely unknown (not a UUID, say) is well-formed: the
	// service answers node with null, not an error.
	if typ, key, err := gid.Decode("VXNlcjp4"); err != nil || typ != "User" || key != "x" {
		t.Errorf(`Decode("VXNlcjp4") = %q %q %v, want User x`, typ, key, err)
	}
}
