// Command bench measures Shopgraph's gateway under load, next to a plain
// nautilus/gateway over the same subgraphs and to the subgraphs themselves.
//
// By default it builds the shopgraph binary from the repository and starts
// it on loopback with -target=all, a fresh PostgreSQL database, data
// directory and Redis prefix (all removed at the end), and a second
// shopgraph with -target=gateway in front of counting proxies; it seeds the
// catalog and customers through the gateway, runs the scenarios against
// each target, and prints a Markdown report (and JSON with -json).
//
//	go run ./tools/bench -d 5s -c 8
//	go run ./tools/bench -scenarios list -targets ours,nautilus -rate 200
//	go run ./tools/bench -gateway-url http://127.0.0.1:4000/graphql -subgraph products=http://127.0.0.1:4002/graphql …
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config is what the flags say.
type config struct {
	GatewayURL    string
	Subgraphs     map[string]string
	Repo          string
	Binary        string
	DatabaseURL   string
	RedisURL      string
	AdminEmail    string
	AdminPassword string
	Seed          seedOptions
	Scenarios     []string
	Targets       []string
	Load          loadOptions
	Timeout       time.Duration
	JSON          string
	Progress      bool
	Fanout        fanoutOptions
	GatewayDedupe bool
	// CheckoutLevels: the checkout scenario at each of these concurrencies
	// instead of -c.
	CheckoutLevels []int
	// CheckoutPoll: checkout waits for CONFIRMED by polling order(id)
	// every 20 ms instead of holding an orderStatusChanged subscription.
	CheckoutPoll bool
	Flash        flashOptions
	// OneProcess: "ours" is the -target=all process's own gateway (one
	// process, as `go run .`), not a second -target=gateway process behind
	// counting proxies.
	OneProcess bool
	// CPUProfile: write a CPU profile of the -target=all process during each
	// checkout measurement to this file.
	CPUProfile string
}

