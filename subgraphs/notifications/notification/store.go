package notification

import (
	"context"
	"time"
)

// Store keeps the delivery log, the recipients and the preferences. Every
// change is made of single-document atomic operations, so the store works on
// FerretDB v1, which has no transactions and loses concurrent
// read-modify-write updates; and every lookup that handling an event or
// sending a notification makes is by key, so its cost does not grow with
// the log.
type Store interface {
	// Create stores n unless a notification with n.ID exists already, and
	// reports whether it stored it. A redelivered message makes the same IDs,
	// so Create is what makes handling a message idempotent.
	Create(ctx context.Context, n *Notification) (bool, error)
	// Notifications returns those notifications with ids that exist, by ID.
	Notifications(ctx context.Context, ids []string) (map[string]*Notification, error)
	// ListByUser returns up to limit of the user's notifications, newest
	// first (by CreatedAt, then ID, descending), after the position after
	// (nil: from the newest).
	ListByUser(ctx context.Context, userID string, after *Cursor, limit int) ([]*Notification, error)

	// Due returns up to limit IDs of PENDING notifications due at now,
	// longest due first. It may return a few that are no longer due (Claim
	// tells), never to the exclusion of those that are.
	Due(ctx context.Context, now time.Time, limit int) ([]string, error)
	// Claim takes notification id for the caller if it is PENDING and due
	// (DueAt <= now): in one atomic update it sets DueAt to leaseUntil and
	// counts one more attempt. The returned notification's Claim identifies
	// the lease, for Finish. It returns nil if the notification does not
	// exist, is not pending or not due, or another worker claimed it first.
	// A notification whose worker died is due again when its lease ends.
	Claim(ctx context.Context, id string, now, leaseUntil time.Time) (*Notification, error)
	// NextDue returns the earliest DueAt of the PENDING notifications, or
	// false if there are none.
	NextDue(ctx context.Context) (time.Time, bool, error)
	// Finish records the outcome of the attempt made under claim: for
	// StatusSent, StatusLogged and StatusFailed it sets the status, SentAt
	// (when sent or logged) and lastError; for StatusPending (a retry) it
	// keeps the notification pending, due again at due. It releases the
	// claim. It reports false, and changes nothing, if the notification is
	// no longer held under claim (the lease ran out and another worker took
	// it).
	Finish(ctx context.Context, id, claim string, status Status, lastError string, at, due time.Time) (bool, error)

	// SaveRecipient records the user's email and name (each only if not
	// empty) as of at: a value recorded as of a later time is kept.
	SaveRecipient(ctx context.Context, r Recipient, at time.Time) error
	// Recipient returns what is known of the user, or false.
	Recipient(ctx context.Context, userID string) (Recipient, bool, error)

	// Preferences returns the user's preferences, or DefaultPreferences()
	// if they never set any.
	Preferences(ctx context.Context, userID string) (Preferences, error)
	// SetPreferences replaces the user's preferences.
	SetPreferences(ctx context.Context, userID string, p Preferences) error
}
