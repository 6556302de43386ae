package observability_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// exposed are the series Shopgraph's /metrics serves (see
// internal/observability, internal/events and telemetry.go), with the
// suffixes Prometheus adds to histograms.
var exposed = []string{
	"graphql_server_request_duration_seconds",
	"http_client_request_duration_seconds",
	"messaging_process_duration_seconds",
	"messaging_client_retries_total",
	"messaging_client_dead_lettered_total",
	"messaging_consumer_lag",
	"messaging_consumer_pending",
	"events_dead_letter_length",
	"events_outbox_backlog",
	"events_outbox_lag_seconds",
	"db_client_connections_usage",
	"db_client_connections_max",
	"db_client_connections_waits_total",
	"shopgraph_orders",
	"shopgraph_saga_timeouts",
	"shopgraph_reservation_sweeps_total",
	"shopgraph_reservations_expired_total",
	"shopgraph_order_status_subscriptions",
	"shopgraph_order_status_fanout_delay_seconds",
}

func known(name string) bool {
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		name = strings.TrimSuffix(name, suffix)
	}
	return slices.Contains(exposed, name) || strings.HasPrefix(name, "shopgraph:")
}

// metricNames returns the metric names expr selects.
func metricNames(t *testing.T, p parser.Parser, expr string) []string {
	t.Helper()
	e, err := p.ParseExpr(expr)
	if err != nil {
		t.Errorf("%q: %v", expr, err)
		return nil
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	p := parser.NewParser(parser.Options{})
	groups, errs := rulefmt.ParseFile("alerts.yml", false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if groups == nil {
		t.FailNow()
	}
	var alerts []string
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, r.Alert)
			}
			for _, name := range metricNames(t, p, r.Expr) {
				if !known(name) {
					t.Errorf("rule %s%s uses %s, which Shopgraph does not expose", r.Alert, r.Record, name)
				}
			}
		}
	}
	for _, want := range []string{"ShopgraphOutboxLag", "ShopgraphDeadLetterGrowth", "ShopgraphSagaTimeouts", "ShopgraphHighErrorRate"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s (have %v)", want, alerts)
		}
	}
}

func TestDashboard(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard has no title, uid or panels")
	}
	p := parser.NewParser(parser.Options{})
	ids := map[int]bool{}
	for _, panel := range d.Panels {
		if ids[panel.ID] {
			t.Errorf("panel id %d is used twice", panel.ID)
		}
		ids[panel.ID] = true
		if len(panel.Targets) == 0 {
			t.Errorf("panel %q has no queries", panel.Title)
		}
		for _, target := range panel.Targets {
			expr := strings.ReplaceAll(target.Expr, "$__rate_interval", "5m")
			for _, name := range metricNames(t, p, expr) {
				if !known(name) {
					t.Errorf("panel %q uses %s, which Shopgraph does not expose", panel.Title, name)
				}
			}
		}
	}
}
