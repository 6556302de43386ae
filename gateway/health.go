package gateway

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/nautilus/graphql"
)

// maxReadyCheck bounds how long /readyz waits for a service.
const maxReadyCheck = 2 * time.Second

// serviceState is one service's line in /readyz.
type serviceState struct {
	Name string `json:"name"`
	// Status is "ok", "unavailable", or "schema_rejected": the service
	// answers, but its new schema does not merge with the others, so the
	// gateway serves its last good one; Reason says why.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// serveHealth answers liveness: the process is up.
func (g *Gateway) serveHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// serveReady answers readiness: 200 when every service answers
// { __typename }, else 503. The body lists each service's state; its
// status is "degraded" (still 200) when a service's new schema was rejected.
func (g *Gateway) serveReady(w http.ResponseWriter, r *http.Request) {
	timeout := min(g.cfg.UpstreamTimeout, maxReadyCheck)
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	states := make([]serviceState, len(g.cfg.Services))
	var wg sync.WaitGroup
	for i, s := range g.cfg.Services {
		wg.Go(func() {
			states[i] = serviceState{Name: s.Name, Status: "ok"}
			var data map[string]any
			err := g.upstreams[s.URL].Query(ctx, &graphql.QueryInput{Query: "{ __typename }"}, &data)
			if err == nil && data["__typename"] == nil {
				err = errNoTypename
			}
			g.reload.seen(s.Name, err == nil)
			if err != nil {
				states[i].Status = "unavailable"
				g.log.WarnContext(ctx, "service not ready", "service", s.Name, "url", s.URL, "err", causeOf(firstError(err)))
			} else if reason := g.reload.rejection(s.Name); reason != "" {
				states[i].Status, states[i].Reason = "schema_rejected", reason
			}
		})
	}
	wg.Wait()
	status, overall := http.StatusOK, "ok"
	for _, s := range states {
		switch s.Status {
		case "unavailable":
			status, overall = http.StatusServiceUnavailable, "unavailable"
		case "schema_rejected":
			if overall == "ok" {
				overall = "degraded"
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, struct {
		Status   string         `json:"status"`
		Services []serviceState `json:"services"`
	}{overall, states})
}

var errNoTypename = errors.New("answered without __typename")

// firstError returns the first error of a graphql.ErrorList, or err.
func firstError(err error) error {
	if errs := flatten(err); len(errs) > 0 {
		return errs[0]
	}
	return err
}
