package graphqlclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/graphqlclient"
)

func TestDo(t *testing.T) {
	t.Parallel()
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte(`{"data":{"answer":42}}`))
		case "/errors":
			_, _ = w.Write([]byte(`{"data":null,"errors":[{"message":"boom"}]}`))
		default:
			_, _ = w.Write([]byte(`<html>not graphql</html>`))
		}
	}))
	defer srv.Close()
	ctx := auth.WithIdentity(context.Background(), auth.Identity{UserID: "u", Role: auth.RoleAdmin, Token: "tok"})

	var out struct{ Answer int }
	if err := graphqlclient.New(srv.URL+"/ok", "the oracle", nil, true).Do(ctx, "{ answer }", nil, &out); err != nil || out.Answer != 42 {
		t.Fatalf("ok: %v %+v", err, out)
	}
	if gotAuth != "Bearer tok" {
		t.Errorf("forwarded Authorization = %q", gotAuth)
	}
	if err := graphqlclient.New(srv.URL+"/ok", "the oracle", nil, false).Do(ctx, "{ answer }", nil, &out); err != nil || gotAuth != "" {
		t.Errorf("anonymous client sent Authorization %q (%v)", gotAuth, err)
	}

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	for name, url := range map[string]string{"errors": srv.URL + "/errors", "not GraphQL": srv.URL + "/html", "down": down.URL} {
		err := graphqlclient.New(url, "the oracle", nil, false).Do(ctx, "{ answer }", nil, &out)
		if apperr.Code(err) != apperr.Unavailable || apperr.Message(err) != "the oracle cannot be reached; try again" {
			t.Errorf("%s: %v (%s: %q)", name, err, apperr.Code(err), apperr.Message(err))
		}
	}
}

func TestDoWithServiceToken(t *testing.T) {
	t.Parallel()
	type seen struct{ authz, forwarded string }
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Authorization"), r.Header.Get(auth.ForwardedAuthorization)}
		_, _ = w.Write([]byte(`{"data":{"answer":42}}`))
	}))
	defer srv.Close()
	user := auth.WithIdentity(context.Background(), auth.Identity{UserID: "u", Role: auth.RoleAdmin, Token: "user-tok"})
	svc := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "svc-tok"})
	tests := []struct {
		name    string
		ctx     context.Context
		forward bool
		ts      oauth2.TokenSource
		want    seen
	}{
		{"service token, user forwarded", user, true, svc, seen{"Bearer svc-tok", "Bearer user-tok"}},
		{"service token, user not forwarded", user, false, svc, seen{"Bearer svc-tok", ""}},
		{"service token, anonymous caller", context.Background(), true, svc, seen{"Bearer svc-tok", ""}},
	}
	for _, tt := range tests {
		var out struct{ Answer int }
		c := graphqlclient.New(srv.URL, "the oracle", nil, tt.forward, graphqlclient.WithServiceToken(tt.ts))
		if err := c.Do(tt.ctx, "{ answer }", nil, &out); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if s := <-got; s != tt.want {
			t.Errorf("%s: headers %+v, want %+v", tt.name, s, tt.want)
		}
	}
	// No token to be had: the call fails UNAVAILABLE and is not sent.
	failing := oauth2.ReuseTokenSource(nil, tokenFunc(func() (*oauth2.Token, error) { return nil, errors.New("token endpoint down") }))
	err := graphqlclient.New(srv.URL, "the oracle", nil, true, graphqlclient.WithServiceToken(failing)).Do(user, "{ answer }", nil, &struct{}{})
	if apperr.Code(err) != apperr.Unavailable {
		t.Fatalf("without a token: %v", err)
	}
	select {
	case s := <-got:
		t.Fatalf("request sent without a service token: %+v", s)
	default:
	}
}

type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }
