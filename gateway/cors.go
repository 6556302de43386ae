package gateway

import (
	"net/http"

	"github.com/rs/cors"
)

// cors lets browsers on the configured origins call the gateway with a
// bearer token and a JSON body. Without origins it sends no CORS headers, so
// browsers keep cross-origin pages out.
func (g *Gateway) cors(next http.Handler) http.Handler {
	if len(g.cfg.CORSOrigins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins: g.cfg.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type", "X-Request-ID"},
		ExposedHeaders: []string{"X-Request-ID"},
		MaxAge:         600,
	}).Handler(next)
}
