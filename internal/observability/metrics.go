package observability

import (
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
//     error's extensions.code, "" for a success. Its _count is the request
//     rate and, with error_type!="", the error rate.
//   - http_client_request_duration_seconds{service, peer_service, error_type}:
//     every call to another service (the gateway's upstream fetches).
//   - messaging_process_duration_seconds{service, messaging_destination_name,
//     messaging_consumer_group_name, message_type, error_type}: each handling
//     of a stream message; for the consumer group orders.saga, these are the
//     saga's steps and their outcomes.
//   - messaging_client_retries_total and messaging_client_dead_lettered_total
//     {service, messaging_destination_name, messaging_consumer_group_name}.
//
// A nil *Metrics records nothing.
type Metrics struct {
	graphqlServer *prometheus.HistogramVec
	httpClient    *prometheus.HistogramVec
	process       *prometheus.HistogramVec
	retries       *prometheus.CounterVec
	deadLettered  *prometheus.CounterVec

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
	}
	reg.MustRegister(m.graphqlServer, m.httpClient, m.process, m.retries, m.deadLettered)
	return m
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
