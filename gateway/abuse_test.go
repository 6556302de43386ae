package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/gateway"
)

// labelledServer serves the gateway's handler with every request's
// goroutines, and those they start, labelled with the test's name, and
// counts its open connections: a test can tell that nothing it caused is
// left running, whatever the tests in parallel do.
type labelledServer struct {
	*httptest.Server
	label string
	open  atomic.Int64
}

func newLabelledServer(t *testing.T, h http.Handler) *labelledServer {
	t.Helper()
	s := &labelledServer{label: t.Name()}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pprof.Do(r.Context(), pprof.Labels("test", s.label), func(ctx context.Context) {
			h.ServeHTTP(w, r.WithContext(ctx))
		})
	}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			s.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.open.Add(-1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// goroutines counts the goroutines labelled with the server's test name.
func (s *labelledServer) goroutines(t *testing.T) int {
	t.Helper()
	return s.goroutinesIn(t, "")
}

// goroutinesIn counts the goroutines labelled with the server's test name
// whose stack mentions fn.
func (s *labelledServer) goroutinesIn(t *testing.T, fn string) int {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`"test":%q`, s.label)
	n := 0
	for _, block := range strings.Split(buf.String(), "\n\n") {
		lines := strings.SplitN(block, "\n", 3)
		if len(lines) < 2 || !strings.Contains(lines[1], want) || !strings.Contains(block, fn) {
			continue
		}
		count, _, _ := strings.Cut(lines[0], " @ ")
		k, err := strconv.Atoi(count)
		if err != nil {
			t.Fatalf("goroutine profile: %q", lines[0])
		}
		n += k
	}
	return n
}

// settles fails the test unless, within wait, no goroutine of the server's
// requests is left and every connection is closed.
func (s *labelledServer) settles(t *testing.T, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		g, c := s.goroutines(t), s.open.Load()
		if g == 0 && c == 0 {
			return
		}
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("after %v: %d goroutines of the requests and %d connections still open\n%.4000s", wait, g, c, buf.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// postWithin posts a GraphQL query, one connection per request, and fails
// the test if the answer takes longer than deadline. It may be called from
// any goroutine.
func postWithin(t *testing.T, url, query string, deadline time.Duration) result {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		t.Errorf("no answer within %v: %v", deadline, err)
		return result{}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Errorf("read the answer (%v after the request): %v", time.Since(start), err)
		return result{}
	}
	out := result{Status: res.StatusCode, Header: res.Header, Raw: string(raw)}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Errorf("response is not JSON: %v: %.300s", err, raw)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(raw, &keys)
	_, out.HasData = keys["data"]
	return out
}

// fragmentChain is `query { ...F0 } fragment F0 on Query { __typename
// ...F1 } … fragment F<n> on Query { __typename }`; with twice, each
// fragment spreads the next twice instead.
func fragmentChain(n int, twice bool) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range n {
		if twice {
			fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
		} else {
			fmt.Fprintf(&b, "fragment F%d on Query { __typename ...F%d }\n", i, i+1)
		}
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", n)
	return b.String()
}

// nodeChain is a chain of n fragments on Product under node(id:), each
// selecting __typename: nautilus plans a step per fragment.
func nodeChain(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "query { node(id: %q) { id ...F0 } }\n", productID("p1"))
	for i := range n {
		fmt.Fprintf(&b, "fragment F%d on Product { __typename ...F%d }\n", i, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Product { name }\n", n)
	return b.String()
}

// TestAbuseAnswersQuicklyAndLeavesNothingRunning sends the documents that
// used to hang the gateway or keep it busy for seconds (issue 8, items 1 to
// 3), many at once, each with a deadline, and checks that every one is
// answered — with data when within the limits, else a clear error — and
// that the goroutines and connections they used are all gone afterwards.
func TestAbuseAnswersQuicklyAndLeavesNothingRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := newLabelledServer(t, e.gw.Handler())
	tests := []struct {
		name, query string
		code        string // "" for data
		data        string
		message     string
	}{
		// Item 1: 2.2 KB, hung forever in nautilus's planner.
		{name: "fragment chain of 50", query: fragmentChain(50, false), code: "MAX_FIELDS_EXCEEDED", message: `51 fields named "__typename"`},
		{name: "fragment chain of 45", query: fragmentChain(45, false), code: "GRAPHQL_VALIDATION_FAILED", message: "fetches from the services"},
		{name: "fragment chain under node", query: nodeChain(45), code: "GRAPHQL_VALIDATION_FAILED", message: "fetches from the services"},
		{name: "short fragment chain", query: fragmentChain(5, false), data: `{"__typename":"Query"}`},
		{name: "short chain under node", query: nodeChain(5), data: `{"node":{"id":"` + productID("p1") + `","__typename":"Product","name":"Phone"}}`},
		// Item 2: 825 bytes, 8-20 s of planning.
		{name: "fragment fan-out of 20", query: fragmentChain(20, true), code: "MAX_FIELDS_EXCEEDED"},
		{name: "fragment fan-out of 22", query: fragmentChain(22, true), code: "MAX_FIELDS_EXCEEDED"},
		// Item 3: 32 KB, 2-5 s of validation.
		{name: "2900 duplicate fields", query: "{" + strings.Repeat(" __typename", 2900) + " }", code: "MAX_FIELDS_EXCEEDED", message: "at most 1500 are allowed"},
		{name: "1000 duplicate fields", query: "{" + strings.Repeat(" __typename", 1000) + " }", code: "MAX_FIELDS_EXCEEDED", message: "at most 50 fields of one name"},
		{name: "tokens", query: "{" + strings.Repeat(" x{y}", 2600) + " }", code: "QUERY_TOO_LARGE", message: "more than 10000 tokens"},
		{name: "too long", query: "{" + strings.Repeat(" __typename", 10000) + " }", code: "QUERY_TOO_LARGE"},
	}
	const copies = 10
	var wg sync.WaitGroup
	for _, tt := range tests {
		for range copies {
			wg.Go(func() {
				res := postWithin(t, s.URL, tt.query, 3*time.Second)
				if tt.code == "" {
					if len(res.Errors) > 0 || string(res.Data) != tt.data {
						t.Errorf("%s: %.500s", tt.name, res.Raw)
					}
					return
				}
				if res.code(0) != tt.code || res.HasData || !strings.Contains(res.Errors[0].Message, tt.message) {
					t.Errorf("%s: want %s saying %q, got %.500s", tt.name, tt.code, tt.message, res.Raw)
				}
			})
		}
	}
	wg.Wait()
	s.settles(t, 2*time.Second)
}

// TestClientGoneStopsTheRequest: a client that gives up leaves nothing
// running at the gateway: the call to the service is cancelled.
func TestClientGoneStopsTheRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := newLabelledServer(t, e.gw.Handler())
	body, _ := json.Marshal(map[string]any{"query": `{ products { name } slow(ms: 20000) }`})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if res, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req); err == nil {
		res.Body.Close()
		t.Fatal("answered before the service did")
	}
	s.settles(t, 2*time.Second)
}

