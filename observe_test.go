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

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
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

// metrics is one scrape of a target's /metrics.
type metrics map[string]*dto.MetricFamily

// scrape reads base's /metrics (the Prometheus text format).
func scrape(t *testing.T, hc *http.Client, base string) metrics {
	t.Helper()
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %s", base, res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("%s/metrics: %v", base, err)
	}
	return fams
}

// get sums the series of name whose labels include want: a counter's or
// gauge's value, a histogram's count of observations. ok is false when no
// series matches.
func (m metrics) get(name string, want map[string]string) (v float64, ok bool) {
	f := m[name]
	if f == nil {
		return 0, false
	}
next:
	for _, s := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, w := range want {
			if labels[k] != w {
				continue next
			}
		}
		ok = true
		switch {
		case s.Counter != nil:
			v += s.GetCounter().GetValue()
		case s.Gauge != nil:
			v += s.GetGauge().GetValue()
		case s.Histogram != nil:
			v += float64(s.GetHistogram().GetSampleCount())
		}
	}
	return v, ok
}

// dump lists the series of name, for a failure's message.
func (m metrics) dump(name string) string {
	var b strings.Builder
	for _, s := range m[name].GetMetric() {
		var ls []string
		for _, l := range s.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		v, _ := metrics{name: &dto.MetricFamily{Metric: []*dto.Metric{s}}}.get(name, nil)
		fmt.Fprintf(&b, "\n  %s{%s} %g", name, strings.Join(ls, ","), v)
	}
	return b.String()
}

