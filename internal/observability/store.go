package observability

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// queryTimeout bounds the queries a collector makes at scrape time.
const queryTimeout = 2 * time.Second

// The pool series are the OpenTelemetry database conventions':
// db_client_connections_usage{state="idle"|"used"},
// db_client_connections_max and db_client_connections_waits_total, each
// labelled with service, db_system_name (postgresql, redis) and
// db_client_connection_pool_name.
type poolDescs struct{ usage, max, waits *prometheus.Desc }

func newPoolDescs(service, system, pool string) poolDescs {
	l := prometheus.Labels{"service": service, "db_system_name": system, "db_client_connection_pool_name": pool}
	return poolDescs{
		usage: prometheus.NewDesc("db_client_connections_usage", "Connections of a store client's pool, by state.", []string{"state"}, l),
		max:   prometheus.NewDesc("db_client_connections_max", "Largest size of a store client's pool.", nil, l),
		waits: prometheus.NewDesc("db_client_connections_waits_total", "Acquisitions that waited for a connection.", nil, l),
	}
}

func (d poolDescs) Describe(ch chan<- *prometheus.Desc) {
	ch <- d.usage
	ch <- d.max
	ch <- d.waits
}

func (d poolDescs) collect(ch chan<- prometheus.Metric, idle, used, maxConns, waits float64) {
	ch <- prometheus.MustNewConstMetric(d.usage, prometheus.GaugeValue, idle, "idle")
	ch <- prometheus.MustNewConstMetric(d.usage, prometheus.GaugeValue, used, "used")
	ch <- prometheus.MustNewConstMetric(d.max, prometheus.GaugeValue, maxConns)
	ch <- prometheus.MustNewConstMetric(d.waits, prometheus.CounterValue, waits)
}

// PoolCollector exposes the usage of service's PostgreSQL pool, read at
// scrape time (db_system_name="postgresql", the pool named after service).
func PoolCollector(service string, pool *pgxpool.Pool) prometheus.Collector {
	return poolCollector{pool: pool, poolDescs: newPoolDescs(service, "postgresql", service)}
}

type poolCollector struct {
	pool *pgxpool.Pool
	poolDescs
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Stat()
	c.collect(ch, float64(st.IdleConns()), float64(st.AcquiredConns()), float64(st.MaxConns()), float64(st.EmptyAcquireCount()))
}

// RedisPoolCollector exposes the usage of the process's Redis client pool
// (db_system_name="redis", pool name "redis", service the process's
// target), read at scrape time.
func RedisPoolCollector(service string, rdb *redis.Client) prometheus.Collector {
	return redisPoolCollector{rdb: rdb, poolDescs: newPoolDescs(service, "redis", "redis")}
}

type redisPoolCollector struct {
	rdb *redis.Client
	poolDescs
}

func (c redisPoolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.rdb.PoolStats()
	used := float64(st.TotalConns) - float64(st.IdleConns)
	c.collect(ch, float64(st.IdleConns), max(used, 0), float64(c.rdb.Options().PoolSize), float64(st.WaitCount))
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
