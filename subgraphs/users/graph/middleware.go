package graph

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/vikstrous/dataloadgen"

	"github.com/shopgraph/shopgraph/subgraphs/users/user"
)

// loaders batch the look-ups that a list of users or addresses multiplies.
// They live for one request, so their caches never outlive the caller's
// identity.
type loaders struct {
	users     *dataloadgen.Loader[string, user.User]
	addresses *dataloadgen.Loader[string, user.Address]
	books     *dataloadgen.Loader[string, []user.Address]
}

func newLoaders(svc *user.Service) *loaders {
	return &loaders{
		users:     dataloadgen.NewMappedLoader(svc.UsersByIDs),
		addresses: dataloadgen.NewMappedLoader(svc.AddressesByIDs),
		books: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []string) (map[string][]user.Address, error) {
			books, err := svc.AddressBooks(ctx, ids)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				if _, ok := books[id]; !ok {
					books[id] = []user.Address{}
				}
			}
			return books, nil
		}),
	}
}

type loadersKey struct{}
type clientAddrKey struct{}

func loadersFrom(ctx context.Context) *loaders {
	l, _ := ctx.Value(loadersKey{}).(*loaders)
	if l == nil {
		panic("graph: no loaders in context; wrap the handler with graph.Middleware")
	}
	return l
}

// Middleware puts per-request loaders and the client's address (see
// ClientAddress) in each request's context. The subgraph's handler must be
// wrapped with it.
func Middleware(svc *user.Service) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), loadersKey{}, newLoaders(svc))
			ctx = context.WithValue(ctx, clientAddrKey{}, ClientAddress(r))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// ClientAddress returns the address a request comes from, for rate limits:
// the first entry of X-Forwarded-For if it is an IP address (the gateway sets
// it to the client's address), else the address of the connection. An IPv6
// address is widened to its /64, which one client usually holds whole.
// Returns "" if neither is an IP address.
func ClientAddress(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		first, _, _ := strings.Cut(xff, ",")
		if a, ok := parseAddr(strings.TrimSpace(first)); ok {
			return normalize(a)
		}
	}
	if a, ok := parseAddr(r.RemoteAddr); ok {
		return normalize(a)
	}
	return ""
}

func parseAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func normalize(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func clientAddr(ctx context.Context) string {
	s, _ := ctx.Value(clientAddrKey{}).(string)
	return s
}
