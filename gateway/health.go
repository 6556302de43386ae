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
	Name   string `json:"name"`
	Status string `json:"status"` // "ok" or "unavailable"
}

// serveHealth answers liveness: the process is up.
func (g *Gateway) serveHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// serveReady answers readiness: 200 only when every service answers
// { __typename }, else 503. The body lists each service's state.
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
			if err != nil {
				states[i].Status = "unavailable"
				g.log.WarnContext(ctx, "service not ready", "service", s.Name, "url", s.URL, "err", causeOf(firstError(err)))
			}
		})
	}
	wg.Wait()
	status, overall := http.StatusOK, "ok"
	for _, s := range states {
		if s.Status != "ok" {
			status, overall = http.StatusServiceUnavailable, "unavailable"
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
