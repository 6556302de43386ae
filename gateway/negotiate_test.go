package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// urqlAccept is the Accept header of urql's default fetch exchange.
const urqlAccept = "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed"

// TestContentNegotiation: a query is answered in the type the client
// prefers, by order and q; Server-Sent Events only when it is preferred,
// or for a subscription.
func TestContentNegotiation(t *testing.T) {
	t.Parallel()
	e := newSubEnv(t)
	const query = `{ feedSubscribers }`
	tests := []struct {
		name, accept, query string
		wantType            string
	}{
		{"urql's default: a query", urqlAccept, query, "application/graphql-response+json"},
		{"json first, event-stream second", "application/json, text/event-stream", query, "application/json"},
		{"event-stream with a lower q", "text/event-stream;q=0.5, application/json", query, "application/json"},
		{"event-stream first", "text/event-stream, application/json", query, "text/event-stream"},
		{"no Accept", "", query, "application/json"},
		{"any", "*/*", query, "application/json"},
		{"graphql-response+json", "application/graphql-response+json", query, "application/graphql-response+json"},
		{"urql's default: a subscription", urqlAccept, `subscription { ticks(count: 2) { n } }`, "text/event-stream"},
		{"urql's default: an invalid query", urqlAccept, `{ nope }`, "application/graphql-response+json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, _ := json.Marshal(map[string]any{"query": tt.query})
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			ct := res.Header.Get("Content-Type")
			if !strings.HasPrefix(ct, tt.wantType) {
				t.Fatalf("Content-Type %q, want %s: %.300s", ct, tt.wantType, raw)
			}
			switch {
			case tt.wantType == "text/event-stream":
				if !strings.Contains(string(raw), "event: next") || !strings.Contains(string(raw), "event: complete") {
					t.Errorf("not a graphql-sse stream: %.300s", raw)
				}
			case tt.query == query:
				if string(raw) != `{"data":{"feedSubscribers":0}}` {
					t.Errorf("body %.300s", raw)
				}
			default:
				var out result
				if err := json.Unmarshal(raw, &out); err != nil || out.code(0) != "GRAPHQL_VALIDATION_FAILED" || res.StatusCode != http.StatusBadRequest {
					t.Errorf("status %d, body %.300s", res.StatusCode, raw)
				}
			}
		})
	}
}
