package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// get fetches path from the gateway and returns the response and its body.
func get(t *testing.T, e *env, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// checkCSP fails unless the response carries a Content-Security-Policy that
// allows scripts and styles from this origin only: no inline script, no
// eval, no other host.
func checkCSP(t *testing.T, path string, res *http.Response) {
	t.Helper()
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", path, csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "https:", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("%s: Content-Security-Policy %q allows %q", path, csp, bad)
		}
	}
}

// TestGraphiQLOffline checks that GraphiQL needs nothing but the gateway:
// the page references only its own origin, every asset it references is
// served from the binary with the CSP, and the bundle holds GraphiQL's docs
// explorer and a graphql-ws client for subscriptions.
func TestGraphiQLOffline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res, page := get(t, e, "/")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	checkCSP(t, "/", res)
	if strings.Contains(page, "//") {
		t.Errorf("page names another origin (or a protocol-relative URL):\n%s", page)
	}
	if regexp.MustCompile(`<script(\s[^>]*)?>[^<]`).MatchString(page) || strings.Contains(page, "<style") || strings.Contains(page, " style=") {
		t.Errorf("page has inline script or style, which the CSP forbids:\n%s", page)
	}
	refs := regexp.MustCompile(`(?i)\b(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("page references %d assets, want the script and the stylesheet:\n%s", len(refs), page)
	}
	wantType := map[string]string{".js": "text/javascript", ".css": "text/css"}
	bundle := ""
	for _, ref := range refs {
		path := ref[1]
		if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
			t.Errorf("asset %q is not on the gateway's origin", path)
			continue
		}
		res, body := get(t, e, path)
		if res.StatusCode != 200 || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", path, res.StatusCode, len(body))
			continue
		}
		checkCSP(t, path, res)
		for ext, typ := range wantType {
			if strings.HasSuffix(path, ext) && !strings.HasPrefix(res.Header.Get("Content-Type"), typ) {
				t.Errorf("GET %s: Content-Type %q, want %s", path, res.Header.Get("Content-Type"), typ)
			}
		}
		if m := regexp.MustCompile(`url\(\s*['"]?(https?:)?//`).FindString(body); m != "" {
			t.Errorf("%s loads from another origin: %s", path, m)
		}
		bundle += body
		// A second visit revalidates instead of downloading 1 MB again.
		if etag := res.Header.Get("ETag"); etag == "" {
			t.Errorf("GET %s: no ETag", path)
		} else if again, _ := get(t, e, path, "If-None-Match: "+etag); again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match: %d, want 304", path, again.StatusCode)
		}
	}
	for _, want := range []string{
		"graphql-transport-ws",  // the subscription client speaks the gateway's websocket protocol
		"graphiql-doc-explorer", // the docs explorer is in the bundle
	} {
		if !strings.Contains(bundle, want) {
			t.Errorf("bundle lacks %q", want)
		}
	}
	if res, _ := get(t, e, "/graphiql/nope.js"); res.StatusCode != 404 {
		t.Errorf("GET /graphiql/nope.js: %d, want 404", res.StatusCode)
	}
}

// TestGraphiQLCSPConnectsOnlyHere checks that the websocket GraphiQL opens
// for subscriptions is allowed to this host only, and that a Host header
// that is not a plain host name is never copied into the policy.
func TestGraphiQLCSPConnectsOnlyHere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, host, want, notWant string
	}{
		{"this host", "shop.example:4000", "connect-src 'self' ws://shop.example:4000 wss://shop.example:4000;", ""},
		{"odd host", "evil_host.example", "connect-src 'self';", "evil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Written by hand: Go's client refuses to send a malformed Host.
			conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", tt.host)
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			csp := res.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, tt.want) || (tt.notWant != "" && strings.Contains(csp, tt.notWant)) {
				t.Errorf("CSP %q, want %q", csp, tt.want)
			}
		})
	}
}
