package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shopgraph/shopgraph/internal/observability"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

// everyTarget is what one checkout's trace must cover.
var everyTarget = []string{"gateway", "users", "products", "inventory", "orders", "payments", "shipping", "notifications"}

// spanAttr returns the string value of attribute key of s, or "".
func spanAttr(s tracetest.SpanStub, key attribute.Key) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return a.Value.Emit()
		}
	}
	return ""
}

// serviceOf is the service.name of s's resource.
func serviceOf(s tracetest.SpanStub) string {
	if s.Resource == nil {
		return ""
	}
	v, _ := s.Resource.Set().Value("service.name")
	return v.AsString()
}

func describe(s tracetest.SpanStub) string {
	return fmt.Sprintf("%s/%s %q", serviceOf(s), s.SpanKind, s.Name)
}

// TestCheckoutIsOneTrace places one order as a storefront that traces its
// own requests would: with a W3C traceparent. What an operator sees in the
// trace backend is then one trace, the client's, from the gateway through
// every service and every hop of the saga (each outbox relay's send, each
// consumer's process), with the store calls (PostgreSQL, Redis, MongoDB)
// inside — and no span of it lost from its parent.
func TestCheckoutIsOneTrace(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	sys := startSystemWith(t, newStores(t), observability.Options{Exporter: exp}, "-shipping-step-interval=0")
	s := &shop{system: sys, admin: sys.client(adminToken(t, sys))}
	skus := s.stock(t, "Kettle", 5, 4200)
	c := s.customer(t)
	if r := addToCart(t, c, skus[0], 1); len(r.Errors) > 0 {
		t.Fatalf("addToCart: %s", r.Raw)
	}

	// The client's own span: the root of the trace, never exported here.
	var tid trace.TraceID
	var root trace.SpanID
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(root[:])
	body, _ := json.Marshal(map[string]any{"query": `mutation Checkout($i: PlaceOrderInput!) { placeOrder(input: $i) { id status customer { email } } }`,
		"variables": placeInput("tok_visa", "key-"+testenv.ID())})
	req, _ := http.NewRequest(http.MethodPost, s.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+hex.EncodeToString(tid[:])+"-"+hex.EncodeToString(root[:])+"-01")
	r := c.send(req)
	if len(r.Errors) > 0 || str(r.Data, "placeOrder", "customer", "email") == "" {
		t.Fatalf("placeOrder: %s", r.Raw)
	}
	waitStatus(t, c, str(r.Data, "placeOrder", "id"), "CONFIRMED")

	// The order is CONFIRMED before shipping and notifications are done:
	// wait for their consumers' spans.
	inTrace := func() []tracetest.SpanStub {
		var out []tracetest.SpanStub
		for _, sp := range exp.GetSpans() {
			if sp.SpanContext.TraceID() == tid {
				out = append(out, sp)
			}
		}
		return out
	}
	processed := func(spans []tracetest.SpanStub, service, typ string) bool {
		return slices.ContainsFunc(spans, func(sp tracetest.SpanStub) bool {
			return sp.SpanKind == trace.SpanKindConsumer && serviceOf(sp) == service && spanAttr(sp, "messaging.message.type") == typ
		})
	}
	var spans []tracetest.SpanStub
	deadline := time.Now().Add(60 * time.Second)
	for {
		spans = inTrace()
		if processed(spans, "shipping", "CreateShipment") && processed(spans, "orders", "ShipmentCreated") &&
			slices.ContainsFunc(spans, func(sp tracetest.SpanStub) bool {
				return sp.SpanKind == trace.SpanKindConsumer && serviceOf(sp) == "notifications" && spanAttr(sp, "messaging.message.type") == "OrderStatusChanged"
			}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the saga's spans did not all arrive in 60s; have %d in the trace", len(spans))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // the spans of the last handlers' ends
	spans = inTrace()

	byID := map[trace.SpanID]tracetest.SpanStub{}
	services := map[string]bool{}
	for _, sp := range spans {
		byID[sp.SpanContext.SpanID()] = sp
		services[serviceOf(sp)] = true
	}
	for _, want := range everyTarget {
		if !services[want] {
			t.Errorf("no span of %s in the checkout's trace (services: %v)", want, keys(services))
		}
	}

	// Every span hangs, parent by parent, from the client's span.
	for _, sp := range spans {
		cur, hops := sp, 0
		for cur.Parent.SpanID() != root {
			p, ok := byID[cur.Parent.SpanID()]
			if !ok || hops > 100 {
				t.Errorf("%s: its parent %s (of %s) is not in the trace", describe(sp), cur.Parent.SpanID(), describe(cur))
				break
			}
			cur, hops = p, hops+1
		}
	}
	var gatewayRoot bool
	for _, sp := range spans {
		if sp.Parent.SpanID() == root {
			gatewayRoot = serviceOf(sp) == "gateway" && sp.SpanKind == trace.SpanKindServer && sp.Parent.IsRemote()
			if !gatewayRoot {
				t.Errorf("%s is a child of the client's span; want only the gateway's server span", describe(sp))
			}
		}
	}
	if !gatewayRoot {
		t.Error("no gateway server span continues the client's traceparent")
	}

	// The saga's hops: every command and answer sent by a relay and
	// processed by the service it is for.
	for _, hop := range []struct{ service, typ string }{
		{"inventory", "ReserveStock"}, {"orders", "StockReserved"},
		{"payments", "AuthorizePayment"}, {"orders", "PaymentAuthorized"},
		{"inventory", "CommitStock"}, {"orders", "StockCommitted"},
		{"shipping", "CreateShipment"}, {"orders", "ShipmentCreated"},
	} {
		if !processed(spans, hop.service, hop.typ) {
			t.Errorf("no consumer span of %s processing %s", hop.service, hop.typ)
		}
	}
	// A consumer span is the child of the relay's send span of its message,
	// and linked to it; an event that fans out to several groups has one
	// consumer span per group under the one send.
	fanout := map[trace.SpanID]map[string]bool{}
	for _, sp := range spans {
		if sp.SpanKind != trace.SpanKindConsumer {
			continue
		}
		send, ok := byID[sp.Parent.SpanID()]
		if !ok || send.SpanKind != trace.SpanKindProducer || spanAttr(send, "messaging.message.id") != spanAttr(sp, "messaging.message.id") {
			t.Errorf("%s: parent %s is not the send of its message", describe(sp), describe(send))
			continue
		}
		if len(sp.Links) != 1 || sp.Links[0].SpanContext.SpanID() != send.SpanContext.SpanID() {
			t.Errorf("%s: links %v, want one to its send span", describe(sp), sp.Links)
		}
		if fanout[send.SpanContext.SpanID()] == nil {
			fanout[send.SpanContext.SpanID()] = map[string]bool{}
		}
		fanout[send.SpanContext.SpanID()][spanAttr(sp, "messaging.consumer.group.name")] = true
	}
	var fannedOut bool
	for id, groups := range fanout {
		if len(groups) >= 2 {
			fannedOut = true
			if s := byID[id]; spanAttr(s, "messaging.destination.name") != "orders.events" {
				t.Logf("%s fans out to %v", describe(s), keys(groups))
			}
		}
	}
	if !fannedOut {
		t.Error("no event's send span has consumer spans of two groups (orders.events fans out to orders and notifications)")
	}

	// The stores' client spans, each inside the span of the work it does.
	count := map[string]int{}
	for _, sp := range spans {
		if sp.SpanKind != trace.SpanKindClient {
			continue
		}
		switch {
		case spanAttr(sp, "db.system.name") == "postgresql":
			count["postgresql"]++
		case spanAttr(sp, "db.system.name") == "mongodb" && spanAttr(sp, "db.collection.name") != "":
			count["mongodb"]++
		case strings.Contains(sp.InstrumentationScope.Name, "redisotel"):
			count["redis"]++
		case spanAttr(sp, "peer.service") != "":
			count["upstream"]++
		}
	}
	for _, store := range []string{"postgresql", "mongodb", "redis", "upstream"} {
		if count[store] == 0 {
			t.Errorf("no %s client span in the trace (%v)", store, count)
		}
	}
	if t.Failed() {
		t.Logf("client spans: %v", count)
		var names []string
		for _, sp := range spans {
			names = append(names, describe(sp))
		}
		sort.Strings(names)
		t.Logf("%d spans:\n%s", len(spans), strings.Join(names, "\n"))
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
