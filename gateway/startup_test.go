package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/gateway"
	"github.com/shopgraph/shopgraph/gateway/internal/fixture"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

func TestStartupWaitsForLateServices(t *testing.T) {
	t.Parallel()
	e := &env{logs: &syncBuffer{}}
	e.key, e.verifier = testenv.SigningKey(t)
	e.catalog = fixture.Catalog(t, e.verifier)
	e.reviews = fixture.Reviews(t, e.verifier)
	type outcome struct {
		g   *gateway.Gateway
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		g, err := gateway.New(context.Background(), e.config())
		done <- outcome{g, err}
	}()
	time.Sleep(300 * time.Millisecond)
	e.catalog.Start(t)
	time.Sleep(300 * time.Millisecond)
	select {
	case o := <-done:
		t.Fatalf("New returned before every service was up: %v", o.err)
	default:
	}
	e.reviews.Start(t)
	var o outcome
	select {
	case o = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("New did not return after the services started")
	}
	if o.err != nil {
		t.Fatalf("New: %v", o.err)
	}
	e.srv = httptest.NewServer(o.g.Handler())
	t.Cleanup(e.srv.Close)
	res := e.query(t, `{ products { name reviews { stars } } }`, nil)
	if len(res.Errors) > 0 || !strings.Contains(string(res.Data), `"reviews":[{"stars":5}`) {
		t.Fatalf("got %s", res.Raw)
	}
	if !strings.Contains(e.logs.String(), "waiting for service") {
		t.Errorf("the wait was not logged")
	}
}

func TestStartupNamesEveryUnreachableService(t *testing.T) {
	t.Parallel()
	_, v := testenv.SigningKey(t)
	up := fixture.Catalog(t, v).Start(t)
	down1 := fixture.Reviews(t, v)
	down2 := fixture.Reviews(t, v)
	start := time.Now()
	_, err := gateway.New(context.Background(), gateway.Config{
		Services: []gateway.Service{
			{Name: "catalog", URL: up.URL},
			{Name: "reviews", URL: down1.URL},
			{Name: "ratings", URL: down2.URL},
		},
		Verifier:       v,
		StartupTimeout: 700 * time.Millisecond,
		Log:            testenv.Logger(),
	})
	if err == nil {
		t.Fatal("New succeeded with two services down")
	}
	if d := time.Since(start); d < 600*time.Millisecond || d > 3*time.Second {
		t.Errorf("New gave up after %s, want about the start-up timeout", d)
	}
	msg := err.Error()
	for _, want := range []string{"service reviews at " + down1.URL, "service ratings at " + down2.URL, "connection refused"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "service catalog") {
		t.Errorf("error %q blames the service that answered", msg)
	}
}

func TestStartupFailsFastOnANonGraphQLService(t *testing.T) {
	t.Parallel()
	_, v := testenv.SigningKey(t)
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>hello</html>"))
	}))
	t.Cleanup(html.Close)
	start := time.Now()
	_, err := gateway.New(context.Background(), gateway.Config{
		Services:       []gateway.Service{{Name: "web", URL: html.URL + "/graphql"}},
		Verifier:       v,
		StartupTimeout: 10 * time.Second,
		Log:            testenv.Logger(),
	})
	if err == nil || !strings.Contains(err.Error(), "service web") || !strings.Contains(err.Error(), "not a GraphQL response") {
		t.Fatalf("New: %v, want an error about service web's response", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("New waited %s for a service that answers but not with GraphQL", d)
	}
}

func TestStartupStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	_, v := testenv.SigningKey(t)
	down := fixture.Catalog(t, v)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := gateway.New(ctx, gateway.Config{
		Services:       []gateway.Service{{Name: "catalog", URL: down.URL}},
		Verifier:       v,
		StartupTimeout: time.Minute,
		Log:            testenv.Logger(),
	})
	if err == nil || !strings.Contains(err.Error(), "service catalog") {
		t.Fatalf("New: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("New took %s after its context ended", d)
	}
}
