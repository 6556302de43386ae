package gateway

// SetUpstreamOpsPerConn makes g's pooled upstream subscription connections
// carry at most n operations each, so that a test sees the pool grow.
func SetUpstreamOpsPerConn(g *Gateway, n int) {
	g.subs.pool.mu.Lock()
	defer g.subs.pool.mu.Unlock()
	g.subs.pool.perConn = n
}
