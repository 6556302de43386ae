package events

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shopgraph/shopgraph/internal/observability"
)

// A message carries the trace of the transaction that wrote it: the relay's
// send span is the child of the producer's span, the consumer spans of
// every group it fans out to are children of (and linked to) that send, a
// follow-up continues from the consumer's span,
// and the handling is counted per group, dead letters included.
func TestMessagesCarryTheTrace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exp := tracetest.NewInMemoryExporter()
	tel, err := observability.New(context.Background(), func(string) string { return "" }, observability.Options{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	producer, consumer := tel.Scope("orders"), tel.Scope("inventory")

	ctx, span := producer.Tracer("test").Start(context.Background(), "placeOrder")
	m := newMessage(t, "test.Placed", "k", 1)
	if err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error { return Add(ctx, tx, "s", m) }); err != nil {
		t.Fatal(err)
	}
	span.End()
	var md map[string]string
	if err := e.pool.QueryRow(ctx, `SELECT metadata FROM events_outbox WHERE id = $1`, m.ID).Scan(&md); err != nil {
		t.Fatal(err)
	}
	want := "00-" + span.SpanContext().TraceID().String() + "-" + span.SpanContext().SpanID().String() + "-01"
	if md["traceparent"] != want {
		t.Fatalf("outbox row metadata = %v, want traceparent %s", md, want)
	}

	// The relay runs as the producer's, as the app runs it.
	relay := NewRelay(e.pool, e.rdb, RelayOptions{Prefix: e.prefix, Log: e.log})
	start(t, "relay", func(ctx context.Context) error { return relay.Run(observability.WithScope(ctx, producer)) })
	run := func(stream, group string, h Handler) {
		c := NewConsumer(e.rdb, ConsumerOptions{Stream: stream, Group: group, Prefix: e.prefix, Log: e.log, MaxRetries: -1})
		start(t, group, func(ctx context.Context) error { return c.Run(observability.WithScope(ctx, consumer), h) })
	}
	followUp := make(chan trace.SpanContext, 1)
	run("s", "a", func(ctx context.Context, m Message) error {
		next, err := m.FollowUp("test.Next", "k", 2, m.OccurredAt)
		if err != nil {
			return err
		}
		followUp <- trace.SpanContextFromContext(ctx)
		return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error { return Add(ctx, tx, "s2", next) })
	})
	run("s", "b", func(context.Context, Message) error { return Permanent(errors.New("cannot")) })
	run("s2", "c", func(context.Context, Message) error { return nil })
	waitFor(t, "every group to handle its message", func() bool {
		return e.drained(t, "s", "a", 1) && e.drained(t, "s", "b", 1) && e.drained(t, "s2", "c", 1)
	})
	waitFor(t, "the consumer and send spans", func() bool { return len(exp.GetSpans()) >= 6 })

	aSpan := <-followUp
	byGroup := map[string]tracetest.SpanStub{}
	sends := map[string]tracetest.SpanStub{} // by stream
	for _, s := range exp.GetSpans() {
		if s.SpanKind == trace.SpanKindProducer {
			sends[s.Name] = s
		}
		if s.SpanKind != trace.SpanKindConsumer {
			continue
		}
		for _, a := range s.Attributes {
			if a.Key == "messaging.consumer.group.name" {
				byGroup[a.Value.AsString()] = s
			}
		}
		if s.SpanContext.TraceID() != span.SpanContext().TraceID() {
			t.Errorf("span %s is in trace %s, want the producer's", s.Name, s.SpanContext.TraceID())
		}
		if s.Resource.String() == "" || len(s.Links) != 1 {
			t.Errorf("span %s has %d links, want one to the message's producer", s.Name, len(s.Links))
		}
	}
	// placeOrder → send s → process (a, b); a → send s2 → process (c).
	sendS, sendS2 := sends["send s"], sends["send s2"]
	if sendS.Parent.SpanID() != span.SpanContext().SpanID() || sendS2.Parent.SpanID() != aSpan.SpanID() {
		t.Errorf("the relay's send spans (%v) are not the children of the spans that wrote the messages", sends)
	}
	for g, send := range map[string]tracetest.SpanStub{"a": sendS, "b": sendS, "c": sendS2} {
		if byGroup[g].Parent.SpanID() != send.SpanContext.SpanID() || byGroup[g].Links[0].SpanContext.SpanID() != send.SpanContext.SpanID() {
			t.Errorf("group %s's span is not the child of, and linked to, the send of its message", g)
		}
	}
	if sendS.Resource.String() == "" || spanAttrValue(sendS, "messaging.destination.name") != "s" {
		t.Errorf("send span %v", sendS)
	}

	m2 := tel.Metrics()
	_ = m2
	reg := tel.Registry()
	if n, err := testutil.GatherAndCount(reg, "messaging_client_dead_lettered_total"); err != nil || n != 1 {
		t.Errorf("dead-lettered series = %d (%v), want 1", n, err)
	}
	if n, err := testutil.GatherAndCount(reg, "messaging_process_duration_seconds"); err != nil || n != 3 {
		t.Errorf("process duration series = %d (%v), want one per group", n, err)
	}
}

func spanAttrValue(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}
