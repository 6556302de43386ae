package httpserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// TLSFiles are the PEM files of a TLS set-up.
type TLSFiles struct {
	// CertFile and KeyFile are this process's certificate (chain) and key:
	// served by its listeners, and presented as a client certificate for
	// mutual TLS.
	CertFile, KeyFile string
	// CAFile holds the CAs that the services' certificates (and, with
	// ClientAuth, the clients' certificates) are checked against; empty:
	// the system's roots.
	CAFile string
	// ClientAuth makes listeners require a client certificate signed by a
	// CA of CAFile (mutual TLS).
	ClientAuth bool
}

// Enabled reports whether listeners serve TLS.
func (f TLSFiles) Enabled() bool { return f.CertFile != "" && f.KeyFile != "" }

// modernSuites are the TLS 1.2 suites served: ECDHE with AEAD only (TLS 1.3
// suites are not configurable and all modern).
var modernSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ServerConfig returns the TLS configuration of a listener: TLS 1.2 or
// later with modern suites, HTTP/2, the certificate read again from disk
// when its files change (no restart to rotate it), and with ClientAuth a
// verified client certificate required.
func (f TLSFiles) ServerConfig() (*tls.Config, error) {
	r, err := NewCertReloader(f.CertFile, f.KeyFile)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   modernSuites,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.Certificate() },
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if f.ClientAuth {
		pool, err := f.caPool()
		if err != nil {
			return nil, err
		}
		if pool == nil {
			return nil, errors.New("mutual TLS needs a CA file (-tls-ca-file) to check client certificates against")
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// ClientConfig returns the TLS configuration of calls to other services:
// their certificates are checked against CAFile, and this process's own
// certificate, if any, is presented for mutual TLS (read again when it
// changes on disk).
func (f TLSFiles) ClientConfig() (*tls.Config, error) {
	pool, err := f.caPool()
	if err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	if f.Enabled() {
		r, err := NewCertReloader(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, err
		}
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return r.Certificate() }
	}
	return c, nil
}

// Transport returns an HTTP transport (HTTP/2 when the server offers it)
// for calls to other services with ClientConfig.
func (f TLSFiles) Transport() (*http.Transport, error) {
	c, err := f.ClientConfig()
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = c
	t.ForceAttemptHTTP2 = true
	return t, nil
}

func (f TLSFiles) caPool() (*x509.CertPool, error) {
	if f.CAFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(f.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", f.CAFile)
	}
	return pool, nil
}

// CertReloader serves a certificate from files and loads it again when
// either file's modification time or size changes, checked at most once a
// second. A pair that does not load (say, the certificate written and the
// key not yet) keeps the last good one.
type CertReloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string
	checked time.Time
}

// NewCertReloader loads the pair once, failing if it does not load.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *CertReloader) fileStamp() string {
	s := ""
	for _, p := range []string{r.certFile, r.keyFile} {
		if fi, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return s
}

func (r *CertReloader) load() error {
	stamp := r.fileStamp()
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate %s: %w", r.certFile, err)
	}
	r.cert, r.stamp = &c, stamp
	return nil
}

// Certificate returns the current certificate, loading it again if its
// files changed.
func (r *CertReloader) Certificate() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= time.Second {
		r.checked = now
		if r.fileStamp() != r.stamp {
			_ = r.load() // keep the last good one on failure
		}
	}
	return r.cert, nil
}

// AutoTLS makes sure dir holds a local CA (ca.pem, ca-key.pem) and a
// certificate signed by it (cert.pem, key.pem) for localhost, 127.0.0.1,
// ::1 and hosts, and returns their files. It is -tls=auto: a way to try
// HTTPS on one machine, not for production.
func AutoTLS(dir string, hosts ...string) (TLSFiles, error) {
	f := TLSFiles{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), CAFile: filepath.Join(dir, "ca.pem")}
	if _, err := os.Stat(f.CertFile); err == nil {
		return f, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, err
	}
	ca, caKey, err := NewCA("Shopgraph local CA")
	if err != nil {
		return f, err
	}
	certPEM, keyPEM, err := IssueCert(ca, caKey, append([]string{"localhost", "127.0.0.1", "::1"}, hosts...), 365*24*time.Hour)
	if err != nil {
		return f, err
	}
	caKeyPEM, err := keyToPEM(caKey)
	if err != nil {
		return f, err
	}
	for p, data := range map[string][]byte{f.CAFile: CertPEM(ca), filepath.Join(dir, "ca-key.pem"): caKeyPEM, f.KeyFile: keyPEM, f.CertFile: certPEM} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}

// NewCA returns a new self-signed CA certificate (ECDSA P-256), valid for
// ten years.
func NewCA(name string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, err
}

// IssueCert returns a server and client certificate for hosts (DNS names or
// IP addresses) signed by ca, and its key, in PEM.
func IssueCert(ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, ttl time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = keyToPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE", der), keyPEM, nil
}

// CertPEM encodes a certificate in PEM.
func CertPEM(c *x509.Certificate) []byte { return pemBlock("CERTIFICATE", c.Raw) }

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func keyToPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pemBlock("PRIVATE KEY", der), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
