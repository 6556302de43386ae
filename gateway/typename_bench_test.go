package gateway

import "testing"

// BenchmarkTypename is the cheapest request the gateway serves, `{ __typename }`,
// which calls no service: it measures the gateway's own HTTP layer (and
// shows that tracing and metrics, when off, cost nothing there).
//
//	go test ./gateway -run '^$' -bench 'Typename|ListAcrossServices/shopgraph' -count 6
func BenchmarkTypename(b *testing.B) {
	e := newBenchEnv(b)
	e.run(b, e.ours.URL+"/graphql", `{ __typename }`)
}
