package payment

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Retry defaults.
const (
	DefaultAttempts    = 4
	DefaultRetryBase   = 200 * time.Millisecond
	DefaultMaxDelay    = 5 * time.Second
	DefaultCallTimeout = 15 * time.Second
)

// retryPolicy retries transient provider errors with exponential backoff and
// jitter: attempt n (from 1) waits a random delay in [d/2, d] first, where
// d = base·2^(n-1), capped at maxDelay.
type retryPolicy struct {
	attempts    int
	base        time.Duration
	maxDelay    time.Duration
	callTimeout time.Duration
}

// delay returns the wait before the attempt that follows attempt n.
func (r retryPolicy) delay(n int) time.Duration {
	d := r.base
	for i := 1; i < n && d < r.maxDelay; i++ {
		d *= 2
	}
	d = min(d, r.maxDelay)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// transient reports whether err may go away when the call is made again:
// the provider said so, or the call timed out (while the caller still waits).
func transient(ctx context.Context, err error) bool {
	return errors.Is(err, ErrTransient) || (ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded))
}

// do calls f until it succeeds, fails with an error that is not transient,
// or the attempts are used up; it returns f's last error (which matches
// ErrTransient when the attempts were used up). Each call gets at
// most callTimeout. If ctx ends, do returns ctx's error.
func (r retryPolicy) do(ctx context.Context, log func(attempt int, wait time.Duration, err error), f func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, r.callTimeout)
		err := f(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !transient(ctx, err) {
			return err
		}
		if attempt >= r.attempts {
			if !errors.Is(err, ErrTransient) {
				err = fmt.Errorf("%w: %w", ErrTransient, err)
			}
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		wait := r.delay(attempt)
		if log != nil {
			log(attempt, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
