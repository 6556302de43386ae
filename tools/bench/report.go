package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// report is everything a run measured; it is printed as Markdown and
// written as JSON.
type report struct {
	Machine     machine      `json:"machine"`
	Command     string       `json:"command"`
	Load        string       `json:"load"`
	System      string       `json:"system"`
	Rows        []row        `json:"rows"`
	Fanout      []fanoutRow  `json:"fanout,omitempty"`
	Comparisons []comparison `json:"comparisons"`
	Notes       []string     `json:"notes,omitempty"`
}

type machine struct {
	CPU          string `json:"cpu"`
	Cores        int    `json:"cores"`
	Go           string `json:"go"`
	OS           string `json:"os"`
	LoadAvgStart string `json:"loadAvgStart,omitempty"`
	LoadAvgEnd   string `json:"loadAvgEnd,omitempty"`
}

// row is one scenario against one target.
type row struct {
	Scenario        string  `json:"scenario"`
	Target          string  `json:"target"`
	Skipped         string  `json:"skipped,omitempty"`
	Requests        int64   `json:"requests"`        // operations (checkout: orders)
	GatewayRequests int64   `json:"gatewayRequests"` // requests sent to the target
	Seconds         float64 `json:"seconds"`
	RPS             float64 `json:"rps"`
	OKRPS           float64 `json:"okRps"` // operations without error or failed check (checkout: orders CONFIRMED)
	P50Ms           float64 `json:"p50Ms"`
	P95Ms           float64 `json:"p95Ms"`
	P99Ms           float64 `json:"p99Ms"`
	MaxMs           float64 `json:"maxMs"`
	Errors          int64   `json:"errors"`
	FailedChecks    int64   `json:"failedChecks"`
	// SagaP50Ms/SagaP99Ms: checkout's saga, placed → CONFIRMED, as the
	// orders service recorded it (with -checkout-wait=live).
	SagaP50Ms      *float64 `json:"sagaP50Ms,omitempty"`
	SagaP99Ms      *float64 `json:"sagaP99Ms,omitempty"`
	Upstream       *int64   `json:"upstreamRequests,omitempty"`
	UpstreamPerReq *float64 `json:"upstreamPerRequest,omitempty"` // per gateway request
	Samples        []string `json:"errorSamples,omitempty"`
}

// comparison sets ours against the baseline and against the subgraph.
type comparison struct {
	Scenario             string   `json:"scenario"`
	OursOverNautilusRPS  *float64 `json:"oursOverNautilusRps,omitempty"`
	OursMinusDirectP50Ms *float64 `json:"oursMinusDirectP50Ms,omitempty"`
	OursOverDirectRPS    *float64 `json:"oursOverDirectRps,omitempty"`
}

// newRow summarises a measured phase; upstream is the number of requests
// the counting proxies saw during it (nil if not counted).
func newRow(scenario, target string, s *stats, upstream *int64) row {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r := row{
		Scenario: scenario, Target: target,
		Requests:        s.Requests.Load(),
		GatewayRequests: s.GatewayRequests.Load(),
		Seconds:         s.Elapsed.Seconds(),
		P50Ms:           ms(s.Latency.Quantile(50)),
		P95Ms:           ms(s.Latency.Quantile(95)),
		P99Ms:           ms(s.Latency.Quantile(99)),
		MaxMs:           ms(s.Latency.Max()),
		Errors:          s.Errors.Load(),
		FailedChecks:    s.CheckFailures.Load(),
		Samples:         s.Samples(),
		Upstream:        upstream,
	}
	if s.Saga.Count() > 0 {
		r.SagaP50Ms, r.SagaP99Ms = ptr(ms(s.Saga.Quantile(50))), ptr(ms(s.Saga.Quantile(99)))
	}
	if r.Seconds > 0 {
		r.RPS = float64(r.Requests) / r.Seconds
		r.OKRPS = float64(r.Requests-r.Errors-r.FailedChecks) / r.Seconds
	}
	if upstream != nil && r.GatewayRequests > 0 {
		per := float64(*upstream) / float64(r.GatewayRequests)
		r.UpstreamPerReq = &per
	}
	return r
}

