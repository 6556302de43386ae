// Package subgraph serves one service's gqlgen executable schema the same way
// in every service: the transports (POST, GET, websocket, SSE), the one error
// presenter that turns apperr codes into extensions.code and hides internal
// errors, panic recovery, token verification, and /healthz.
package subgraph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/observability"
)

// Options configure a subgraph's HTTP handler.
type Options struct {
	// Name of the service, for logs; it is also the audience that service
	// tokens must name to be accepted here.
	Name string
	// RequireServiceToken refuses every request that does not carry a
	// service token for this service (see auth.ServiceMiddleware): only the
	// gateway and the other services may call it.
	RequireServiceToken bool
	// Verifier checks bearer tokens; nil accepts no tokens.
	Verifier *auth.Verifier
	Log      *slog.Logger
	// Middleware wraps the GraphQL handler, inside token verification (per-
	// request dataloaders go here).
	Middleware func(http.Handler) http.Handler
	// Routes adds more routes to the mux (such as the JWKS).
	Routes func(mux *http.ServeMux)
}

// Handler returns the HTTP handler of a subgraph: GraphQL at /graphql (and /),
// liveness at /healthz.
func Handler(es graphql.ExecutableSchema, o Options) http.Handler {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("service", o.Name)
	srv := NewServer(es, o.Verifier, log)
	var h http.Handler = srv
	if o.Middleware != nil {
		h = o.Middleware(h)
	}
	if o.Verifier != nil {
		h = auth.ServiceMiddleware(o.Verifier, o.Name, o.RequireServiceToken, log)(h)
	}
	h = limitBody(h)
	mux := http.NewServeMux()
	mux.Handle("/graphql", h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	if o.Routes != nil {
		o.Routes(mux)
	}
	return mux
}

// NewServer returns the gqlgen server with Shopgraph's transports, error
// presenter and recovery.
func NewServer(es graphql.ExecutableSchema, v *auth.Verifier, log *slog.Logger) *handler.Server {
	srv := handler.New(es)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 10 * time.Second,
		InitFunc:              wsInit(v),
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	// SSE before POST: an SSE request is a JSON POST too, and the first
	// transport that supports a request serves it.
	srv.AddTransport(transport.SSE{})
	srv.AddTransport(transport.POST{})
	cache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(MaxTokens)
	srv.Use(queryLimits{cache: cache})
	srv.Use(extension.Introspection{})
	srv.Use(operationAuth{v: v, log: log})
	srv.Use(observability.GraphQL())
	srv.AroundFields(serviceOnly)
	srv.SetErrorPresenter(Presenter(log))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", p, "stack", string(debug.Stack()))
		return errors.New("internal error")
	})
	return srv
}

// wsInit authenticates a websocket connection from its connection_init
// payload ("Authorization": "Bearer …", or "authToken"/"token").
func wsInit(v *auth.Verifier) transport.WebsocketInitFunc {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		token := ""
		for _, k := range []string{"Authorization", "authorization"} {
			if s := p.GetString(k); s != "" {
				token = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(s, "Bearer "), "bearer "))
			}
		}
		for _, k := range []string{"authToken", "token"} {
			if token == "" {
				token = p.GetString(k)
			}
		}
		if token == "" {
			// A token verified by the HTTP middleware on upgrade also counts.
			if _, ok := auth.FromContext(ctx); ok {
				return ctx, nil, nil
			}
			return ctx, nil, nil
		}
		if v == nil {
			return ctx, nil, errors.New("tokens are not accepted here")
		}
		id, err := v.VerifyUser(ctx, token)
		if err != nil {
			return ctx, nil, fmt.Errorf("%s", apperr.Message(err))
		}
		return auth.WithIdentity(ctx, id), nil, nil
	}
}

// serviceOnly enforces the @serviceOnly(scope: "…") directive of the SDL:
// such a field answers only a service whose token grants the scope
// (UNAUTHENTICATED without a token, FORBIDDEN otherwise). The gateway hides
// these fields from the public schema.
func serviceOnly(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || fc.Field.Definition == nil {
		return next(ctx)
	}
	d := fc.Field.Definition.Directives.ForName("serviceOnly")
	if d == nil {
		return next(ctx)
	}
	scope := ""
	if a := d.Arguments.ForName("scope"); a != nil && a.Value != nil {
		scope = a.Value.Raw
	}
	if _, err := auth.RequireScope(ctx, scope); err != nil {
		return nil, err
	}
	return next(ctx)
}

