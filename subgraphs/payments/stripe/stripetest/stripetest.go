// Package stripetest runs stripe-mock (the Go tool pinned in go.mod, which
// validates every request against Stripe's OpenAPI specification and answers
// with fixtures) for tests, behind a proxy that records the calls, injects
// failures and plays a PaymentIntent's states.
package stripetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	bin     string
	binErr  error
)

// mockBinary returns the path of the stripe-mock tool binary, building it
// once (`go tool -n` prints where the go command caches it).
func mockBinary() (string, error) {
	binOnce.Do(func() {
		out, err := exec.Command("go", "tool", "-n", "stripe-mock").Output()
		if err != nil {
			binErr = fmt.Errorf("go tool -n stripe-mock: %w", err)
			return
		}
		bin = strings.TrimSpace(string(out))
	})
	return bin, binErr
}

// Start runs a stripe-mock on a free port until the test ends and returns
// its root URL.
func Start(t testing.TB) string {
	t.Helper()
	path, err := mockBinary()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(path, "-http-port", fmt.Sprint(port))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not start: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Call is one request that reached the proxy.
type Call struct {
	Method, Path, IdempotencyKey string
	Form                         url.Values
	// Status is the status the client got (0: the connection was dropped).
	Status int
}

// Failure is an answer the proxy gives instead of stripe-mock's.
type Failure struct {
	// Status 0 drops the connection.
	Status int
	// Body is the JSON answered (default: an api_error).
	Body string
}

// Proxy stands between a provider and stripe-mock.
type Proxy struct {
	// URL is what the provider should use as its API base.
	URL string

	mu       sync.Mutex
	failures []Failure
	patch    map[string]any
	calls    []Call
}

// NewProxy returns a proxy to the stripe-mock at mockURL, closed when the
// test ends.
func NewProxy(t testing.TB, mockURL string) *Proxy {
	t.Helper()
	p := &Proxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		c := Call{Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key"), Form: form}
		p.mu.Lock()
		var fail *Failure
		if len(p.failures) > 0 {
			fail = &p.failures[0]
			p.failures = p.failures[1:]
		}
		patch := p.patch
		p.mu.Unlock()
		record := func(status int) {
			c.Status = status
			p.mu.Lock()
			p.calls = append(p.calls, c)
			p.mu.Unlock()
		}
		if fail != nil {
			record(fail.Status)
			if fail.Status == 0 {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			b := fail.Body
			if b == "" {
				b = fmt.Sprintf(`{"error":{"type":"api_error","message":"injected %d"}}`, fail.Status)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(fail.Status)
			_, _ = io.WriteString(w, b)
			return
		}
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, mockURL+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			record(http.StatusBadGateway)
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode == http.StatusOK && patch != nil {
			var m map[string]any
			if json.Unmarshal(out, &m) == nil {
				for k, v := range patch {
					m[k] = v
				}
				out, _ = json.Marshal(m)
			}
		}
		record(res.StatusCode)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Fail makes the next calls fail with fs, in order.
func (p *Proxy) Fail(fs ...Failure) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures = append(p.failures, fs...)
}

// Answer merges patch into every successful answer from now on, e.g.
// {"status": "requires_capture"}.
func (p *Proxy) Answer(patch map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.patch = patch
}

// Calls returns the calls made so far.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}
