//go:build pprof

package main

import (
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

// A shopgraph built with -tags pprof serves Go's profiler at the address in
// SHOPGRAPH_BENCH_PPROF_ADDR (loopback), for the benchmark harness's
// -cpuprofile. It is not in the released binary, so it is not a setting:
// no flag, and the environment is read here only.
func init() {
	if addr := os.Getenv("SHOPGRAPH_BENCH_PPROF_ADDR"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