// operationAuth gives an operation that carries a bearer token in its
// extensions ("authorization": "Bearer …") the
// identity of that token, for that operation alone, in place of the
// connection's or the request's. The gateway multiplexes many clients'
// subscriptions over one websocket this way. An invalid token fails the
// operation (UNAUTHENTICATED), not the connection.
type operationAuth struct {
	v   *auth.Verifier
	log *slog.Logger
}

var (
	_ graphql.HandlerExtension     = operationAuth{}
	_ graphql.OperationInterceptor = operationAuth{}
)

func (operationAuth) ExtensionName() string                   { return "OperationAuth" }
func (operationAuth) Validate(graphql.ExecutableSchema) error { return nil }
func (a operationAuth) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	token, present := operationToken(graphql.GetOperationContext(ctx).Extensions)
	if !present {
		return next(ctx)
	}
	refuse := func(code, message string) graphql.ResponseHandler {
		if code == apperr.Internal {
			message = "internal error"
		}
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message: message, Extensions: map[string]any{"code": code},
		}}})
	}
	if token == "" {
		return refuse(apperr.Unauthenticated, "extensions.authorization must carry a Bearer token")
	}
	if a.v == nil {
		return refuse(apperr.Unauthenticated, "tokens are not accepted here")
	}
	id, err := a.v.VerifyUser(ctx, token)
	if err != nil {
		if apperr.Code(err) == apperr.Internal {
			a.log.ErrorContext(ctx, "verify operation token", "err", err)
		}
		return refuse(apperr.Code(err), apperr.Message(err))
	}
	return next(auth.WithIdentity(ctx, id))
}

// operationToken returns the bearer token of an operation's extensions, and
// whether there is one at all ("" when it is there but not a bearer token).
func operationToken(ext map[string]any) (token string, present bool) {
	for k, v := range ext {
		if !strings.EqualFold(k, "authorization") {
			continue
		}
		s, _ := v.(string)
		if len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
			return strings.TrimSpace(s[7:]), true
		}
		return "", true
	}
	return "", false
}

// Presenter is the one place where errors become GraphQL errors: an
// *apperr.Error keeps its message and code; an error gqlgen or the validator
// already coded keeps its code; a store that cannot be reached (see
// StoreUnavailable) is UNAVAILABLE; anything else is internal — logged here,
// once, and shown as "internal error" with code INTERNAL.
func Presenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if ae, ok := apperr.As(err); ok {
			out := *gqlErr
			out.Message = ae.Message
			out.Err = nil
			out.Extensions = map[string]any{"code": ae.Code}
			if ae.Field != "" {
				out.Extensions["field"] = ae.Field
			}
			return &out
		}
		if code, ok := gqlErr.Extensions["code"]; ok && code != "" {
			return gqlErr
		}
		if gqlErr.Err == nil || isCoercion(gqlErr) {
			// Raised by gqlgen itself about the request (argument coercion,
			// null in a non-null input): the client's fault.
			out := *gqlErr
			out.Extensions = map[string]any{"code": apperr.InvalidInput}
			return &out
		}
		if StoreUnavailable(err) {
			log.WarnContext(ctx, "store unavailable", "path", gqlErr.Path.String(), "err", err)
			out := *gqlErr
			out.Message = unavailableError.Message
			out.Err = nil
			out.Extensions = map[string]any{"code": apperr.Unavailable}
			return &out
		}
		log.ErrorContext(ctx, "internal error", "path", gqlErr.Path.String(), "err", err)
		out := *gqlErr
		out.Message = "internal error"
		out.Err = nil
		out.Extensions = map[string]any{"code": apperr.Internal}
		return &out
	}
}

// isCoercion reports errors gqlgen returns when it cannot unmarshal an input
// value: they wrap a plain error but are about the request. gqlgen gives them
// no type of their own, so they are told apart by their cause or text.
func isCoercion(e *gqlerror.Error) bool {
	var pe *time.ParseError
	if errors.As(e, &pe) {
		return true
	}
	m := e.Message
	return strings.Contains(m, "cannot be null") || strings.HasPrefix(m, "input:") ||
		strings.Contains(m, "is not a valid") || strings.Contains(m, "cannot unmarshal")
}