var allTargets = []string{"ours", "nautilus", "direct"}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	c := config{Subgraphs: map[string]string{}}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.GatewayURL, "gateway-url", "", "measure the gateway already running here instead of starting one (give its subgraphs with -subgraph; the seeded products, customers and orders stay in it)")
	fs.Func("subgraph", "`name=URL` of a running subgraph, with -gateway-url (repeat it, or separate with commas)", func(v string) error {
		for _, kv := range strings.Split(v, ",") {
			k, u, ok := strings.Cut(kv, "=")
			if !ok || k == "" || !isHTTPURL(u) {
				return fmt.Errorf("want name=http://host:port/path, got %q", kv)
			}
			c.Subgraphs[k] = u
		}
		return nil
	})
	fs.StringVar(&c.Binary, "bin", "", "run this shopgraph binary instead of building one from -repo")
	fs.StringVar(&c.Repo, "repo", "", "the repository to build shopgraph from (default: the module root above the working directory)")
	fs.StringVar(&c.DatabaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server; the harness creates and drops its own database on it")
	fs.StringVar(&c.RedisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis; the harness deletes its prefix's keys at the end")
	fs.StringVar(&c.AdminEmail, "admin-email", "admin@bench.test", "the admin who seeds the catalog")
	fs.StringVar(&c.AdminPassword, "admin-password", "Steady-Load-2026", "that admin's password")
	fs.IntVar(&c.Seed.Products, "products", 50, "products to seed (2 variants each, stocked)")
	fs.IntVar(&c.Seed.Customers, "customers", 8, "customers to register for orders3hop")
	fs.IntVar(&c.Seed.OrdersPerCustomer, "orders-per-customer", 3, "orders each of those customers places")
	fs.IntVar(&c.Seed.Concurrency, "seed-c", 4, "concurrent requests while seeding the catalog")
	fs.Func("checkout-c", "run the checkout scenario at each of these `concurrencies` (comma-separated, e.g. 8,32,64) instead of -c", func(v string) error {
		for _, f := range splitList(v) {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				return fmt.Errorf("want positive integers, got %q", f)
			}
			c.CheckoutLevels = append(c.CheckoutLevels, n)
		}
		return nil
	})
	fs.Func("checkout-wait", "how checkout waits for CONFIRMED: `live` (an orderStatusChanged subscription over SSE, as an order-tracking screen) or poll (order(id) every 20 ms)", func(v string) error {
		switch v {
		case "live", "poll":
			c.CheckoutPoll = v == "poll"
			return nil
		}
		return fmt.Errorf("want live or poll, got %q", v)
	})
	fs.IntVar(&c.Flash.Customers, "flash-customers", 500, "flashsale: customers who each order one unit of the hot SKU at once")
	fs.IntVar(&c.Flash.Stock, "flash-stock", 50, "flashsale: units of the hot SKU in stock")
	scenarioList := fs.String("scenarios", "typename,product,list,orders3hop,checkout", "scenarios to run, comma-separated")
	targetList := fs.String("targets", strings.Join(allTargets, ","), "targets to run them against: ours, nautilus, direct (where it applies)")
	fs.IntVar(&c.Load.Concurrency, "c", 16, "closed loop: concurrent workers")
	fs.DurationVar(&c.Load.Duration, "d", 10*time.Second, "measured duration of each scenario × target")
	fs.IntVar(&c.Load.Requests, "n", 0, "if set, measure this many requests instead of -d")
	fs.Float64Var(&c.Load.Rate, "rate", 0, "open loop: requests per second (latency from the scheduled send time); 0 for closed loop")
	fs.IntVar(&c.Load.MaxInFlight, "max-in-flight", 1000, "open loop: most requests outstanding at once")
	fs.DurationVar(&c.Load.Warmup, "warmup", 2*time.Second, "warm-up before each measurement, not counted")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "timeout of each request")
	fs.BoolVar(&c.OneProcess, "one-process", false, "measure \"ours\" at the gateway of the -target=all process itself (one process, as `go run .` runs), instead of a second shopgraph -target=gateway reaching the subgraphs through counting proxies; upstream requests are then not counted")
	fs.BoolVar(&c.GatewayDedupe, "gateway-dedupe", true, "run our gateway with in-flight query deduplication; compare a run with -gateway-dedupe=false (scenario hot)")
	fs.StringVar(&c.JSON, "json", "", "also write the report as JSON to this file")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the shopgraph -target=all process during the checkout measurement to this `file` (one per level of -checkout-c: file-c8.pprof, …; other scenarios to file-<scenario>.pprof); builds it with -tags pprof (a -bin binary must have been built so)")
	fs.BoolVar(&c.Progress, "progress", true, "show a progress bar on stderr (when it is a terminal)")
	fs.IntVar(&c.Fanout.Subscribers, "subscribers", 1000, "fanout: websocket subscribers (one socket each in the harness)")
	fs.IntVar(&c.Fanout.EventsPerSec, "events-per-sec", 1000, "fanout: order status events published per second, in total")
	fs.StringVar(&c.Fanout.KeyFile, "jwt-key-file", "", "fanout with -gateway-url: the users service's signing key (PEM), to mint customers' tokens")
	fs.StringVar(&c.Fanout.Prefix, "redis-prefix", "", "fanout with -gateway-url: the system's Redis key prefix")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.Scenarios = splitList(*scenarioList)
	c.Targets = splitList(*targetList)
	var errs []error
	for _, s := range c.Scenarios {
		if _, ok := scenarioByName(s); !ok && s != "fanout" && s != "flashsale" {
			errs = append(errs, fmt.Errorf("-scenarios: unknown scenario %q", s))
		}
	}
	for _, t := range c.Targets {
		if !slices.Contains(allTargets, t) {
			errs = append(errs, fmt.Errorf("-targets: unknown target %q", t))
		}
	}
	if c.Load.Concurrency < 1 || c.Load.MaxInFlight < 1 {
		errs = append(errs, errors.New("-c and -max-in-flight must be at least 1"))
	}
	if c.Load.Requests <= 0 && c.Load.Duration <= 0 {
		errs = append(errs, errors.New("give -d or -n"))
	}
	if c.Load.Rate < 0 || c.Load.Warmup < 0 {
		errs = append(errs, errors.New("-rate and -warmup must not be negative"))
	}
	if c.Seed.Products < 1 || c.Seed.Customers < 1 || c.Seed.OrdersPerCustomer < 1 {
		errs = append(errs, errors.New("-products, -customers and -orders-per-customer must be at least 1"))
	}
	if slices.Contains(c.Scenarios, "fanout") {
		if c.Fanout.Subscribers < 1 || c.Fanout.EventsPerSec < 1 {
			errs = append(errs, errors.New("-subscribers and -events-per-sec must be at least 1"))
		}
		if c.GatewayURL != "" && c.Fanout.KeyFile == "" {
			errs = append(errs, errors.New("fanout with -gateway-url needs -jwt-key-file"))
		}
	}
	if c.GatewayURL != "" && !isHTTPURL(c.GatewayURL) {
		errs = append(errs, fmt.Errorf("-gateway-url %q is not an http(s) URL", c.GatewayURL))
	}
	if c.GatewayURL == "" && len(c.Subgraphs) > 0 {
		errs = append(errs, errors.New("-subgraph needs -gateway-url"))
	}
	if c.GatewayURL != "" && len(c.Subgraphs) == 0 {
		errs = append(errs, errors.New("-gateway-url needs the subgraphs' URLs (-subgraph name=URL) for the baseline"))
	}
	if c.Repo == "" && c.GatewayURL == "" && c.Binary == "" {
		var err error
		if c.Repo, err = moduleRoot(); err != nil {
			errs = append(errs, err)
		}
	}
	c.Seed.AdminEmail, c.Seed.AdminPassword = c.AdminEmail, c.AdminPassword
	c.Seed.CheckoutCustomers = c.Load.Concurrency
	for _, n := range c.CheckoutLevels {
		c.Seed.CheckoutCustomers = max(c.Seed.CheckoutCustomers, n)
	}
	if c.CPUProfile != "" && c.GatewayURL != "" {
		errs = append(errs, errors.New("-cpuprofile needs the harness to start the system (no -gateway-url)"))
	}
	if c.Flash.Stock < 1 || c.Flash.Customers < c.Flash.Stock {
		errs = append(errs, errors.New("-flash-stock must be at least 1 and at most -flash-customers"))
	}
	c.Fanout.Duration, c.Fanout.Drain, c.Fanout.RedisURL, c.Fanout.Channel = c.Load.Duration, 5*time.Second, c.RedisURL, "order-status"
	return c, errors.Join(errs...)
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// moduleRoot is the nearest directory at or above the working directory
// that holds a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: give -repo")
		}
		dir = parent
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	rep := report{Machine: thisMachine(), Command: commandLine(args), Load: describeLoad(cfg)}
	fanout := slices.Contains(cfg.Scenarios, "fanout")
	if fanout {
		if err := checkFanoutFDs(cfg.Fanout.Subscribers, fdLimit()); err != nil {
			return err
		}
	}

	// One client for all the load: enough idle connections per host that
	// no worker opens a new one per request.
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0, // no limit
		MaxIdleConnsPerHost: max(cfg.Load.Concurrency, cfg.Load.MaxInFlight) + 16,
		IdleConnTimeout:     90 * time.Second,
	}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport, Timeout: cfg.Timeout}

	// The system: started here, or given.
	subgraphs, gatewayURL := cfg.Subgraphs, cfg.GatewayURL
	var sys *system
	if gatewayURL == "" {
		sys, err = startSystem(ctx, cfg, stderr)
		if sys != nil {
			defer sys.Close()
		}
		if err != nil {
			return err
		}
		subgraphs = sys.Subgraphs
	}

	// The counting proxies in front of every subgraph; a gateway may fetch
	// from one with many requests at once.
	proxyTransport := transport.Clone()
	proxyTransport.MaxIdleConnsPerHost = 1024
	defer proxyTransport.CloseIdleConnections()
	proxies := map[string]*countingProxy{}
	var names []string
	for name := range subgraphs {
		names = append(names, name)
	}
	slices.Sort(names)
	upstream := map[string]string{}
	var proxyURLs []string
	for _, name := range names {
		p, err := startProxy(name, subgraphs[name], proxyTransport)
		if err != nil {
			return err
		}
		defer p.Close()
		proxies[name] = p
		upstream[name] = p.URL
		proxyURLs = append(proxyURLs, p.URL)
	}
	oursCounted := false
	switch {
	case sys != nil && cfg.OneProcess:
		gatewayURL = sys.GatewayURL
		rep.System = fmt.Sprintf("shopgraph (%s) -target=all on loopback (%s); \"ours\" is its own gateway, in the same process as the subgraphs (as `go run .` runs; upstream requests not counted); \"nautilus\" a plain nautilus/gateway v0.5.4 in the harness and \"direct\" the subgraph, both through counting reverse proxies",
			sys.Build, strings.Join(sys.Order, ", "))
	case sys != nil:
		if gatewayURL, err = sys.startGateway(ctx, upstream); err != nil {
			return err
		}
		oursCounted = true
		rep.System = fmt.Sprintf("shopgraph (%s) -target=all on loopback (%s); \"ours\" is a second shopgraph -target=gateway -gateway-dedupe=%v and \"nautilus\" a plain nautilus/gateway v0.5.4 in the harness, both reaching the subgraphs through counting reverse proxies; \"direct\" goes to the subgraph through its proxy too",
			sys.Build, strings.Join(sys.Order, ", "), cfg.GatewayDedupe)
	default:
		rep.System = fmt.Sprintf("running system at %s (upstream requests of ours not counted); \"nautilus\" is a plain nautilus/gateway v0.5.4 in the harness over %s through counting proxies", gatewayURL, strings.Join(names, ", "))
	}
	if fanout {
		rep.System += "; for fanout, \"ours\" is a further shopgraph -target=gateway straight to the subgraphs and \"direct\" the orders subgraph's own websocket (no proxy)"
	}
	targets := map[string]string{"ours": gatewayURL}
	if slices.Contains(cfg.Targets, "nautilus") {
		b, err := startBaseline(ctx, proxyURLs)
		if err != nil {
			return err
		}
		defer b.Close()
		targets["nautilus"] = b.URL
	}

	data := &seedData{}
	if len(cfg.Scenarios) > 1 || !fanout {
		fmt.Fprintln(stderr, "bench: seeding through", gatewayURL)
		if data, err = seed(ctx, hc, gatewayURL, cfg.Seed, stderr); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}

	m := &measurer{cfg: cfg, data: data, hc: hc, targets: targets, proxies: proxies, oursCounted: oursCounted,
		bar: newProgress(stderr, cfg.Progress), log: stderr}
	if sys != nil {
		m.pprofURL = sys.PprofURL
		m.metricsURL = sys.Subgraphs["orders"]
	}
	rep.Rows = m.all(ctx)
	if fanout && ctx.Err() == nil {
		rep.Fanout, err = runFanoutTargets(ctx, cfg, sys, gatewayURL, subgraphs, stderr)
		if err != nil {
			return err
		}
	}
	if slices.Contains(cfg.Scenarios, "flashsale") && ctx.Err() == nil {
		fr, err := flashSale(ctx, hc, gatewayURL, data, cfg, stderr)
		if err != nil {
			return fmt.Errorf("flashsale: %w", err)
		}
		rep.Notes = append(rep.Notes, fr.lines()...)
	}
	if sys != nil {
		if err := sys.Exited(); err != nil {
			return err
		}
	}
	rep.Comparisons = compare(rep.Rows)
	rep.Machine.LoadAvgEnd = loadAverage()
	rep.Notes = append(notes(cfg), rep.Notes...)
	if ctx.Err() != nil {
		rep.Notes = append(rep.Notes, "- Interrupted: only the measurements completed before are shown.")
	}
	writeMarkdown(stdout, rep)
	if cfg.JSON != "" {
		if err := writeJSON(cfg.JSON, rep); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return nil
}

