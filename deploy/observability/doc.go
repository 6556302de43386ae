// Package observability holds Shopgraph's example Grafana dashboard
// (dashboard.json) and Prometheus alert rules (alerts.yml); its test checks
// that both parse and use only the series Shopgraph exposes.
package observability
