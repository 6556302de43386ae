package notification

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Worker defaults.
const (
	DefaultRetryBase     = 30 * time.Second
	DefaultMaxRetryDelay = time.Hour
	DefaultMaxAttempts   = 5
	DefaultSendTimeout   = 30 * time.Second
	DefaultPollInterval  = 5 * time.Second
	DefaultWorkers       = 2
)

// WorkerConfig configures a Worker. Only Store is required.
type WorkerConfig struct {
	Store Store
	// Mailer sends email; nil logs each email instead (StatusLogged).
	Mailer Mailer
	// SMS sends text messages; nil logs each one instead (StatusLogged).
	SMS SMSProvider
	// RetryBase is the wait after the first failed attempt; it doubles
	// with each further one, up to MaxRetryDelay.
	RetryBase     time.Duration
	MaxRetryDelay time.Duration
	// MaxAttempts is how many attempts in all a notification gets before
	// it is FAILED.
	MaxAttempts int
	// SendTimeout bounds one attempt. A worker holds a notification for
	// twice as long (its lease): if the worker dies, another one sends it
	// after that.
	SendTimeout time.Duration
	// PollInterval is how often an idle worker looks for due notifications
	// that no nudge announced (made by another replica, or due for a retry
	// that it does not know of).
	PollInterval time.Duration
	// Workers is how many notifications are sent at once.
	Workers int
	Log     *slog.Logger
	Now     func() time.Time
}

// Worker sends pending notifications: each worker goroutine claims one
// due notification at a time with an atomic update (a lease), sends it and
// records the outcome. A failed attempt is retried with exponential
// backoff; after MaxAttempts, or at once if the recipient was refused, the
// notification is FAILED and logged at Error. Nothing is reported back to
// orders: a failed notification never affects an order.
type Worker struct {
	c     WorkerConfig
	log   *slog.Logger
	nudge chan struct{}
	// queue holds the IDs of notifications just made in this process, so
	// that they are claimed by ID without asking the store what is due.
	queue chan string
}

// queueSize bounds Worker.queue; IDs beyond it are found by the poll.
const queueSize = 4096

// dueBatch is how many due IDs one poll of the store reads.
const dueBatch = 16

// NewWorker returns a worker; Run starts it.
func NewWorker(c WorkerConfig) *Worker {
	if c.RetryBase <= 0 {
		c.RetryBase = DefaultRetryBase
	}
	if c.MaxRetryDelay <= 0 {
		c.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = DefaultSendTimeout
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Worker{c: c, log: c.Log.With("component", "notifications.worker"), nudge: make(chan struct{}, 1), queue: make(chan string, queueSize)}
}

// Nudge tells the worker that notifications are due now. It never blocks.
func (w *Worker) Nudge() {
	select {
	case w.nudge <- struct{}{}:
	default:
	}
}

// Enqueue tells the worker that the notifications ids were just made and
// are due now. It never blocks: an ID that does not fit waits for the poll.
func (w *Worker) Enqueue(ids ...string) {
	for _, id := range ids {
		select {
		case w.queue <- id:
		default:
		}
	}
	w.Nudge()
}

// Run sends notifications until ctx ends, then returns nil once the
// attempts in flight have been recorded.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range w.c.Workers {
		wg.Go(func() { w.loop(ctx) })
	}
	wg.Wait()
	return nil
}

func (w *Worker) loop(ctx context.Context) {
	for ctx.Err() == nil {
		did, err := w.SendOne(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.ErrorContext(ctx, "send notifications", "err", err)
			w.sleep(ctx, w.c.PollInterval)
			continue
		}
		if did {
			continue
		}
		wait := w.c.PollInterval
		if next, ok, err := w.c.Store.NextDue(ctx); err == nil && ok {
			wait = min(wait, max(next.Sub(w.c.Now()), time.Millisecond))
		}
		w.sleep(ctx, wait)
	}
}

// sleep waits for d, a nudge or the end of ctx.
func (w *Worker) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-w.nudge:
	case <-t.C:
	}
}

