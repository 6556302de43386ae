package httpserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/httpserver"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// pki writes a CA and a certificate for localhost signed by it into a fresh
// directory and returns the files.
func pki(t *testing.T) (httpserver.TLSFiles, func() (certPEM, keyPEM []byte)) {
	t.Helper()
	dir := t.TempDir()
	ca, caKey, err := httpserver.NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	issue := func() ([]byte, []byte) {
		c, k, err := httpserver.IssueCert(ca, caKey, []string{"localhost", "127.0.0.1"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	f := httpserver.TLSFiles{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), CAFile: filepath.Join(dir, "ca.pem")}
	c, k := issue()
	write(t, f.CertFile, c)
	write(t, f.KeyFile, k)
	write(t, f.CAFile, httpserver.CertPEM(ca))
	return f, issue
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// serve starts a TLS server of f answering "hello" and returns its base URL.
func serve(t *testing.T, f httpserver.TLSFiles) string {
	t.Helper()
	srv, err := httpserver.Listen("test", "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello "+r.Proto)
	}), testenv.Logger())
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	srv.UseTLS(c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	return "https://localhost:" + strings.TrimPrefix(srv.Listener.Addr().String(), "127.0.0.1:")
}

func client(t *testing.T, f httpserver.TLSFiles) *http.Client {
	t.Helper()
	tr, err := f.Transport()
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// refusedByTheServer matches the error of a call whose client certificate
// the server refuses: with TLS 1.3 the client's handshake ends before the
// server checks that certificate, so the client sees the server's alert
// (alert) or, if it was already writing its request when the server hung
// up, a broken connection.
func refusedByTheServer(alert string) string {
	return alert + "|broken pipe|connection reset by peer|EOF"
}

func TestTLS(t *testing.T) {
	t.Parallel()
	f, _ := pki(t)
	other, _ := pki(t)
	url := serve(t, f)
	mtls := f
	mtls.ClientAuth = true
	mtlsURL := serve(t, mtls)
	noCert := httpserver.TLSFiles{CAFile: f.CAFile}

	tests := []struct {
		name    string
		client  *http.Client
		url     string
		want    string // body, or "" for a refused call
		errText string // a regular expression the error matches
	}{
		{"client trusting the CA, over HTTP/2", client(t, f), url, "hello HTTP/2.0", ""},
		{"client that does not trust the certificate", client(t, other), url, "", "certificate signed by unknown authority"},
		{"mutual TLS with a certificate from the CA", client(t, f), mtlsURL, "hello HTTP/2.0", ""},
		{"mutual TLS without a client certificate", client(t, noCert), mtlsURL, "", refusedByTheServer("certificate required")},
		{"mutual TLS with a certificate from another CA", client(t, httpserver.TLSFiles{CertFile: other.CertFile, KeyFile: other.KeyFile, CAFile: f.CAFile}), mtlsURL, "", refusedByTheServer("unknown certificate authority")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := tt.client.Get(tt.url)
			if tt.want == "" {
				if err == nil {
					res.Body.Close()
					t.Fatalf("call succeeded: %s", res.Status)
				}
				if !regexp.MustCompile(tt.errText).MatchString(err.Error()) {
					t.Fatalf("error %v, want %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if string(body) != tt.want {
				t.Fatalf("body %q, want %q", body, tt.want)
			}
		})
	}

	t.Run("plain http to the TLS listener", func(t *testing.T) {
		t.Parallel()
		res, err := http.Get("http://" + strings.TrimPrefix(url, "https://"))
		if err != nil {
			return // refused outright
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", res.StatusCode)
		}
	})

	t.Run("TLS 1.1 is refused", func(t *testing.T) {
		t.Parallel()
		pool := x509.NewCertPool()
		ca, _ := os.ReadFile(f.CAFile)
		pool.AppendCertsFromPEM(ca)
		_, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11})
		if err == nil {
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
}

// TestCertificateRotation: a certificate replaced on disk is served without a
// restart.
func TestCertificateRotation(t *testing.T) {
	t.Parallel()
	f, issue := pki(t)
	url := serve(t, f)
	serialSeen := func() string {
		// A new connection each time, to see the certificate served now.
		tr, err := f.Transport()
		if err != nil {
			t.Fatal(err)
		}
		defer tr.CloseIdleConnections()
		res, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return res.TLS.PeerCertificates[0].SerialNumber.String()
	}
	before := serialSeen()
	c, k := issue()
	write(t, f.KeyFile, k)
	write(t, f.CertFile, c)
	deadline := time.Now().Add(5 * time.Second)
	for serialSeen() == before {
		if time.Now().After(deadline) {
			t.Fatal(errors.New("the rotated certificate was not served"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAutoTLS: -tls=auto's local CA and certificate are made once in the
// directory, and a client trusting that CA reaches the server.
func TestAutoTLS(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tls")
	f, err := httpserver.AutoTLS(dir, "shop.local")
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := os.ReadFile(f.CertFile)
	again, err := httpserver.AutoTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if kept, _ := os.ReadFile(again.CertFile); string(kept) != string(cert) {
		t.Fatal("a second start made a new certificate")
	}
	res, err := client(t, httpserver.TLSFiles{CAFile: f.CAFile}).Get(serve(t, f))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.TLS.PeerCertificates[0].DNSNames; !slices.Contains(got, "localhost") || !slices.Contains(got, "shop.local") {
		t.Fatalf("certificate names %q", got)
	}
}
