package graph_test

import (
	"net/http/httptest"
	"testing"

	"github.com/shopgraph/shopgraph/subgraphs/users/graph"
)

func TestClientAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, xff, remote, want string
	}{
		{"no header: the connection", "", "192.0.2.7:51234", "192.0.2.7"},
		{"the gateway's header", "203.0.113.9", "10.0.0.2:4000", "203.0.113.9"},
		{"first entry of a list", "203.0.113.9, 10.0.0.1, 10.0.0.2", "10.0.0.2:4000", "203.0.113.9"},
		{"entry with a port", "203.0.113.9:4711", "10.0.0.2:4000", "203.0.113.9"},
		{"garbage header: the connection", "unknown", "192.0.2.7:51234", "192.0.2.7"},
		{"IPv6 widened to its /64", "2001:db8:1:2:3:4:5:6", "10.0.0.2:4000", "2001:db8:1:2::/64"},
		{"IPv6 connection", "", "[2001:db8::1]:51234", "2001:db8::/64"},
		{"IPv4-mapped IPv6", "::ffff:203.0.113.9", "10.0.0.2:4000", "203.0.113.9"},
		{"nothing usable", "", "pipe", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/graphql", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := graph.ClientAddress(r); got != tt.want {
				t.Fatalf("ClientAddress = %q; want %q", got, tt.want)
			}
		})
	}
}