// SendOne claims one due notification, if there is one, attempts to send
// it and records the outcome. It reports whether it found one.
func (w *Worker) SendOne(ctx context.Context) (bool, error) {
	n, err := w.claim(ctx)
	if err != nil || n == nil {
		return false, err
	}
	claim := n.Claim
	log := w.log.With("notification_id", n.ID, "kind", n.Kind, "channel", n.Channel,
		"user_id", n.UserID, "attempt", n.Attempts)
	sctx, cancel := context.WithTimeout(ctx, w.c.SendTimeout)
	status, sendErr := w.send(sctx, log, n)
	cancel()
	// The outcome is recorded even if ctx ended meanwhile.
	rctx := context.WithoutCancel(ctx)
	at := w.c.Now().UTC()
	finish := func(status Status, reason string, due time.Time) error {
		held, err := w.c.Store.Finish(rctx, n.ID, claim, status, reason, at, due)
		if err != nil {
			return fmt.Errorf("record notification %s as %s: %w", n.ID, status, err)
		}
		if !held {
			log.WarnContext(rctx, "notification's lease ran out before its outcome was recorded; another worker has it",
				"outcome", status)
		}
		return nil
	}
	if sendErr == nil {
		if err := finish(status, "", time.Time{}); err != nil {
			return true, err
		}
		log.InfoContext(rctx, "notification delivered", "status", status)
		return true, nil
	}
	reason, permanent := describe(sendErr)
	if ctx.Err() != nil {
		// Shutting down: due again at once, for whoever runs next.
		return true, finish(StatusPending, reason, at)
	}
	if permanent || n.Attempts >= w.c.MaxAttempts {
		if err := finish(StatusFailed, reason, time.Time{}); err != nil {
			return true, err
		}
		log.ErrorContext(ctx, "notification failed; giving up", "reason", reason, "permanent", permanent, "err", sendErr)
		return true, nil
	}
	due := at.Add(w.delay(n.Attempts))
	if err := finish(StatusPending, reason, due); err != nil {
		return true, err
	}
	log.WarnContext(ctx, "notification attempt failed; will retry", "reason", reason, "retry_at", due, "err", sendErr)
	return true, nil
}

// delay returns the wait after failed attempt n (from 1): RetryBase·2^(n-1),
// at most MaxRetryDelay.
func (w *Worker) delay(n int) time.Duration {
	d := w.c.RetryBase
	for i := 1; i < n && d < w.c.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, w.c.MaxRetryDelay)
}

func (w *Worker) send(ctx context.Context, log *slog.Logger, n *Notification) (Status, error) {
	switch n.Channel {
	case ChannelEmail:
		if w.c.Mailer == nil {
			log.InfoContext(ctx, "email logged, not sent: no SMTP server is configured",
				"to", n.Recipient, "subject", n.Subject, "body", n.Body)
			return StatusLogged, nil
		}
		return w.c.Mailer.SendEmail(ctx, Email{ID: n.ID, To: n.Recipient, ToName: n.RecipientName,
			Subject: n.Subject, Text: n.Body, HTML: n.HTML})
	case ChannelSMS:
		if w.c.SMS == nil {
			log.InfoContext(ctx, "SMS logged, not sent: no SMS provider is configured", "to", n.Recipient, "body", n.Body)
			return StatusLogged, nil
		}
		return w.c.SMS.SendSMS(ctx, TextMessage{ID: n.ID, To: n.Recipient, Body: n.Body})
	}
	return "", Rejected(fmt.Sprintf("unknown channel %q", n.Channel), nil)
}

// claim claims the next due notification: one of this process's queue, or
// else one the store lists as due. It returns nil if there is none.
func (w *Worker) claim(ctx context.Context) (*Notification, error) {
	polled := false
	for {
		var id string
		select {
		case id = <-w.queue:
		default:
			if polled {
				return nil, nil
			}
			polled = true
			ids, err := w.c.Store.Due(ctx, w.c.Now().UTC(), dueBatch)
			if err != nil {
				return nil, fmt.Errorf("find due notifications: %w", err)
			}
			if len(ids) == 0 {
				return nil, nil
			}
			id = ids[0]
			w.Enqueue(ids[1:]...)
		}
		now := w.c.Now().UTC()
		n, err := w.c.Store.Claim(ctx, id, now, now.Add(2*w.c.SendTimeout))
		if err != nil {
			return nil, fmt.Errorf("claim notification %s: %w", id, err)
		}
		if n != nil {
			return n, nil
		}
	}
}
