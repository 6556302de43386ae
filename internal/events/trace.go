package events

import (
	"context"
	"maps"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/observability"
)

// Trace context rides in every message's Metadata under the W3C names
// (traceparent, tracestate, baggage): it is stored with the message in the
// outbox row's metadata column and travels inside the stream entry, so a
// consumer's span continues the trace of the transaction that wrote the
// message. One checkout — placeOrder, ReserveStock, AuthorizePayment,
// CommitStock, CreateShipment, the notifications — is then one trace.

const tracerName = "github.com/shopgraph/shopgraph/internal/events"

// withTraceContext returns md (a copy, never nil) with the trace context of
// ctx added, unless md already carries one or ctx has none.
func withTraceContext(ctx context.Context, md map[string]string) map[string]string {
	out := maps.Clone(md)
	if out == nil {
		out = map[string]string{}
	}
	if _, ok := out["traceparent"]; ok || !trace.SpanContextFromContext(ctx).IsValid() {
		return out
	}
	observability.Propagator.Inject(ctx, propagation.MapCarrier(out))
	return out
}

// startSend starts the producer span of the relay publishing m to stream,
// as the child of the trace m carries, and makes m carry that span instead,
// so that its consumers are the children of its publication: the saga's
// hops read placeOrder → send → process → send → process … It does nothing
// (nil span) when the relay's service records no spans or m carries no
// trace: the relay starts no trace of its own.
func startSend(ctx context.Context, stream string, m *Message) (context.Context, trace.Span) {
	scope := observability.ScopeFrom(ctx)
	if !scope.Tracing() {
		return ctx, nil
	}
	parent := observability.Propagator.Extract(ctx, propagation.MapCarrier(m.Metadata))
	if !trace.SpanContextFromContext(parent).IsValid() {
		return ctx, nil
	}
	ctx, span := scope.Tracer(tracerName).Start(parent, "send "+stream,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "redis"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.operation.name", "XADD"),
			attribute.String("messaging.destination.name", stream),
			attribute.String("messaging.message.id", m.ID),
			attribute.String("messaging.message.type", m.Type),
			attribute.String("messaging.message.conversation_id", m.CorrelationID()),
		))
	md := maps.Clone(m.Metadata)
	for _, k := range observability.Propagator.Fields() {
		delete(md, k)
	}
	observability.Propagator.Inject(ctx, propagation.MapCarrier(md))
	m.Metadata = md
	return ctx, span
}

// handle runs h on m inside a consumer span that continues the producer's
// trace (its child, and linked to it, since one event can fan out to
// several groups), and records how long it took and how it ended.
func (c *Consumer) handle(ctx context.Context, scope *observability.Scope, m Message, h Handler) error {
	start := time.Now()
	var span trace.Span
	if scope.Tracing() {
		producer := observability.Propagator.Extract(ctx, propagation.MapCarrier(m.Metadata))
		opts := []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String("messaging.system", "redis"),
				attribute.String("messaging.operation.type", "process"),
				attribute.String("messaging.destination.name", c.opts.Stream),
				attribute.String("messaging.consumer.group.name", c.opts.Group),
				attribute.String("messaging.message.id", m.ID),
				attribute.String("messaging.message.type", m.Type),
				attribute.String("messaging.message.conversation_id", m.CorrelationID()),
			),
		}
		if sc := trace.SpanContextFromContext(producer); sc.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
		}
		ctx, span = scope.Tracer(tracerName).Start(producer, "process "+m.Type, opts...)
		defer span.End()
	}
	if scope != nil {
		// What h does (its store calls) is recorded as this service's.
		ctx = observability.WithScope(ctx, scope)
	}
	err := h(ctx, m)
	errType := ""
	if err != nil {
		errType = apperr.Code(err)
		if isPermanent(err) {
			errType = "permanent"
		}
		if span != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, errType)
		}
	}
	if scope != nil {
		scope.Metrics.Processed(scope.Service, c.opts.Stream, c.opts.Group, m.Type, errType, time.Since(start))
	}
	return err
}
