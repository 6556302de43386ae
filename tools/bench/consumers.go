package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// handling is what one stream's consumer group spent handling messages, read
// from messaging_process_duration_seconds on the system's /metrics.
type handling struct {
	Count   uint64
	Seconds float64
}

// consumerKey names a stream and consumer group: "stream ← group".
type consumerKey = string

// scrapeHandling reads every consumer group's handling totals from the
// /metrics of the process that serves subgraphURL.
func scrapeHandling(ctx context.Context, hc *http.Client, subgraphURL string) (map[consumerKey]handling, error) {
	u, err := url.Parse(subgraphURL)
	if err != nil {
		return nil, err
	}
	u.Path, u.RawQuery = "/metrics", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", u, res.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	out := map[consumerKey]handling{}
	f := families["messaging_process_duration_seconds"]
	if f == nil {
		return out, nil
	}
	for _, m := range f.GetMetric() {
		h := m.GetHistogram()
		if h == nil {
			continue
		}
		k := label(m, "messaging_destination_name") + " ← " + label(m, "messaging_consumer_group_name")
		t := out[k]
		t.Count += h.GetSampleCount()
		t.Seconds += h.GetSampleSum()
		out[k] = t
	}
	return out, nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return "?"
}

// handlingReport says, per consumer group, how many messages it handled
// between before and after, their mean handling time, and how busy that
// kept it over elapsed (a group of one consumer at 100% is the saga's limit).
func handlingReport(before, after map[consumerKey]handling, elapsed time.Duration) []string {
	var lines []string
	for k, a := range after {
		b := before[k]
		n, secs := a.Count-b.Count, a.Seconds-b.Seconds
		if n == 0 {
			continue
		}
		lines = append(lines, fmt.Sprintf("%-48s %7d messages  mean %6.2f ms  busy %3.0f%%",
			k, n, secs/float64(n)*1000, secs/elapsed.Seconds()*100))
	}
	slices.Sort(lines)
	return lines
}
