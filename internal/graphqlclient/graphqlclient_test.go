package graphqlclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

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
