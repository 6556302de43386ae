package observability

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// queryTimeout bounds the queries a collector makes at scrape time.
const queryTimeout = 2 * time.Second

// PoolCollector exposes the usage of service's PostgreSQL pool, read at
// scrape time: db_client_connections_usage{state="idle"|"used"} and
// db_client_connections_max, as the OpenTelemetry database conventions
// name them.
func PoolCollector(service string, pool *pgxpool.Pool) prometheus.Collector {
	return poolCollector{pool: pool,
		usage: prometheus.NewDesc("db_client_connections_usage", "Connections of the PostgreSQL pool, by state.",
			[]string{"state"}, prometheus.Labels{"service": service, "db_client_connection_pool_name": service}),
		max: prometheus.NewDesc("db_client_connections_max", "Largest size of the PostgreSQL pool.",
			nil, prometheus.Labels{"service": service, "db_client_connection_pool_name": service}),
		waits: prometheus.NewDesc("db_client_connections_waits_total", "Acquisitions that waited for a connection.",
			nil, prometheus.Labels{"service": service, "db_client_connection_pool_name": service}),
	}
}

type poolCollector struct {
	pool              *pgxpool.Pool
	usage, max, waits *prometheus.Desc
}

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.usage
	ch <- c.max
	ch <- c.waits
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.usage, prometheus.GaugeValue, float64(st.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(c.usage, prometheus.GaugeValue, float64(st.AcquiredConns()), "used")
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(st.EmptyAcquireCount()))
}

// QueryCollector exposes a gauge read at scrape time by query, which
// returns rows of (label value as text, number); label names the label, or
// is "" for a gauge without one (the first column is then ignored). A failed
// query exposes nothing (and Prometheus's absent() tells).
func QueryCollector(pool *pgxpool.Pool, name, help, label, query string, constLabels prometheus.Labels) prometheus.Collector {
	var labels []string
	if label != "" {
		labels = []string{label}
	}
	return queryCollector{pool: pool, query: query, labeled: label != "", desc: prometheus.NewDesc(name, help, labels, constLabels)}
}

type queryCollector struct {
	pool    *pgxpool.Pool
	query   string
	labeled bool
	desc    *prometheus.Desc
}

func (c queryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c queryCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	rows, err := c.pool.Query(ctx, c.query)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var label string
		var v float64
		if err := rows.Scan(&label, &v); err != nil {
			return
		}
		if !c.labeled {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v)
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, label)
	}
}
