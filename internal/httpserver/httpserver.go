// Package httpserver runs an http.Server on a listener, over TLS when
// configured (HTTP/2, certificates reloaded when they change on disk, optional
// mutual TLS), and shuts it down gracefully: on cancellation, in-flight
// requests get a deadline to finish.
package httpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server is an HTTP server bound to a listener.
type Server struct {
	Name     string
	Listener net.Listener
	Srv      *http.Server
	// secure is set by UseTLS. (Srv.TLSConfig alone does not tell: net/http
	// sets it for HTTP/2 when serving plain HTTP too.)
	secure bool
}

// UseTLS makes the server serve TLS with c (see TLSFiles.ServerConfig).
func (s *Server) UseTLS(c *tls.Config) {
	s.Srv.TLSConfig = c
	s.secure = true
}

// Listen binds addr ("host:port"; port 0 picks a free one).
func Listen(name, addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Server{Name: name, Listener: l, Srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}, nil
}

// Scheme is https when the server serves TLS (UseTLS), else http.
func (s *Server) Scheme() string {
	if s.secure {
		return "https"
	}
	return "http"
}

// Port returns the bound port.
func (s *Server) Port() int { return s.Listener.Addr().(*net.TCPAddr).Port }

// Serve serves until ctx is done, then shuts down, giving in-flight requests
// up to grace to finish.
func (s *Server) Serve(ctx context.Context, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		if s.secure {
			// The certificate comes from TLSConfig.GetCertificate.
			errc <- s.Srv.ServeTLS(s.Listener, "", "")
			return
		}
		errc <- s.Srv.Serve(s.Listener)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := s.Srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		_ = s.Srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
