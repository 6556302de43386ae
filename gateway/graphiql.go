package gateway

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
)

// graphiqlAssets is the GraphiQL bundle (React, GraphiQL with its docs
// explorer, and a graphql-ws client for subscriptions), built by
// tools/graphiql and committed, so that GraphiQL works with no network and
// `go build` needs no npm.
//
//go:embed graphiql/graphiql.js graphiql/graphiql.css
var graphiqlAssets embed.FS

// graphiqlPage is the page at /. It loads only the embedded assets; the
// script reads the endpoint from data-endpoint.
const graphiqlPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shopgraph</title>
<link rel="stylesheet" href="/graphiql/graphiql.css">
</head>
<body>
<div id="graphiql" data-endpoint="/graphql">Loading GraphiQL…</div>
<script src="/graphiql/graphiql.js"></script>
</body>
</html>
`

// wsHost is what a Host header must look like to be named in connect-src.
var wsHost = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)

// graphiqlCSP is the Content-Security-Policy of the page and its assets:
// nothing but this origin, no inline script, no eval. GraphiQL's websocket
// to /graphql is named explicitly, as some browsers do not count ws: and
// wss: as 'self'. Fonts and icons are data: URLs inside the bundle.
func graphiqlCSP(r *http.Request) string {
	connect := "'self'"
	if wsHost.MatchString(r.Host) {
		connect += " ws://" + r.Host + " wss://" + r.Host
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"font-src 'self' data:",
		"connect-src " + connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// graphiql serves GraphiQL at / and its assets under /graphiql/, pointed at
// /graphql, each response with a strict Content-Security-Policy.
func graphiql() http.Handler {
	sub, err := fs.Sub(graphiqlAssets, "graphiql")
	if err != nil {
		panic(err) // the embedded directory is fixed at build time
	}
	etags := map[string]string{}
	_ = fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(sub, name)
			sum := sha256.Sum256(b)
			etags["/graphiql/"+name] = `"` + hex.EncodeToString(sum[:8]) + `"`
		}
		return nil
	})
	assets := http.StripPrefix("/graphiql/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", graphiqlCSP(r))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(r.URL.Path, "/graphiql/") {
			// The bundle changes only with the binary; revalidate so an
			// upgraded gateway is never shown a stale GraphiQL.
			h.Set("Cache-Control", "no-cache")
			if etag, ok := etags[r.URL.Path]; ok {
				h.Set("ETag", etag) // http.ServeContent answers If-None-Match with 304
			}
			assets.ServeHTTP(w, r)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write([]byte(graphiqlPage))
	})
}
