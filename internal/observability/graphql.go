package observability

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// GraphQL returns the gqlgen extension that records the operations of the
// service whose [Scope] the request's context carries (see
// [Scope.Attach]); without one it records nothing. Every operation is
// counted in graphql_server_request_duration_seconds and, with tracing on,
// gets a span ("query placeOrder") with a child span per root field
// resolver. Written by hand: the contrib otelgqlgen module lags gqlgen
// releases and records no metrics.
func GraphQL() graphql.HandlerExtension { return gqlExtension{} }

type gqlExtension struct{}

var (
	_ graphql.HandlerExtension     = gqlExtension{}
	_ graphql.ResponseInterceptor  = gqlExtension{}
	_ graphql.FieldInterceptor     = gqlExtension{}
	_ graphql.OperationInterceptor = gqlExtension{}
)

// recordedKey marks, in a subscription's context, whether its operation has
// been counted: a subscription's responses are its events, and one
// operation must count once in the request rate, not once per event.
type recordedKey struct{}

func (gqlExtension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		ctx = context.WithValue(ctx, recordedKey{}, new(atomic.Bool))
	}
	return next(ctx)
}

func (gqlExtension) ExtensionName() string                   { return "Observability" }
func (gqlExtension) Validate(graphql.ExecutableSchema) error { return nil }

func (gqlExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	scope := ScopeFrom(ctx)
	if scope == nil || !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	opType, name := "", oc.OperationName
	if oc.Operation != nil {
		opType = string(oc.Operation.Operation)
		if name == "" {
			name = oc.Operation.Name
		}
	}
	start := oc.Stats.OperationStart
	if start.IsZero() {
		start = time.Now()
	}
	var span trace.Span
	if scope.Tracing() {
		ctx, span = scope.Tracer(tracerName).Start(ctx, fmt.Sprintf("%s %s", opType, name), trace.WithTimestamp(start),
			trace.WithAttributes(
				attribute.String("graphql.operation.name", name),
				attribute.String("graphql.operation.type", opType),
			))
		defer span.End()
	}
	resp := next(ctx)
	errType := ""
	if resp != nil && len(resp.Errors) > 0 {
		errType = "error"
		if code, ok := resp.Errors[0].Extensions["code"].(string); ok && code != "" {
			errType = code
		}
		if span != nil {
			span.SetStatus(codes.Error, errType)
			span.SetAttributes(attribute.String("error.type", errType))
		}
	}
	if done, ok := ctx.Value(recordedKey{}).(*atomic.Bool); !ok || !done.Swap(true) {
		scope.Metrics.GraphQLRequest(scope.Service, name, opType, errType, time.Since(start))
	}
	return resp
}

// InterceptField traces root field resolvers (such as placeOrder or
// _entities): the spans that tell where an operation spent its time,
// without one per field of every object of a list.
func (gqlExtension) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	scope := ScopeFrom(ctx)
	if !scope.Tracing() {
		return next(ctx)
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver || len(fc.Path()) != 1 {
		return next(ctx)
	}
	ctx, span := scope.Tracer(tracerName).Start(ctx, fc.Object+"."+fc.Field.Name,
		trace.WithAttributes(attribute.String("graphql.field.path", fc.Path().String())))
	defer span.End()
	res, err := next(ctx)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return res, err
}