// measurer runs the scenarios against the targets.
type measurer struct {
	cfg         config
	data        *seedData
	hc          *http.Client
	targets     map[string]string // ours and nautilus
	proxies     map[string]*countingProxy
	oursCounted bool // ours reaches the subgraphs through the proxies
	bar         *progress
	log         io.Writer
	pprofURL    string // with -cpuprofile: the system's /debug/pprof/
	// metricsURL: a URL the -target=all process serves (its /metrics tells
	// how busy the saga's consumers were); "" with -gateway-url.
	metricsURL string
}

// all measures every chosen scenario against every target it applies to,
// in order, until ctx ends.
func (m *measurer) all(ctx context.Context) []row {
	var rows []row
	for _, sc := range scenarios {
		if !slices.Contains(m.cfg.Scenarios, sc.Name) {
			continue
		}
		for _, target := range allTargets {
			if ctx.Err() != nil {
				return rows // interrupted: only what was measured in full
			}
			if !slices.Contains(m.cfg.Targets, target) {
				continue
			}
			url := m.targets[target]
			if target == "direct" {
				if sc.Direct == "" || m.proxies[sc.Direct] == nil {
					continue
				}
				url = m.proxies[sc.Direct].URL
			}
			switch {
			case sc.NeedsOrders && !m.data.Orders:
				rows = append(rows, row{Scenario: sc.Name, Target: target, Skipped: "skipped: no orders subgraph"})
			case sc.flow != nil && m.cfg.Load.Rate > 0:
				rows = append(rows, row{Scenario: sc.Name, Target: target, Skipped: "skipped: closed loop only (-rate)"})
			case sc.Name == "checkout" && len(m.cfg.CheckoutLevels) > 0:
				for _, n := range m.cfg.CheckoutLevels {
					if r, ok := m.oneAt(ctx, sc, target, url, n); ok {
						r.Scenario = fmt.Sprintf("checkout -c %d", n)
						rows = append(rows, r)
					}
				}
			default:
				if r, ok := m.one(ctx, sc, target, url); ok {
					rows = append(rows, r)
				}
			}
		}
	}
	return rows
}