// TestMetricsAfterKnownSequence runs a known day of a small shop — two
// orders confirmed, one whose card is declined, one rejected for want of
// stock, and a request refused — with a customer watching their orders
// live, then reads /metrics as Prometheus would: every series an operator's
// dashboard and alerts use has exactly the value that day implies.
func TestMetricsAfterKnownSequence(t *testing.T) {
	t.Parallel()
	s := newShop(t, "-shipping-step-interval=0")
	plenty := s.stock(t, "Mug", 10, 1500)
	scarce := s.stock(t, "Vase", 1, 8000)
	access, _, _ := register(t, s.system, "metrics-"+testenv.ID()+"@example.com", "Grace")
	c := s.client(access)
	live := subscribeSSE(t, s.system, access, `subscription Watch { myOrderUpdates { status previousStatus order { id } } }`, nil)
	waitMetric(t, s.Base, "the subscription", "shopgraph_order_status_subscriptions", map[string]string{"service": "orders"}, 1)

	const place = `mutation PlaceOrder($i: PlaceOrderInput!) { placeOrder(input: $i) { id status } }`
	order := func(sku string, qty int, token string) {
		t.Helper()
		if r := addToCart(t, c, sku, qty); len(r.Errors) > 0 {
			t.Fatalf("addToCart: %s", r.Raw)
		}
		id := str(c.must(place, placeInput(token, "key-"+testenv.ID())), "placeOrder", "id")
		waitStatus(t, c, id, "")
	}
	order(plenty[0], 1, "tok_visa")
	order(plenty[0], 2, "tok_visa")
	order(plenty[0], 1, "tok_chargeDeclined")
	order(scarce[0], 2, "tok_visa")
	if r := s.client("").do(`query Refused { cart { itemCount } }`, nil); r.Code() != "UNAUTHENTICATED" {
		t.Fatalf("an anonymous cart: %s", r.Raw)
	}

	// The live customer sees every change; each one that is a change (has
	// a previous status) is one observation of the fan-out delay.
	finals, changes := 0, 0
	timeout := time.After(60 * time.Second)
	for finals < 4 {
		select {
		case u, ok := <-live.updates:
			if !ok {
				t.Fatal("the subscription ended")
			}
			if u["previousStatus"] != nil {
				changes++
			}
			if terminal[str(u, "status")] {
				finals++
			}
		case e := <-live.errs:
			t.Fatalf("subscription: %s", e)
		case <-timeout:
			t.Fatalf("the subscriber saw %d final statuses in 60s, want 4", finals)
		}
	}
	// Shipping and notifications finish after the orders are final: wait
	// for the outboxes and streams to drain.
	waitMetric(t, s.Base, "the shipments", "messaging_process_duration_seconds",
		map[string]string{"messaging_consumer_group_name": "shipping", "message_type": "CreateShipment"}, 2)
	var m metrics
	deadline := time.Now().Add(60 * time.Second)
	for {
		m = scrape(t, nil, s.Base)
		backlog, _ := m.get("events_outbox_backlog", nil)
		lag, _ := m.get("messaging_consumer_lag", nil)
		pending, _ := m.get("messaging_consumer_pending", nil)
		if backlog == 0 && lag == 0 && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained in 60s: backlog %g, lag %g, pending %g", backlog, lag, pending)
		}
		time.Sleep(100 * time.Millisecond)
	}

	type series struct {
		name   string
		labels map[string]string
		want   float64
	}
	l := func(kv ...string) map[string]string {
		out := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	step := func(group, typ string) map[string]string {
		return l("messaging_consumer_group_name", group, "message_type", typ, "error_type", "")
	}
	for _, tt := range []series{
		// Orders by final status, and none timed out.
		{"shopgraph_orders", l("status", "CONFIRMED"), 2},
		{"shopgraph_orders", l("status", "CANCELLED"), 1},
		{"shopgraph_orders", l("status", "REJECTED"), 1},
		{"shopgraph_orders", nil, 4},
		{"shopgraph_saga_timeouts", nil, 0},
		// The saga's steps, each handled once and successfully.
		{"messaging_process_duration_seconds", step("inventory", "ReserveStock"), 4},
		{"messaging_process_duration_seconds", step("orders", "StockReserved"), 3},
		{"messaging_process_duration_seconds", step("orders", "StockRejected"), 1},
		{"messaging_process_duration_seconds", step("payments", "AuthorizePayment"), 3},
		{"messaging_process_duration_seconds", step("orders", "PaymentAuthorized"), 2},
		{"messaging_process_duration_seconds", step("orders", "PaymentDeclined"), 1},
		{"messaging_process_duration_seconds", step("inventory", "ReleaseStock"), 1},
		{"messaging_process_duration_seconds", step("orders", "StockReleased"), 1},
		{"messaging_process_duration_seconds", step("inventory", "CommitStock"), 2},
		{"messaging_process_duration_seconds", step("orders", "StockCommitted"), 2},
		{"messaging_process_duration_seconds", step("shipping", "CreateShipment"), 2},
		{"messaging_process_duration_seconds", step("orders", "ShipmentCreated"), 2},
		{"messaging_client_retries_total", nil, 0},
		{"messaging_client_dead_lettered_total", nil, 0},
		{"events_dead_letter_length", nil, 0},
		// The operations, as the gateway and the orders service answered them.
		{"graphql_server_request_duration_seconds", l("service", "gateway", "graphql_operation_name", "PlaceOrder", "error_type", ""), 4},
		{"graphql_server_request_duration_seconds", l("service", "orders", "graphql_operation_name", "PlaceOrder", "error_type", ""), 4},
		{"graphql_server_request_duration_seconds", l("service", "gateway", "graphql_operation_name", "Refused", "error_type", "UNAUTHENTICATED"), 1},
		{"graphql_server_request_duration_seconds", l("service", "gateway", "error_type", "UNAUTHENTICATED"), 1},
		{"graphql_server_request_duration_seconds", l("service", "orders", "error_type", "UNAUTHENTICATED"), 1},
		// Live order tracking.
		{"shopgraph_order_status_subscriptions", l("service", "orders"), 1},
		// One subscription is one operation, however many events it sends.
		{"graphql_server_request_duration_seconds", l("service", "orders", "graphql_operation_name", "Watch"), 1},
		{"shopgraph_order_status_fanout_delay_seconds", l("service", "orders"), float64(changes)},
		// No reservation outlived its TTL.
		{"shopgraph_reservations_expired_total", l("service", "inventory"), 0},
		{"shopgraph_reservation_sweeps_total", l("service", "inventory", "result", "error"), 0},
		// The relays and consumers are idle.
		{"events_outbox_backlog", l("service", "orders"), 0},
		{"events_outbox_lag_seconds", l("service", "orders"), 0},
		{"messaging_consumer_lag", l("messaging_destination_name", "inventory.commands", "messaging_consumer_group_name", "inventory"), 0},
	} {
		got, _ := m.get(tt.name, tt.labels)
		if got != tt.want {
			t.Errorf("%s%v = %g, want %g%s", tt.name, tt.labels, got, tt.want, m.dump(tt.name))
		}
	}
	// What errors the gateway answered, by code: only the refused request.
	errs := map[string]float64{}
	for _, s := range m["graphql_server_request_duration_seconds"].GetMetric() {
		var svc, code string
		for _, lp := range s.GetLabel() {
			switch lp.GetName() {
			case "service":
				svc = lp.GetValue()
			case "error_type":
				code = lp.GetValue()
			}
		}
		if svc == "gateway" && code != "" {
			errs[code] += float64(s.GetHistogram().GetSampleCount())
		}
	}
	if len(errs) != 1 || errs["UNAUTHENTICATED"] != 1 {
		t.Errorf("gateway errors by code = %v, want only the refused request's UNAUTHENTICATED", errs)
	}
	if changes < 4 {
		t.Errorf("the subscriber saw %d status changes, want one per order at least", changes)
	}
	// The sweeper runs, the pools and outboxes of every service are exposed.
	if n, _ := m.get("shopgraph_reservation_sweeps_total", l("service", "inventory", "result", "ok")); n < 1 {
		t.Errorf("no reservation sweep counted")
	}
	for _, svc := range []string{"users", "inventory", "orders", "payments", "shipping"} {
		if n, _ := m.get("db_client_connections_max", l("service", svc, "db_system_name", "postgresql")); n < 1 {
			t.Errorf("no PostgreSQL pool size of %s", svc)
		}
		if _, ok := m.get("events_outbox_backlog", l("service", svc)); !ok && svc != "users" {
			t.Errorf("no outbox backlog of %s", svc)
		}
	}
	if n, _ := m.get("db_client_connections_max", l("db_system_name", "redis")); n < 1 {
		t.Errorf("no Redis pool size")
	}
}

// waitMetric scrapes base until the series of name with labels reaches
// want.
func waitMetric(t *testing.T, base, what, name string, labels map[string]string, want float64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := scrape(t, nil, base)
		if v, _ := m.get(name, labels); v >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s%v did not reach %g in 60s%s", what, name, labels, want, m.dump(name))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
