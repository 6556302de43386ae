// Package notifytest holds the notifications tests' fakes of the outside
// world: a real SMTP server (go-smtp) that collects what it receives, and an
// SMS API shaped like the common ones. Only tests import it.
package notifytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is a message the SMTP server accepted.
type Mail struct {
	From string
	To   []string
	Raw  []byte
	// TLS reports whether the session was upgraded with STARTTLS.
	TLS bool
	// User is the authenticated user name, if any.
	User   string
	Header mail.Header
	// Subject is the decoded subject.
	Subject string
	// Text and HTML are the decoded parts of a multipart/alternative body,
	// with lines ending in "\n".
	Text string
	HTML string
}

// SMTPOptions configure an SMTP server.
type SMTPOptions struct {
	// TLS offers STARTTLS with a certificate for 127.0.0.1 (see
	// SMTPServer.RootCAs).
	TLS bool
	// Username and Password, if set, are required (PLAIN) before MAIL.
	Username string
	Password string
	// Reject, if set, is asked for each message (n counts from 1) after
	// its data was read; an error it returns (such as an *smtp.SMTPError
	// with code 451 or 550) is the server's answer.
	Reject func(n int) error
	// RejectRcpt, if set, is asked for each recipient.
	RejectRcpt func(to string) error
}

// SMTPServer is a running SMTP server on 127.0.0.1.
type SMTPServer struct {
	Host string
	Port int
	// RootCAs trusts the server's certificate.
	RootCAs *x509.CertPool

	opts  SMTPOptions
	mu    sync.Mutex
	mails []Mail
	tries int
	done  chan struct{}
}

// StartSMTP starts a server that stops when the test ends.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{opts: o, done: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.AllowInsecureAuth = !o.TLS
	srv.ErrorLog = discardLogger{}
	if o.TLS {
		cfg, pool, err := selfSigned()
		if err != nil {
			t.Fatal(err)
		}
		srv.TLSConfig, s.RootCAs = cfg, pool
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	go func() {
		defer close(s.done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-s.done
	})
	return s
}

// Mails returns the messages accepted so far.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Tries returns how many messages were offered (accepted or not).
func (s *SMTPServer) Tries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries
}

// Wait blocks until at least n messages were accepted and returns them.
func (s *SMTPServer) Wait(t testing.TB, n int) []Mail {
	t.Helper()
	Await(t, "the SMTP server to receive mail", func() bool { return len(s.Mails()) >= n })
	return s.Mails()
}

type session struct {
	s    *SMTPServer
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return errors.New("invalid username or password")
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.opts.RejectRcpt != nil {
		if err := ss.s.opts.RejectRcpt(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.s
	s.mu.Lock()
	s.tries++
	n := s.tries
	s.mu.Unlock()
	if s.opts.Reject != nil {
		if err := s.opts.Reject(n); err != nil {
			return err
		}
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unreadable message: " + err.Error()}
	}
	_, m.TLS = ss.conn.TLSConnectionState()
	m.From, m.To, m.User = ss.from, append([]string(nil), ss.to...), ss.user
	s.mu.Lock()
	s.mails = append(s.mails, m)
	s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// parse reads a message's headers and its text and HTML parts.
func parse(raw []byte) (Mail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Mail{}, err
	}
	m := Mail{Raw: raw, Header: msg.Header}
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Mail{}, err
	}
	typ, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return Mail{}, err
	}
	if typ != "multipart/alternative" {
		return Mail{}, errors.New("not multipart/alternative: " + typ)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Mail{}, err
		}
		// multipart decodes quoted-printable parts itself.
		b, err := io.ReadAll(p)
		if err != nil {
			return Mail{}, err
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		// Lines end in CRLF on the wire.
		text := strings.ReplaceAll(string(b), "\r\n", "\n")
		switch pt {
		case "text/plain":
			m.Text = text
		case "text/html":
			m.HTML = text
		}
	}
	return m, nil
}

// selfSigned returns a server TLS config for 127.0.0.1 and a pool that
// trusts it.
func selfSigned() (*tls.Config, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "notifytest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool, nil
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}
