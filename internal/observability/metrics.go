package observability

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the process's Prometheus series. Their names follow the
// OpenTelemetry semantic conventions where one exists (the dots of
// graphql.operation.name become underscores, the unit a suffix):
//
//   - graphql_server_request_duration_seconds{service, graphql_operation_name,
//     graphql_operation_type, error_type}: one observation per GraphQL
//     operation a service (or the gateway) answered; error_type is the first
//     error's extensions.code, "" for a success. A subscription counts once,
//     at its first response. Its _count is the request
//     rate and, with error_type!="", the error rate.
//   - http_client_request_duration_seconds{service, peer_service, error_type}:
//     every call to another service (the gateway's upstream fetches).
//   - messaging_process_duration_seconds{service, messaging_destination_name,
//     messaging_consumer_group_name, message_type, error_type}: each handling
//     of a stream message; for the consumer group orders, these are the
//     saga's steps and their outcomes.
//   - messaging_client_retries_total and messaging_client_dead_lettered_total
//     {service, messaging_destination_name, messaging_consumer_group_name}.
//   - shopgraph_reservation_sweeps_total{service, result="ok"|"error"} and
//     shopgraph_reservations_expired_total{service}: the inventory sweeper's
//     passes and the reservations it expired (no convention exists).
//   - shopgraph_order_status_fanout_delay_seconds{service}: from an order's
//     status change to its delivery to a subscriber of this process.
//
// A nil *Metrics records nothing.
type Metrics struct {
	graphqlServer *prometheus.HistogramVec
	httpClient    *prometheus.HistogramVec
	process       *prometheus.HistogramVec
	retries       *prometheus.CounterVec
	deadLettered  *prometheus.CounterVec
	sweeps        *prometheus.CounterVec
	expired       *prometheus.CounterVec
	fanout        *prometheus.HistogramVec

	opMu    sync.Mutex
	opNames map[string]bool // see operationLabel
}

// durationBuckets suit requests and handlers alike (5ms to 10s).
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		opNames: map[string]bool{},
		graphqlServer: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "graphql_server_request_duration_seconds", Help: "Duration of GraphQL operations served, by operation and error code.",
			Buckets: durationBuckets,
		}, []string{"service", "graphql_operation_name", "graphql_operation_type", "error_type"}),
		httpClient: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_client_request_duration_seconds", Help: "Duration of calls to other services (the gateway's upstream fetches), by peer service.",
			Buckets: durationBuckets,
		}, []string{"service", "peer_service", "error_type"}),
		process: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "messaging_process_duration_seconds", Help: "Duration of handling one stream message (each attempt), by stream, consumer group, message type and outcome.",
			Buckets: durationBuckets,
		}, []string{"service", "messaging_destination_name", "messaging_consumer_group_name", "message_type", "error_type"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messaging_client_retries_total", Help: "Stream messages whose handling failed and was retried.",
		}, []string{"service", "messaging_destination_name", "messaging_consumer_group_name"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "messaging_client_dead_lettered_total", Help: "Stream messages given up on and sent to the dead-letter stream.",
		}, []string{"service", "messaging_destination_name", "messaging_consumer_group_name"}),
		sweeps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopgraph_reservation_sweeps_total", Help: "Passes of the sweeper that expires stock reservations, by result (ok, error).",
		}, []string{"service", "result"}),
		expired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shopgraph_reservations_expired_total", Help: "Stock reservations released because their order was not paid in time.",
		}, []string{"service"}),
		fanout: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shopgraph_order_status_fanout_delay_seconds", Help: "Time from an order's status change to its delivery to a subscriber.",
			Buckets: fanoutBuckets,
		}, []string{"service"}),
	}
	reg.MustRegister(m.graphqlServer, m.httpClient, m.process, m.retries, m.deadLettered, m.sweeps, m.expired, m.fanout)
	return m
}

// fanoutBuckets run from a millisecond (the pub/sub hop) to 10s (a relay
// that fell behind).
var fanoutBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// MetricsFrom returns the metrics of the scope ctx carries, or nil (which
// records nothing).
func MetricsFrom(ctx context.Context) *Metrics {
	if s := ScopeFrom(ctx); s != nil {
		return s.Metrics
	}
	return nil
}

// ReservationSweep records one pass of service's reservation sweeper, which
// expired n reservations, or failed.
func (m *Metrics) ReservationSweep(service string, n int, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.sweeps.WithLabelValues(service, result).Inc()
	m.expired.WithLabelValues(service).Add(float64(n))
}

// StatusDelivered records the delay between an order's status change and
// its delivery to one of service's subscribers.
func (m *Metrics) StatusDelivered(service string, delay time.Duration) {
	if m == nil {
		return
	}
	m.fanout.WithLabelValues(service).Observe(max(delay, 0).Seconds())
}

// ObserveSubscriptions exposes shopgraph_order_status_subscriptions{service},
// the number of open order status subscriptions of service, read from count
// at scrape time.
func (t *Telemetry) ObserveSubscriptions(service string, count func() int) {
	t.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "shopgraph_order_status_subscriptions", Help: "Open order status subscriptions (orderStatusChanged, myOrderUpdates) of this process.",
		ConstLabels: prometheus.Labels{"service": service},
	}, func() float64 { return float64(count()) }))
}

// GraphQLRequest records one GraphQL operation served by service.
func (m *Metrics) GraphQLRequest(service, operation, opType, errorType string, d time.Duration) {
	if m == nil {
		return
	}
	m.graphqlServer.WithLabelValues(service, m.operationLabel(operation), opType, errorType).Observe(d.Seconds())
}

// ClientRequest records one call from service to peer.
func (m *Metrics) ClientRequest(service, peer, errorType string, d time.Duration) {
	if m == nil {
		return
	}
	m.httpClient.WithLabelValues(service, peer, errorType).Observe(d.Seconds())
}

// Processed records one attempt at handling a message of type typ.
func (m *Metrics) Processed(service, stream, group, typ, errorType string, d time.Duration) {
	if m == nil {
		return
	}
	m.process.WithLabelValues(service, stream, group, typ, errorType).Observe(d.Seconds())
}

// Retried counts one retry of a message.
func (m *Metrics) Retried(service, stream, group string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(service, stream, group).Inc()
}

// DeadLettered counts one message sent to the dead-letter stream.
func (m *Metrics) DeadLettered(service, stream, group string) {
	if m == nil {
		return
	}
	m.deadLettered.WithLabelValues(service, stream, group).Inc()
}

// maxOperationNames bounds the distinct operation names kept as label
// values: clients name their operations, and a label must not grow without
// bound. Names beyond it, and unusual ones, are counted as "other".
const maxOperationNames = 500

func (m *Metrics) operationLabel(name string) string {
	if name == "" {
		return ""
	}
	if len(name) > 100 {
		return "other"
	}
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "other"
		}
	}
	m.opMu.Lock()
	defer m.opMu.Unlock()
	if m.opNames[name] {
		return name
	}
	if len(m.opNames) >= maxOperationNames {
		return "other"
	}
	m.opNames[name] = true
	return name
}

// MetricsHandler serves the process's metrics in the Prometheus text format.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{Registry: t.registry})
}