// one warms up, then measures sc against target; ok is false if ctx ended.
func (m *measurer) one(ctx context.Context, sc scenario, target, url string) (row, bool) {
	return m.oneAt(ctx, sc, target, url, m.cfg.Load.Concurrency)
}

// oneAt is one with concurrency workers.
func (m *measurer) oneAt(ctx context.Context, sc scenario, target, url string, concurrency int) (row, bool) {
	opts := m.cfg.Load
	opts.Concurrency = concurrency
	if sc.flow != nil {
		opts.Concurrency = min(opts.Concurrency, len(m.data.Checkout))
	}
	op := sc.operation(m.data, m.hc, url, flowOptions{Poll: m.cfg.CheckoutPoll})
	if opts.Warmup > 0 {
		m.bar.label = sc.Name + "/" + target + " warm-up"
		runPhase(ctx, opts, opts.Warmup, 0, op, m.bar)
	}
	m.bar.label = sc.Name + "/" + target
	before := m.upstream()
	profiled := m.profile(ctx, sc, target, concurrency)
	handled := m.handling(ctx, sc, target)
	s := runPhase(ctx, opts, opts.Duration, opts.Requests, op, m.bar)
	handled(s.Elapsed)
	if err := profiled(); err != nil {
		fmt.Fprintln(m.log, "bench: cpu profile:", err)
	}
	if ctx.Err() != nil {
		return row{}, false
	}
	var up *int64
	if target != "ours" || m.oursCounted {
		up = ptr(m.upstream() - before)
	}
	r := newRow(sc.Name, target, s, up)
	saga := ""
	if r.SagaP50Ms != nil {
		saga = fmt.Sprintf("  saga p50 %s ms", msText(*r.SagaP50Ms))
	}
	fmt.Fprintf(m.log, "bench: %-22s %8.0f req/s  p50 %s ms  p99 %s ms  errors %d  failed checks %d%s\n",
		sc.Name+"/"+target, r.RPS, msText(r.P50Ms), msText(r.P99Ms), r.Errors, r.FailedChecks, saga)
	return r, true
}

