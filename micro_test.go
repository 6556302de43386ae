package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/httpserver"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// freePorts returns n ports that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// microSystem is shopgraph in microservices mode: one run per target, each
// on its own port, HTTPS between all of them, service tokens required.
type microSystem struct {
	*shop
	urls    map[string]string // service → https GraphQL endpoint
	tls     httpserver.TLSFiles
	secrets map[string]string // OAuth2 client → secret
}

func startMicro(t *testing.T) *microSystem {
	t.Helper()
	st := newStores(t)
	dir := t.TempDir()
	ca, caKey, err := httpserver.NewCA("e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := httpserver.IssueCert(ca, caKey, []string{"localhost", "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	files := httpserver.TLSFiles{
		CertFile: writeFile(t, filepath.Join(dir, "cert.pem"), certPEM),
		KeyFile:  writeFile(t, filepath.Join(dir, "key.pem"), keyPEM),
		CAFile:   writeFile(t, filepath.Join(dir, "ca.pem"), httpserver.CertPEM(ca)),
	}
	jwtKey, err := auth.GenerateEd25519PEM()
	if err != nil {
		t.Fatal(err)
	}
	jwtKeyFile := writeFile(t, filepath.Join(dir, "jwt.pem"), jwtKey)

	targets := []string{"users", "products", "inventory", "payments", "shipping", "orders", "notifications", "gateway"}
	ports := freePorts(t, len(targets))
	m := &microSystem{urls: map[string]string{}, tls: files, secrets: map[string]string{}}
	var clients []map[string]any
	for _, name := range targets {
		m.secrets[name] = "secret-" + name + "-" + testenv.ID()
		c := map[string]any{"client_id": name, "client_secret_sha256": []string{auth.HashSecret(m.secrets[name])}, "audiences": []string{"products", "shipping"}}
		switch name {
		case "gateway":
			c["audiences"] = []string{"users", "products", "inventory", "payments", "shipping", "orders", "notifications"}
		case "orders", "inventory":
			c["scopes"] = []string{auth.ScopeVariantsRead}
		}
		clients = append(clients, c)
	}
	clientsJSON, _ := json.Marshal(map[string]any{"clients": clients})
	clientsFile := writeFile(t, filepath.Join(dir, "clients.json"), clientsJSON)

	u, err := url.Parse(testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + st.dbName
	common := []string{
		"-host=127.0.0.1", "-database-url=" + u.String(), "-redis-url=" + testenv.RedisURL(), "-redis-prefix=" + st.prefix,
		"-log-level=error", "-register-limit-address=100000", "-shipping-step-interval=0",
		"-jwt-private-key-file=" + jwtKeyFile, "-startup-timeout=2m",
		"-tls-cert-file=" + files.CertFile, "-tls-key-file=" + files.KeyFile, "-tls-ca-file=" + files.CAFile,
		"-require-tls", "-require-service-token", "-hsts-max-age=24h",
	}
	for i, name := range targets {
		common = append(common, fmt.Sprintf("-%s-port=%d", name, ports[i]))
		if name != "gateway" {
			m.urls[name] = fmt.Sprintf("https://127.0.0.1:%d/graphql", ports[i])
			common = append(common, "-"+name+"-url="+m.urls[name])
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	gatewayURL := make(chan string, 1)
	for _, name := range targets {
		args := append([]string{}, common...)
		args = append(args, "-target="+name, "-data-dir="+filepath.Join(st.dataDir, name),
			"-oauth-client-secret="+m.secrets[name])
		if name == "users" {
			args = append(args, "-oauth-clients-file="+clientsFile, "-admin-email="+adminEmail, "-admin-password="+adminPassword)
		}
		pr, pw := io.Pipe()
		wg.Go(func() {
			err := run(ctx, args, func(string) string { return "" }, pw)
			_ = pw.CloseWithError(fmt.Errorf("%s stopped: %v", name, err))
		})
		go func() {
			lines := bufio.NewScanner(pr)
			for lines.Scan() {
				if rest, ok := strings.CutPrefix(lines.Text(), "GraphQL:"); ok {
					gatewayURL <- strings.TrimSpace(rest)
				}
			}
			if name == "gateway" {
				close(gatewayURL)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	tr, err := files.Transport()
	if err != nil {
		t.Fatal(err)
	}
	sys := &system{t: t, HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	select {
	case sys.URL = <-gatewayURL:
	case <-time.After(3 * time.Minute):
		t.Fatal("the gateway did not start in 3 minutes")
	}
	if sys.URL == "" {
		t.Fatal("the gateway stopped at start-up")
	}
	sys.Base = strings.TrimSuffix(sys.URL, "/graphql")
	m.shop = &shop{system: sys, admin: sys.client(adminToken(t, sys))}
	return m
}

// direct posts query to a service's endpoint with the given headers.
func (m *microSystem) direct(t *testing.T, hc *http.Client, endpoint string, headers map[string]string, query string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	if err != nil {
		return gqlResponse{Status: -1, Raw: err.Error()}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := gqlResponse{Status: res.StatusCode, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out)
	return out
}

// TestMicroservicesOverTLSWithServiceTokens runs every target on its own
// port with HTTPS and service tokens required: a checkout works through the
// gateway, and direct calls to a service without the right service token, or
// without TLS, are refused and change nothing.
func TestMicroservicesOverTLSWithServiceTokens(t *testing.T) {
	t.Parallel()
	m := startMicro(t)
	skus := m.stock(t, "Lamp", 5, 2500)
	c := m.customer(t)
	id := checkout(t, c, "tok_visa", map[string]int{skus[0]: 2})
	order := waitStatus(t, c, id, "CONFIRMED")
	if num(order, "total", "amount") < 5000 || str(order, "payment", "status") == "" {
		t.Fatalf("order %v", order)
	}
	if onHand, reserved, _ := m.level(t, skus[0]); onHand != 3 || reserved != 0 {
		t.Fatalf("stock after checkout: onHand %d reserved %d", onHand, reserved)
	}

	hc := m.HTTP
	tokens := func(client, aud string, scopes ...string) string {
		creds := &auth.ServiceCredentials{TokenURL: strings.TrimSuffix(m.urls["users"], "/graphql") + "/oauth/token",
			ClientID: client, Secret: m.secrets[client], HTTP: hc}
		tok, err := creds.TokenSource(aud, scopes...).Token()
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	const adjust = `mutation($s: String!) { adjustStock(sku: $s, delta: 100, reason: "direct") { onHand } }`
	vars := map[string]any{"s": skus[0]}
	inventory := m.urls["inventory"]
	for _, tt := range []struct {
		name    string
		hc      *http.Client
		url     string
		headers map[string]string
		status  int
		code    string
	}{
		{"no token", hc, inventory, nil, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"a customer's token", hc, inventory, bearer(c.token), http.StatusForbidden, "FORBIDDEN"},
		{"an admin's token, not through the gateway", hc, inventory, bearer(m.admin.token), http.StatusForbidden, "FORBIDDEN"},
		{"a token minted for another service", hc, inventory, map[string]string{"Authorization": "Bearer " + tokens("gateway", "shipping"),
			auth.ForwardedAuthorization: "Bearer " + m.admin.token}, http.StatusForbidden, "FORBIDDEN"},
		{"plain http to the TLS listener", http.DefaultClient, strings.Replace(inventory, "https://", "http://", 1),
			map[string]string{"Authorization": "Bearer " + tokens("gateway", "inventory"), auth.ForwardedAuthorization: "Bearer " + m.admin.token}, http.StatusBadRequest, ""},
	} {
		r := m.direct(t, tt.hc, tt.url, tt.headers, adjust, vars)
		if r.Status != tt.status || r.Code() != tt.code {
			t.Errorf("%s: status %d code %q (%s), want %d %q", tt.name, r.Status, r.Code(), r.Raw, tt.status, tt.code)
		}
	}
	// A service token is its service's own credential, not a user's: the
	// public gateway refuses it.
	if r := m.direct(t, hc, m.URL, bearer(tokens("orders", "products", auth.ScopeVariantsRead)), `{ me { id } }`, nil); r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
		t.Errorf("a service token at the gateway: status %d %s", r.Status, r.Raw)
	}
	if onHand, _, _ := m.level(t, skus[0]); onHand != 3 {
		t.Fatalf("a refused call changed the stock: onHand %d", onHand)
	}

	// variantsBySku: for services with scope variants:read only, and not in
	// the public schema.
	const bySKU = `query($s: [String!]!) { variantsBySku(skus: $s) { sku } }`
	sv := map[string]any{"s": []string{skus[0]}}
	if r := m.admin.do(bySKU, sv); r.Code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("variantsBySku through the gateway: %s", r.Raw)
	}
	if r := m.direct(t, hc, m.urls["products"], bearer(tokens("shipping", "products")), bySKU, sv); r.Code() != "FORBIDDEN" {
		t.Errorf("variantsBySku with a service token without the scope: %s", r.Raw)
	}
	if r := m.direct(t, hc, m.urls["products"], bearer(tokens("orders", "products", auth.ScopeVariantsRead)), bySKU, sv); str(r.Data, "variantsBySku", 0, "sku") != skus[0] {
		t.Errorf("variantsBySku with the orders service's token: %s", r.Raw)
	}

	// A client that does not trust the services' CA is refused; the gateway
	// sends HSTS over HTTPS.
	if _, err := http.Get(m.Base + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate accepted: %v", err)
	}
	res, err := hc.Get(m.Base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 2 || !strings.HasPrefix(res.Header.Get("Strict-Transport-Security"), "max-age=86400") {
		t.Errorf("gateway: %s, HSTS %q", res.Proto, res.Header.Get("Strict-Transport-Security"))
	}

	// A tracking screen's subscription, over wss through the gateway, which
	// holds the upstream websocket to orders with its service token: the
	// current status, then the cancellation, then complete.
	feed := subscribeWS(t, m.system, "graphql-transport-ws", c.token, watchOrder, map[string]any{"id": id})
	sse := subscribeSSE(t, m.system, c.token, watchOrder, map[string]any{"id": id})
	for name, f := range map[string]*statusFeed{"websocket": feed, "SSE": sse} {
		select {
		case u := <-f.updates:
			if u["status"] != "CONFIRMED" {
				t.Fatalf("%s: first update %v, want the current status CONFIRMED", name, u)
			}
		case code := <-f.errs:
			t.Fatalf("%s: subscription refused: %s", name, code)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no update in 30 s", name)
		}
	}
	c.must(`mutation($id: ID!) { cancelOrder(id: $id, reason: "changed my mind") { status } }`, map[string]any{"id": id})
	for name, f := range map[string]*statusFeed{"websocket": feed, "SSE": sse} {
		select {
		case u := <-f.updates:
			if u["status"] != "CANCELLED" {
				t.Fatalf("%s: update %v, want CANCELLED", name, u)
			}
		case code := <-f.errs:
			t.Fatalf("%s: %s", name, code)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no CANCELLED in 30 s", name)
		}
		select {
		case <-f.completed:
		case <-time.After(30 * time.Second):
			t.Errorf("%s: no complete after the final status", name)
		}
	}

	// Every target serves its own /metrics (open, like /healthz): the
	// orders service its orders and the live deliveries, inventory its
	// sweeps, the gateway its operations and upstream calls.
	base := func(target string) string { return strings.TrimSuffix(m.urls[target], "/graphql") }
	orders := scrape(t, hc, base("orders"))
	if n, _ := orders.get("shopgraph_orders", map[string]string{"status": "CANCELLED"}); n != 1 {
		t.Errorf("orders target: shopgraph_orders{status=CANCELLED} = %g, want 1%s", n, orders.dump("shopgraph_orders"))
	}
	if n, _ := orders.get("shopgraph_order_status_fanout_delay_seconds", map[string]string{"service": "orders"}); n < 1 {
		t.Errorf("orders target: no fan-out delay observed for the CANCELLED update")
	}
	if _, ok := orders.get("graphql_server_request_duration_seconds", map[string]string{"service": "gateway"}); ok {
		t.Errorf("orders target exposes the gateway's operations")
	}
	if n, _ := scrape(t, hc, base("inventory")).get("shopgraph_reservation_sweeps_total", map[string]string{"service": "inventory", "result": "ok"}); n < 1 {
		t.Errorf("inventory target: no reservation sweep counted")
	}
	gw := scrape(t, hc, m.Base)
	if n, _ := gw.get("graphql_server_request_duration_seconds", map[string]string{"service": "gateway", "error_type": "GRAPHQL_VALIDATION_FAILED"}); n != 1 {
		t.Errorf("gateway target: GRAPHQL_VALIDATION_FAILED operations = %g, want variantsBySku's 1%s", n, gw.dump("graphql_server_request_duration_seconds"))
	}
	if n, _ := gw.get("http_client_request_duration_seconds", map[string]string{"service": "gateway", "peer_service": "orders"}); n < 1 {
		t.Errorf("gateway target: no upstream call to orders counted%s", gw.dump("http_client_request_duration_seconds"))
	}
}
