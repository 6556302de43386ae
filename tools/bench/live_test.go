package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sseServer answers a subscription with these updates (status, at) of an
// order created at created, then holds the stream open until the client
// leaves (as the gateway does), unless complete is set.
func sseServer(t *testing.T, created time.Time, updates [][2]string, complete bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "text/event-stream" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "want an SSE request with the customer's token", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": keep-alive\n\n")
		for _, u := range updates {
			fmt.Fprintf(w, "event: next\ndata: {\"data\":{\"orderStatusChanged\":{\"status\":%q,\"reason\":null,\"at\":%q,\"order\":{\"createdAt\":%q}}}}\n\n",
				u[0], u[1], created.Format(time.RFC3339Nano))
		}
		if complete {
			fmt.Fprint(w, "event: complete\ndata:\n\n")
			return
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAwaitLive(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	at := func(ms int) string { return created.Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano) }
	ctx := context.Background()

	t.Run("confirmed: the saga's duration on the service's clock", func(t *testing.T) {
		t.Parallel()
		srv := sseServer(t, created, [][2]string{{"PENDING", at(0)}, {"AWAITING_PAYMENT", at(7)}, {"CONFIRMED", at(18)}}, false)
		saga, err := awaitLive(ctx, srv.Client(), srv.URL, "tok", "o1", 10*time.Second)
		if err != nil || saga != 18*time.Millisecond {
			t.Fatalf("awaitLive = %s, %v; want 18ms", saga, err)
		}
	})
	t.Run("rejected", func(t *testing.T) {
		t.Parallel()
		srv := sseServer(t, created, [][2]string{{"PENDING", at(0)}, {"REJECTED", at(5)}}, false)
		if _, err := awaitLive(ctx, srv.Client(), srv.URL, "tok", "o1", 10*time.Second); !errors.Is(err, errNotConfirmed) {
			t.Fatalf("awaitLive = %v, want errNotConfirmed", err)
		}
	})
	t.Run("ended before CONFIRMED", func(t *testing.T) {
		t.Parallel()
		srv := sseServer(t, created, [][2]string{{"PENDING", at(0)}}, true)
		_, err := awaitLive(ctx, srv.Client(), srv.URL, "tok", "o1", 10*time.Second)
		if err == nil || errors.Is(err, errNotConfirmed) || !strings.Contains(err.Error(), "PENDING") {
			t.Fatalf("awaitLive = %v, want an error naming the last status", err)
		}
	})
	t.Run("still pending at the timeout", func(t *testing.T) {
		t.Parallel()
		srv := sseServer(t, created, [][2]string{{"PENDING", at(0)}}, false)
		_, err := awaitLive(ctx, srv.Client(), srv.URL, "tok", "o1", 50*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "still PENDING") {
			t.Fatalf("awaitLive = %v, want still PENDING", err)
		}
	})
	t.Run("an update with errors", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "event: next\ndata: {\"errors\":[{\"message\":\"no such order\",\"extensions\":{\"code\":\"NOT_FOUND\"}}]}\n\nevent: complete\ndata:\n\n")
		}))
		t.Cleanup(srv.Close)
		_, err := awaitLive(ctx, srv.Client(), srv.URL, "tok", "o1", 10*time.Second)
		if err == nil || errors.Is(err, errNotConfirmed) || !strings.Contains(err.Error(), "NOT_FOUND") {
			t.Fatalf("awaitLive = %v, want the update's NOT_FOUND", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		srv := sseServer(t, created, nil, false)
		_, err := awaitLive(ctx, srv.Client(), srv.URL, "other", "o1", 10*time.Second)
		if err == nil || !strings.Contains(err.Error(), "HTTP 400") {
			t.Fatalf("awaitLive = %v, want HTTP 400", err)
		}
	})
}
