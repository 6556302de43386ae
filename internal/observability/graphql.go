package observability

import (
	"context"
	"fmt"
	"time"

	"github.com/99designs/gqlgen/graphql"
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
	_ graphql.HandlerExtension    = gqlExtension{}
	_ graphql.ResponseInterceptor = gqlExtension{}
	_ graphql.FieldInterceptor    = gqlExtension{}
)

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
	scope.Metrics.GraphQLRequest(scope.Service, name, opType, errType, time.Since(start))
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