// TestSubgraphLimits: a subgraph reached directly, without the gateway,
// refuses the same documents quickly (10,000 duplicate fields took 17.5 s).
func TestSubgraphLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, query string
		status      int
		code        string
	}{
		{"10000 duplicate fields", "{" + strings.Repeat(" __typename", 10000) + " }", http.StatusOK, "MAX_FIELDS_EXCEEDED"},
		{"fragment fan-out", fragmentChain(22, true), http.StatusOK, "MAX_FIELDS_EXCEEDED"},
		{"body too large", "{" + strings.Repeat(" ", 5<<20) + "__typename }", http.StatusRequestEntityTooLarge, "QUERY_TOO_LARGE"},
		{"many distinct aliases pass", "{" + aliases(2000) + " }", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := postWithin(t, e.catalog.URL[:len(e.catalog.URL)-len("/graphql")], tt.query, 2*time.Second)
			if res.Status != tt.status {
				t.Errorf("status %d, want %d: %.300s", res.Status, tt.status, res.Raw)
			}
			if tt.code == "" {
				if len(res.Errors) > 0 {
					t.Errorf("refused: %.300s", res.Raw)
				}
				return
			}
			if res.code(0) != tt.code {
				t.Errorf("want %s, got %.300s", tt.code, res.Raw)
			}
		})
	}
}

// aliases is n aliased __typename fields, a0 to a<n-1>: the shape of the
// gateway's batched node fetches.
func aliases(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " a%d: __typename", i)
	}
	return b.String()
}

// TestRequestTimeoutStopsTheOperation: an operation is stopped at
// RequestTimeout, with an error that says so, and leaves nothing running.
func TestRequestTimeoutStopsTheOperation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *gateway.Config) { c.RequestTimeout = 300 * time.Millisecond })
	s := newLabelledServer(t, e.gw.Handler())
	start := time.Now()
	res := postWithin(t, s.URL, `{ slow(ms: 20000) }`, 3*time.Second)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %v", took)
	}
	codes := map[any]bool{}
	for i := range res.Errors {
		codes[res.code(i)] = true
	}
	if !codes["TIMEOUT"] || string(res.Data) != `{"slow":null}` {
		t.Errorf("want slow null and a TIMEOUT error, got %.500s", res.Raw)
	}
	s.settles(t, 2*time.Second)
}
