package gateway

import (
	"net/http"
	"testing"
)

func TestNegotiate(t *testing.T) {
	t.Parallel()
	const urql = "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed"
	tests := []struct {
		name, accept string
		preferred    string
		eventStream  bool
	}{
		{"no header", "", mediaJSON, false},
		{"urql's default", urql, mediaGraphQLResponse, true},
		{"json, then event-stream", "application/json, text/event-stream", mediaJSON, true},
		{"event-stream with a lower q", "text/event-stream;q=0.5, application/json", mediaJSON, true},
		{"event-stream first", "text/event-stream, application/json", mediaEventStream, true},
		{"event-stream alone", "text/event-stream", mediaEventStream, true},
		{"event-stream with the higher q", "application/json;q=0.8, text/event-stream", mediaEventStream, true},
		{"event-stream refused", "application/json, text/event-stream;q=0", mediaJSON, false},
		{"graphql-response+json alone", "application/graphql-response+json", mediaGraphQLResponse, false},
		{"json preferred by q", "application/graphql-response+json;q=0.9, application/json", mediaJSON, false},
		{"any", "*/*", mediaJSON, false},
		{"any application type", "application/*", mediaJSON, false},
		{"browser", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", mediaJSON, false},
		{"specific range wins over wildcard", "*/*;q=0.1, application/graphql-response+json", mediaGraphQLResponse, false},
		{"only types the gateway does not offer", "text/html", mediaJSON, false},
		{"case and spaces", " Application/GraphQL-Response+JSON ; q=1 ", mediaGraphQLResponse, false},
		{"malformed q ignored", "text/event-stream;q=x, application/json", mediaJSON, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _ := http.NewRequest(http.MethodPost, "/graphql", nil)
			if tt.accept != "" {
				r.Header.Set("Accept", tt.accept)
			}
			got := negotiate(r)
			if got.preferred != tt.preferred || got.eventStream != tt.eventStream {
				t.Errorf("negotiate(%q) = %+v, want %s, eventStream %v", tt.accept, got, tt.preferred, tt.eventStream)
			}
		})
	}
}
