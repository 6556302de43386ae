package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
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
// { __typename } and its own /readyz (its stores) says ready, else 503. A
// service with no /readyz (404) is judged by { __typename } alone. The body
// lists each service's state; its status is "degraded" (still 200) when a
// service's new schema was rejected.
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
			if err == nil {
				err = g.serviceReady(ctx, s.URL)
			}
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

// serviceReady asks the service's /readyz (next to its /graphql endpoint)
// whether its stores are reachable.
func (g *Gateway) serviceReady(ctx context.Context, graphqlURL string) error {
	base, ok := strings.CutSuffix(graphqlURL, "/graphql")
	if !ok {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return err
	}
	res, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("readyz: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	switch res.StatusCode {
	case http.StatusOK, http.StatusNotFound:
		return nil
	default:
		return fmt.Errorf("readyz answered %s", res.Status)
	}
}

// firstError returns the first error of a graphql.ErrorList, or err.
func firstError(err error) error {
	if errs := flatten(err); len(errs) > 0 {
		return errs[0]
	}
	return err
}
