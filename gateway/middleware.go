package gateway

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"
)

// requestInfo is what the gateway knows about a request beyond its headers.
// It travels in the request's context.
type requestInfo struct {
	requestID  string
	clientAddr string // the peer's IP address
	operation  string // the GraphQL operation name, once known
	// operationType is query, mutation or subscription, once known.
	operationType string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(infoKey{}).(*requestInfo)
	if info == nil {
		return &requestInfo{}
	}
	return info
}

// validRequestID accepts a caller's X-Request-ID only if it is short and
// plain, so that it cannot forge log lines or headers.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// withRequestID gives every request an ID — the caller's X-Request-ID, or a
// new one — echoed in the response and forwarded to the services, and notes
// the caller's address.
func (g *Gateway) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID.MatchString(id) {
			id = rand.Text()
		}
		addr, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			addr = r.RemoteAddr
		}
		w.Header().Set("X-Request-ID", id)
		info := &requestInfo{requestID: id, clientAddr: addr}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs every request once it is answered — method, path,
// operation name, status, duration and request ID — and turns a panic into a
// logged 500 INTERNAL.
func (g *Gateway) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				g.log.ErrorContext(r.Context(), "panic serving request", "panic", p, "stack", string(debug.Stack()),
					"request_id", infoFrom(r.Context()).requestID)
				if sw.status == 0 {
					writeErrors(sw, http.StatusInternalServerError, requestError(codeInternal, "internal error"))
				}
			}
			info := infoFrom(r.Context())
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			level := slog.LevelInfo
			if sw.status >= 500 {
				level = slog.LevelWarn
			}
			g.log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("operation", info.operation),
				slog.Int("status", sw.status),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", info.requestID),
			)
		}()
		next.ServeHTTP(sw, r)
	})
}
