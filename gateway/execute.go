package gateway

import "context"

// execute runs the plans of op with the request's variables, one after
// another, and returns the data and the errors of every fetch (a
// *graphql.Error or an *upstreamError, each at its path in the client's
// response). It stops when ctx ends.
func (g *Gateway) execute(ctx context.Context, op *operation, vars map[string]any) (map[string]any, []error) {
	x := newExecution(ctx, op, vars)
	for _, plan := range op.plans {
		if ctx.Err() != nil {
			break // the client has gone, or the request's time is up
		}
		x.run(plan)
	}
	return x.data, x.errs
}
