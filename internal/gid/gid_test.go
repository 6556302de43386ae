package gid_test

import (
	"testing"

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
