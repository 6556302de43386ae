package events

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// scrapeTimeout bounds what a collector asks PostgreSQL or Redis at scrape
// time.
const scrapeTimeout = 2 * time.Second

// OutboxCollector exposes, read at scrape time from the outbox in pool's
// schema: events_outbox_backlog (messages committed and not yet published)
// and events_outbox_lag_seconds (how long the oldest of them has waited:
// the relay's lag), labelled with service. A schema without an outbox
// exposes nothing.
func OutboxCollector(service string, pool *pgxpool.Pool) prometheus.Collector {
	l := prometheus.Labels{"service": service}
	return outboxCollector{pool: pool,
		backlog: prometheus.NewDesc("events_outbox_backlog", "Messages in the outbox not yet published to Redis.", nil, l),
		lag:     prometheus.NewDesc("events_outbox_lag_seconds", "Age of the oldest message in the outbox (0 when empty).", nil, l),
	}
}

type outboxCollector struct {
	pool         *pgxpool.Pool
	backlog, lag *prometheus.Desc
}

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.backlog; ch <- c.lag }

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var n int64
	var age float64
	err := c.pool.QueryRow(ctx, `
		SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
		FROM events_outbox`).Scan(&n, &age)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, max(age, 0))
}

// StreamCollector exposes, read at scrape time from Redis for every stream
// under prefix: messaging_consumer_lag{stream, group} (entries not yet
// delivered to the group), messaging_consumer_pending{stream, group}
// (delivered, not acknowledged) and events_dead_letter_length{stream} (the
// length of each dead-letter stream). Stream names are shown without the
// prefix.
func StreamCollector(rdb *redis.Client, prefix string) prometheus.Collector {
	return streamCollector{rdb: rdb, prefix: prefix,
		lag:     prometheus.NewDesc("messaging_consumer_lag", "Stream entries not yet delivered to the consumer group.", []string{"messaging_destination_name", "messaging_consumer_group_name"}, nil),
		pending: prometheus.NewDesc("messaging_consumer_pending", "Stream entries delivered to the group and not acknowledged.", []string{"messaging_destination_name", "messaging_consumer_group_name"}, nil),
		dead:    prometheus.NewDesc("events_dead_letter_length", "Entries in a dead-letter stream.", []string{"messaging_destination_name"}, nil),
	}
}

type streamCollector struct {
	rdb                *redis.Client
	prefix             string
	lag, pending, dead *prometheus.Desc
}

func (c streamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.pending
	ch <- c.dead
}

func (c streamCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	iter := c.rdb.ScanType(ctx, 0, escapeGlob(c.prefix)+"*", 200, "stream").Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		name := strings.TrimPrefix(key, c.prefix)
		if strings.HasSuffix(name, ".dead-letter") {
			if n, err := c.rdb.XLen(ctx, key).Result(); err == nil {
				ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(n), name)
			}
			continue
		}
		groups, err := c.rdb.XInfoGroups(ctx, key).Result()
		if err != nil {
			continue
		}
		for _, g := range groups {
			if g.Lag >= 0 {
				ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(g.Lag), name, g.Name)
			}
			ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(g.Pending), name, g.Name)
		}
	}
}

// escapeGlob escapes the characters SCAN MATCH treats as a pattern.
func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}
