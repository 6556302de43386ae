package gateway

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Schema reload: every Config.SchemaPollInterval, and at once when /readyz
// sees a service come back, the gateway reads every service's schema again.
// When one changed, it merges the new set and swaps the snapshot atomically:
// requests in flight finish on the snapshot they started with, new ones use
// the new schema, with a new, empty plan cache. A schema that does not merge
// leaves the last good one in place; /readyz reports the service, and why,
// until its schema merges or goes back to the one served.

// reloader runs the schema polling of a gateway.
type reloader struct {
	g      *Gateway
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	reachable map[string]bool   // per service, as last seen
	rejected  map[string]string // per service, why its new schema is not served
	lastTried string            // the digests last tried, to try a failing set once
}

// startReloader starts polling the services' schemas until ctx ends or stop
// is called, if Config.SchemaPollInterval says so.
func (g *Gateway) startReloader(ctx context.Context) *reloader {
	r := &reloader{
		g:         g,
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		reachable: map[string]bool{},
		rejected:  map[string]string{},
		cancel:    func() {},
	}
	for _, s := range g.cfg.Services {
		r.reachable[s.Name] = true
	}
	if g.cfg.SchemaPollInterval <= 0 {
		close(r.done)
		return r
	}
	ctx, r.cancel = context.WithCancel(ctx)
	go r.loop(ctx, g.cfg.SchemaPollInterval)
	return r
}

// stop stops the polling and waits for it to end.
func (r *reloader) stop() {
	r.cancel()
	<-r.done
}

func (r *reloader) loop(ctx context.Context, every time.Duration) {
	defer close(r.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
		}
		r.reloadOnce(ctx)
	}
}

// seen notes whether service name answered; a service that comes back has
// its schema read at once (it may have been redeployed).
func (r *reloader) seen(name string, up bool) {
	r.mu.Lock()
	was := r.reachable[name]
	r.reachable[name] = up
	r.mu.Unlock()
	if up && !was {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// rejection returns why the new schema of service name is not served, or "".
func (r *reloader) rejection(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rejected[name]
}

// reloadOnce reads every service's schema and serves the new ones that merge.
func (r *reloader) reloadOnce(ctx context.Context) {
	g := r.g
	cur := g.current()
	n := len(g.cfg.Services)
	fetched := make([]source, n)
	read := make([]bool, n)
	var wg sync.WaitGroup
	for i, s := range g.cfg.Services {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, g.cfg.UpstreamTimeout)
			defer cancel()
			src, err := g.readSchema(ctx, s)
			r.mu.Lock()
			was := r.reachable[s.Name]
			r.reachable[s.Name] = err == nil
			r.mu.Unlock()
			if err != nil {
				if was && ctx.Err() == nil {
					g.log.Warn("cannot read a service's schema; keeping the last one", "service", s.Name, "err", causeOf(firstError(err)))
				}
				return
			}
			fetched[i], read[i] = src, true
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	want := slices.Clone(cur.sources)
	var changed []int
	r.mu.Lock()
	for i, s := range g.cfg.Services {
		switch {
		case !read[i]:
		case fetched[i].digest == cur.sources[i].digest:
			delete(r.rejected, s.Name) // back to the schema served
		default:
			want[i] = fetched[i]
			changed = append(changed, i)
		}
	}
	tried := digests(want)
	if len(changed) == 0 || tried == r.lastTried {
		r.mu.Unlock()
		return
	}
	r.lastTried = tried
	r.mu.Unlock()

	// All the new schemas at once (services redeployed together may only
	// merge together); failing that, each one that merges on its own.
	next, err := g.build(ctx, want)
	rejected := map[string]string{}
	if err != nil {
		next = cur
		for _, i := range changed {
			try := slices.Clone(next.sources)
			try[i] = fetched[i]
			s, err := g.build(ctx, try)
			if err != nil {
				rejected[g.cfg.Services[i].Name] = err.Error()
				continue
			}
			next = s
		}
	}
	r.mu.Lock()
	for _, i := range changed {
		name := g.cfg.Services[i].Name
		if reason, ok := rejected[name]; ok {
			r.rejected[name] = reason
			g.log.Error("a service's new schema does not merge; serving its last one", "service", name, "err", reason)
		} else {
			delete(r.rejected, name)
		}
	}
	r.mu.Unlock()
	if next != cur {
		g.snap.Store(next)
		var names []string
		for _, i := range changed {
			if _, bad := rejected[g.cfg.Services[i].Name]; !bad {
				names = append(names, g.cfg.Services[i].Name)
			}
		}
		g.log.Info("schema reloaded", "services", strings.Join(names, ","))
	}
}

// digests identifies a set of schemas.
func digests(sources []source) string {
	var b strings.Builder
	for _, s := range sources {
		b.WriteString(s.digest)
		b.WriteByte(' ')
	}
	return b.String()
}
