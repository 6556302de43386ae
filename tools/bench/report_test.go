package main

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	measured := func(sc, target string, rps, p50 float64) row {
		return row{Scenario: sc, Target: target, Requests: 100, RPS: rps, P50Ms: p50}
	}
	tests := []struct {
		name string
		rows []row
		want []comparison
	}{
		{
			name: "all three targets",
			rows: []row{measured("product", "ours", 300, 4.5), measured("product", "nautilus", 200, 6), measured("product", "direct", 600, 1.5)},
			want: []comparison{{Scenario: "product", OursOverNautilusRPS: ptr(1.5), OursMinusDirectP50Ms: ptr(3.0), OursOverDirectRPS: ptr(0.5)}},
		},
		{
			name: "no direct target for a scenario spanning subgraphs",
			rows: []row{measured("list", "ours", 80, 50), measured("list", "nautilus", 40, 90)},
			want: []comparison{{Scenario: "list", OursOverNautilusRPS: ptr(2.0)}},
		},
		{
			name: "ours answering faster than direct: a negative difference",
			rows: []row{measured("typename", "ours", 1000, 0.5), measured("typename", "direct", 2000, 0.75)},
			want: []comparison{{Scenario: "typename", OursMinusDirectP50Ms: ptr(-0.25), OursOverDirectRPS: ptr(0.5)}},
		},
		{
			name: "skipped and empty rows are left out",
			rows: []row{
				{Scenario: "orders3hop", Target: "ours", Skipped: "skipped: no orders subgraph"},
				{Scenario: "orders3hop", Target: "nautilus", Skipped: "skipped: no orders subgraph"},
				measured("checkout", "ours", 10, 100), {Scenario: "checkout", Target: "nautilus"},
			},
		},
		{
			name: "no ours, no comparison",
			rows: []row{measured("product", "nautilus", 200, 6), measured("product", "direct", 600, 1.5)},
		},
		{
			name: "baseline with no throughput gives no ratio",
			rows: []row{measured("list", "ours", 80, 50), measured("list", "nautilus", 0, 0)},
		},
		{
			name: "scenarios keep their order",
			rows: []row{measured("b", "ours", 2, 1), measured("a", "ours", 1, 1), measured("a", "nautilus", 1, 1), measured("b", "nautilus", 1, 1)},
			want: []comparison{{Scenario: "b", OursOverNautilusRPS: ptr(2.0)}, {Scenario: "a", OursOverNautilusRPS: ptr(1.0)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := compare(tt.rows)
			if len(got) != len(tt.want) {
				t.Fatalf("compare = %s, want %s", comparisonsText(got), comparisonsText(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Scenario != w.Scenario || !same(g.OursOverNautilusRPS, w.OursOverNautilusRPS) ||
					!same(g.OursMinusDirectP50Ms, w.OursMinusDirectP50Ms) || !same(g.OursOverDirectRPS, w.OursOverDirectRPS) {
					t.Errorf("compare = %s, want %s", comparisonsText(got), comparisonsText(tt.want))
				}
			}
		})
	}
}

func same(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Abs(*a-*b) < 1e-9
}

func comparisonsText(cs []comparison) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.Scenario + ": " + ratioText(c.OursOverNautilusRPS) + " " + diffText(c.OursMinusDirectP50Ms) + " " + ratioText(c.OursOverDirectRPS) + "; ")
	}
	return b.String()
}

func TestNewRow(t *testing.T) {
	t.Parallel()
	s := newStats()
	for range 10 {
		s.add(outcome{Requests: 2}, 4*time.Millisecond)
	}
	s.add(outcome{Err: errors.New("x")}, time.Millisecond)
	s.add(outcome{CheckErr: errors.New("y")}, time.Millisecond)
	s.Elapsed = 2 * time.Second
	r := newRow("list", "ours", s, ptr(int64(55)))
	if r.Requests != 12 || r.GatewayRequests != 22 || r.RPS != 6 || r.OKRPS != 5 {
		t.Errorf("requests %d, gateway requests %d, req/s %v, ok/s %v; want 12, 22, 6, 5", r.Requests, r.GatewayRequests, r.RPS, r.OKRPS)
	}
	if r.UpstreamPerReq == nil || *r.UpstreamPerReq != 2.5 {
		t.Errorf("upstream per request = %v, want 2.5 (55 upstream / 22 gateway requests)", r.UpstreamPerReq)
	}
	if r.P50Ms < 3.99 || r.P50Ms > 4.01 || r.MaxMs < 3.99 || r.MaxMs > 4.01 {
		t.Errorf("p50 %v ms, max %v ms; want 4", r.P50Ms, r.MaxMs)
	}
	if r := newRow("list", "ours", s, nil); r.UpstreamPerReq != nil {
		t.Errorf("upstream per request = %v without a count", *r.UpstreamPerReq)
	}
}

func TestWriteMarkdown(t *testing.T) {
	t.Parallel()
	rows := []row{
		{Scenario: "product", Target: "ours", Requests: 1000, RPS: 300, OKRPS: 300, P50Ms: 4.5, P95Ms: 9, P99Ms: 12.25, MaxMs: 130, UpstreamPerReq: ptr(1.0)},
		{Scenario: "product", Target: "nautilus", Requests: 600, RPS: 200, OKRPS: 199, P50Ms: 6, FailedChecks: 3, Samples: []string{"check: product is\nnull"}},
		{Scenario: "checkout", Target: "ours", Skipped: "skipped: no orders subgraph"},
	}
	var b bytes.Buffer
	writeMarkdown(&b, report{Machine: machine{CPU: "Test CPU", Cores: 2, Go: "go1.26", OS: "linux/amd64"}, Command: "go run ./tools/bench -d 5s", Rows: rows, Comparisons: compare(rows)})
	out := b.String()
	for _, want := range []string{
		"Test CPU, 2 cores, go1.26",
		"`go run ./tools/bench -d 5s`",
		"| product | ours | 1000 | 300 | 300 | 4.50 | 9.00 | 12.2 | 130 | 0 | 0 | 1.00 |",
		"| product | nautilus | 600 | 200 | 199 | 6.00 |",
		"| checkout | ours | skipped: no orders subgraph |",
		"| product | 1.50× | — | — |",
		"- product/nautilus: check: product is null",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