// compare computes, per scenario, ours/nautilus and ours/direct throughput
// and ours−direct median latency, where both rows were measured.
func compare(rows []row) []comparison {
	measured := map[[2]string]row{}
	var order []string
	for _, r := range rows {
		if r.Skipped != "" || r.Requests == 0 {
			continue
		}
		if _, seen := measured[[2]string{r.Scenario, "ours"}]; !seen && r.Target == "ours" {
			order = append(order, r.Scenario)
		}
		measured[[2]string{r.Scenario, r.Target}] = r
	}
	var out []comparison
	for _, sc := range order {
		ours := measured[[2]string{sc, "ours"}]
		c := comparison{Scenario: sc}
		if n, ok := measured[[2]string{sc, "nautilus"}]; ok && n.RPS > 0 {
			c.OursOverNautilusRPS = ptr(ours.RPS / n.RPS)
		}
		if d, ok := measured[[2]string{sc, "direct"}]; ok {
			c.OursMinusDirectP50Ms = ptr(ours.P50Ms - d.P50Ms)
			if d.RPS > 0 {
				c.OursOverDirectRPS = ptr(ours.RPS / d.RPS)
			}
		}
		if c.OursOverNautilusRPS != nil || c.OursMinusDirectP50Ms != nil {
			out = append(out, c)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// writeMarkdown prints the report for people.
func writeMarkdown(w io.Writer, r report) {
	fmt.Fprintf(w, "## Shopgraph benchmark\n\n")
	fmt.Fprintf(w, "- Machine: %s, %d cores, %s, %s; load average %s at start, %s at end\n",
		r.Machine.CPU, r.Machine.Cores, r.Machine.Go, r.Machine.OS, orDash(r.Machine.LoadAvgStart), orDash(r.Machine.LoadAvgEnd))
	fmt.Fprintf(w, "- Command: `%s`\n", r.Command)
	fmt.Fprintf(w, "- Load: %s\n", r.Load)
	fmt.Fprintf(w, "- System: %s\n\n", r.System)
	if len(r.Rows) > 0 {
		fmt.Fprintln(w, "| scenario | target | requests | req/s | ok/s | p50 ms | p95 ms | p99 ms | max ms | errors | failed checks | upstream/req |")
		fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	}
	for _, x := range r.Rows {
		if x.Skipped != "" {
			fmt.Fprintf(w, "| %s | %s | %s | | | | | | | | | |\n", x.Scenario, x.Target, x.Skipped)
			continue
		}
		up := "—"
		if x.UpstreamPerReq != nil {
			up = fmt.Sprintf("%.2f", *x.UpstreamPerReq)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.0f | %s | %s | %s | %s | %d | %d | %s |\n",
			x.Scenario, x.Target, x.Requests, x.RPS, x.OKRPS, msText(x.P50Ms), msText(x.P95Ms), msText(x.P99Ms), msText(x.MaxMs),
			x.Errors, x.FailedChecks, up)
	}
	if len(r.Comparisons) > 0 {
		fmt.Fprintln(w, "\n| scenario | ours/nautilus req/s | ours−direct p50 ms | ours/direct req/s |")
		fmt.Fprintln(w, "|---|--:|--:|--:|")
		for _, c := range r.Comparisons {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", c.Scenario, ratioText(c.OursOverNautilusRPS), diffText(c.OursMinusDirectP50Ms), ratioText(c.OursOverDirectRPS))
		}
	}
	for _, x := range r.Rows {
		if x.SagaP50Ms != nil {
			fmt.Fprintf(w, "\n- %s/%s: saga placed → CONFIRMED (orders service clock) p50 %s ms, p99 %s ms\n",
				x.Scenario, x.Target, msText(*x.SagaP50Ms), msText(*x.SagaP99Ms))
		}
	}
	writeFanout(w, r.Fanout)
	var samples []string
	for _, x := range r.Fanout {
		for _, s := range x.Samples {
			samples = append(samples, fmt.Sprintf("- fanout/%s: %s", x.Target, oneLine(s)))
		}
	}
	for _, x := range r.Rows {
		for _, s := range x.Samples {
			samples = append(samples, fmt.Sprintf("- %s/%s: %s", x.Scenario, x.Target, oneLine(s)))
		}
	}
	if len(samples) > 0 {
		fmt.Fprintf(w, "\nFirst errors and failed checks:\n\n%s\n", strings.Join(samples, "\n"))
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\n%s\n", strings.Join(r.Notes, "\n"))
	}
}

func writeJSON(path string, r report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func msText(ms float64) string {
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f", ms)
	}
	return fmt.Sprintf("%.0f", ms)
}

func ratioText(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f×", *v)
}

func diffText(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%+.2f", *v)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// thisMachine describes the machine the harness runs on.
func thisMachine() machine {
	m := machine{CPU: "unknown CPU", Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, LoadAvgStart: loadAverage()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAverage is the 1, 5 and 15-minute load average, or "" where unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