// handling starts measuring how busy the saga's consumers are during a
// checkout phase against ours; the returned func logs it.
func (m *measurer) handling(ctx context.Context, sc scenario, target string) func(time.Duration) {
	if m.metricsURL == "" || sc.flow == nil || target != "ours" {
		return func(time.Duration) {}
	}
	before, err := scrapeHandling(ctx, m.hc, m.metricsURL)
	if err != nil {
		fmt.Fprintln(m.log, "bench: consumer metrics:", err)
		return func(time.Duration) {}
	}
	return func(elapsed time.Duration) {
		after, err := scrapeHandling(ctx, m.hc, m.metricsURL)
		if err != nil {
			fmt.Fprintln(m.log, "bench: consumer metrics:", err)
			return
		}
		for _, l := range handlingReport(before, after, elapsed) {
			fmt.Fprintln(m.log, "bench:   consumer", l)
		}
	}
}

// upstream is the number of requests the proxies have forwarded so far.
func (m *measurer) upstream() int64 {
	var n int64
	for _, p := range m.proxies {
		n += p.Count()
	}
	return n
}

func describeLoad(cfg config) string {
	l := cfg.Load
	var b strings.Builder
	if slices.Contains(cfg.Scenarios, "fanout") {
		fmt.Fprintf(&b, "fanout: %d websocket subscribers, %d events/s for %s per target; ", cfg.Fanout.Subscribers, cfg.Fanout.EventsPerSec, l.Duration)
		if len(cfg.Scenarios) == 1 {
			return strings.TrimSuffix(b.String(), "; ")
		}
	}
	if l.Rate > 0 {
		fmt.Fprintf(&b, "open loop at %g req/s (latency from the scheduled send time, at most %d in flight)", l.Rate, l.MaxInFlight)
	} else {
		fmt.Fprintf(&b, "closed loop, %d concurrent", l.Concurrency)
	}
	if l.Requests > 0 {
		fmt.Fprintf(&b, ", %d requests", l.Requests)
	} else {
		fmt.Fprintf(&b, ", %s", l.Duration)
	}
	fmt.Fprintf(&b, " per scenario × target after a %s warm-up; %d products, %d customers × %d orders",
		l.Warmup, cfg.Seed.Products, cfg.Seed.Customers, cfg.Seed.OrdersPerCustomer)
	return b.String()
}

