package observability_test

import (
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shopgraph/shopgraph/internal/observability"
)

// A shared store client's spans are its caller's service's, and exist only
// inside a recording span.
func TestClientTracerProvider(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tel, err := observability.New(context.Background(), env(nil), observability.Options{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	tracer := tel.ClientTracerProvider("shopgraph").Tracer("store")

	_, orphan := tracer.Start(context.Background(), "XREADGROUP")
	orphan.End()
	if orphan.IsRecording() || len(exp.GetSpans()) != 0 {
		t.Fatalf("a store call outside any span was recorded")
	}

	scope := tel.Scope("orders")
	ctx, parent := scope.Tracer("test").Start(observability.WithScope(context.Background(), scope), "placeOrder")
	_, child := tracer.Start(ctx, "HGETALL")
	child.End()
	_, unscoped := tracer.Start(trace.ContextWithSpan(context.Background(), parent), "GET")
	unscoped.End()
	parent.End()
	services := map[string]string{}
	for _, s := range exp.GetSpans() {
		v, _ := s.Resource.Set().Value("service.name")
		services[s.Name] = v.AsString()
		if s.Name != "placeOrder" && s.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s is not the child of its caller's span", s.Name)
		}
	}
	if services["HGETALL"] != "orders" || services["GET"] != "shopgraph" {
		t.Errorf("services = %v, want the scope's, else the fallback", services)
	}

	off, err := observability.New(context.Background(), env(nil), observability.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if off.MongoMonitor("x") != nil {
		t.Error("a MongoDB monitor with tracing off: every command would call it for nothing")
	}
}

func TestMongoMonitor(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tel, err := observability.New(context.Background(), env(nil), observability.Options{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	mon := tel.MongoMonitor("shopgraph")
	scope := tel.Scope("notifications")
	ctx, parent := scope.Tracer("test").Start(observability.WithScope(context.Background(), scope), "process OrderStatusChanged")
	cmd := func(doc bson.D) bson.Raw {
		raw, err := bson.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	mon.Started(ctx, &event.CommandStartedEvent{Command: cmd(bson.D{{Key: "insert", Value: "notifications"}}), DatabaseName: "shopgraph_notifications", CommandName: "insert", RequestID: 1, ConnectionID: "c1"})
	mon.Started(ctx, &event.CommandStartedEvent{Command: cmd(bson.D{{Key: "find", Value: "recipients"}}), DatabaseName: "shopgraph_notifications", CommandName: "find", RequestID: 2, ConnectionID: "c1"})
	mon.Started(ctx, &event.CommandStartedEvent{Command: cmd(bson.D{{Key: "ping", Value: 1}}), DatabaseName: "admin", CommandName: "ping", RequestID: 3, ConnectionID: "c1"})
	mon.Started(context.Background(), &event.CommandStartedEvent{Command: cmd(bson.D{{Key: "find", Value: "x"}}), CommandName: "find", RequestID: 4, ConnectionID: "c1"})
	mon.Succeeded(ctx, &event.CommandSucceededEvent{CommandFinishedEvent: event.CommandFinishedEvent{CommandName: "insert", RequestID: 1, ConnectionID: "c1"}})
	mon.Failed(ctx, &event.CommandFailedEvent{CommandFinishedEvent: event.CommandFinishedEvent{CommandName: "find", RequestID: 2, ConnectionID: "c1"}, Failure: errors.New("boom")})
	mon.Succeeded(ctx, &event.CommandSucceededEvent{CommandFinishedEvent: event.CommandFinishedEvent{CommandName: "ping", RequestID: 3, ConnectionID: "c1"}})
	mon.Succeeded(ctx, &event.CommandSucceededEvent{CommandFinishedEvent: event.CommandFinishedEvent{CommandName: "find", RequestID: 4, ConnectionID: "c1"}})
	parent.End()

	got := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		got[s.Name] = s
	}
	if len(got) != 3 {
		t.Fatalf("spans %v, want the insert, the find and their parent", got)
	}
	for name, want := range map[string]map[string]string{
		"insert notifications": {"db.system.name": "mongodb", "db.operation.name": "insert", "db.collection.name": "notifications", "db.namespace": "shopgraph_notifications"},
		"find recipients":      {"db.system.name": "mongodb", "db.operation.name": "find", "db.collection.name": "recipients"},
	} {
		s, ok := got[name]
		if !ok || s.SpanKind != trace.SpanKindClient || s.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s: %+v", name, s)
			continue
		}
		for k, v := range want {
			var have string
			for _, a := range s.Attributes {
				if string(a.Key) == k {
					have = a.Value.AsString()
				}
			}
			if have != v {
				t.Errorf("%s: %s = %q, want %q", name, k, have, v)
			}
		}
	}
	if got["find recipients"].Status.Description != "boom" {
		t.Errorf("a failed command's span: %+v", got["find recipients"].Status)
	}
}