func notes(cfg config) []string {
	var out []string
	http := false
	for _, name := range cfg.Scenarios {
		if sc, ok := scenarioByName(name); ok {
			http = true
			out = append(out, fmt.Sprintf("- %s: %s", sc.Name, sc.Describe))
		}
	}
	if !http {
		return out
	}
	out = append(out,
		"- checkout: one request = one order; ok/s = orders CONFIRMED per second; latency = placeOrder sent → CONFIRMED seen; upstream/req is per gateway request (addToCart, placeOrder, polls).",
		"- ok/s: requests with neither an error nor a failed check, per second.",
		"- upstream/req: requests the subgraphs received per request to the target, counted by the proxies.",
		"- errors: transport errors, HTTP errors and responses with GraphQL errors; failed checks: answers with the wrong shape or values.",
		"- Everything (shopgraph, the harness with its load, proxies and the nautilus baseline) shares the machine's cores.")
	return out
}

// commandLine is how the harness was run, quoted for a shell.
func commandLine(args []string) string {
	parts := []string{"go run ./tools/bench"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$`\\*?&|;<>()") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// profile starts a CPU profile of the system for the measurement about to
// run against ours, with -cpuprofile, and returns the function that waits
// for it and writes it: checkout's to the -cpuprofile file (file-c8.pprof,
// … with several -checkout-c levels), another scenario's to
// file-<scenario>.pprof.
func (m *measurer) profile(ctx context.Context, sc scenario, target string, concurrency int) (wait func() error) {
	if m.pprofURL == "" || target != "ours" || m.cfg.Load.Requests > 0 {
		return func() error { return nil }
	}
	path := m.cfg.CPUProfile
	ext := filepath.Ext(path)
	switch {
	case sc.Name != "checkout":
		path = fmt.Sprintf("%s-%s%s", strings.TrimSuffix(path, ext), sc.Name, ext)
	case len(m.cfg.CheckoutLevels) > 1:
		path = fmt.Sprintf("%s-c%d%s", strings.TrimSuffix(path, ext), concurrency, ext)
	}
	secs := max(1, int(m.cfg.Load.Duration.Round(time.Second)/time.Second))
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%sprofile?seconds=%d", m.pprofURL, secs), nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", req.URL, resp.Status)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, body, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(m.log, "bench: CPU profile of %s -c %d written to %s\n", sc.Name, concurrency, path)
			return nil
		}()
	}()
	return func() error { return <-done }
}
