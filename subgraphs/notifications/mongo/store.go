// Package mongo is the notifications service's notification.Store on
// MongoDB (or the embedded FerretDB v1).
//
// Every write is a single-document atomic operation: an insert whose unique
// _id makes it happen once (a notification's ID derives from the message
// that caused it), or an update whose guard is a $max on a version field
// (a notification's lease, a recipient's dated email) read back in the same
// atomic findOneAndUpdate. FerretDB v1 has no transactions and loses
// concurrent read-modify-write updates, so nothing here reads a document,
// changes it in Go and writes it back unguarded.
//
// Every lookup of the checkout path (creating, claiming and finishing a
// notification, recording and reading a recipient, reading preferences) is
// one `_id` equality, the only filter FerretDB v1 answers from an index: its
// cost does not grow with the notification log. Pending notifications are
// also listed in a small collection of their own ("due", one document per
// notification not yet sent), which the worker polls instead of the log,
// and each user's notifications in a document of theirs ("feeds"), which
// myNotifications reads instead of the log.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/shopgraph/shopgraph/subgraphs/notifications/notification"
)

// Collection names.
const (
	notificationsColl = "notifications"
	recipientsColl    = "recipients"
	preferencesColl   = "preferences"
	dueColl           = "due"
	feedsColl         = "feeds"
	metaColl          = "meta"
)

// Store is the notification.Store on a MongoDB database.
type Store struct {
	notifications *mongo.Collection
	recipients    *mongo.Collection
	preferences   *mongo.Collection
	due           *mongo.Collection
	feeds         *mongo.Collection
	meta          *mongo.Collection
	log           *slog.Logger
}

var _ notification.Store = (*Store)(nil)

// NewStore returns the store on db and creates its indexes.
func NewStore(ctx context.Context, db *mongo.Database, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Store{
		notifications: db.Collection(notificationsColl),
		recipients:    db.Collection(recipientsColl),
		preferences:   db.Collection(preferencesColl),
		due:           db.Collection(dueColl),
		feeds:         db.Collection(feedsColl),
		meta:          db.Collection(metaColl),
		log:           log,
	}
	// Make every collection exist, so that the embedded FerretDB's _id
	// lookups can be indexed at start-up (see mongodb.Embedded.IndexIDLookups).
	for _, name := range []string{notificationsColl, recipientsColl, preferencesColl, dueColl, feedsColl, metaColl} {
		var ce mongo.CommandError
		if err := db.CreateCollection(ctx, name); err != nil && !(errors.As(err, &ce) && ce.Code == 48) { // NamespaceExists
			return nil, fmt.Errorf("create collection %s: %w", name, err)
		}
	}
	// Notifications made before the due and feeds collections existed.
	if err := s.upgrade(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// upgrade lists the notifications made by a version without the due and
// feeds collections, once: it reads the whole log, then records that it
// did (a replica starting at the same time does the same work again, to
// the same effect).
func (s *Store) upgrade(ctx context.Context) error {
	const done = "listed"
	err := s.meta.FindOne(ctx, bson.D{{Key: "_id", Value: done}}).Err()
	if err == nil {
		return nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("read meta: %w", err)
	}
	var docs []notificationDoc
	cur, err := s.notifications.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{
		{Key: "userId", Value: 1}, {Key: "status", Value: 1}, {Key: "createdAt", Value: 1}, {Key: "dueAt", Value: 1},
	}))
	if err == nil {
		err = cur.All(ctx, &docs)
	}
	if err != nil {
		return fmt.Errorf("list notifications: %w", err)
	}
	for _, d := range docs {
		if err := s.addToFeed(ctx, d.UserID, d.ID, d.CreatedAt); err != nil {
			return err
		}
		if d.Status == string(notification.StatusPending) {
			if err := s.addDue(ctx, d.ID, d.DueAt); err != nil {
				return err
			}
		}
	}
	if _, err := s.meta.InsertOne(ctx, bson.D{{Key: "_id", Value: done}}); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("write meta: %w", err)
	}
	return nil
}

// notificationDoc is a notification as stored.
type notificationDoc struct {
	ID            string    `bson:"_id"`
	UserID        string    `bson:"userId"`
	Kind          string    `bson:"kind"`
	Channel       string    `bson:"channel"`
	Recipient     string    `bson:"recipient"`
	RecipientName string    `bson:"recipientName"`
	Subject       string    `bson:"subject"`
	Body          string    `bson:"body"`
	HTML          string    `bson:"html"`
	OrderID       string    `bson:"orderId"`
	Status        string    `bson:"status"`
	Attempts      int       `bson:"attempts"`
	LastError     string    `bson:"lastError"`
	CreatedAt     time.Time `bson:"createdAt"`
	SentAt        time.Time `bson:"sentAt,omitempty"`
	DueAt         time.Time `bson:"dueAt"`
	// Lease counts the claims and releases of the notification: odd while
	// a worker holds it (the claim is its value), even otherwise. It only
	// grows ($max), so a claim or a release keyed by _id alone learns from
	// the document as it was just before (findOneAndUpdate) whether it won.
	Lease int64 `bson:"lease"`
}

// feedDoc lists a user's notifications, for ListByUser: one document per
// user, read by _id, so that listing them does not scan the log.
type feedDoc struct {
	ID    string     `bson:"_id"`
	Items []feedItem `bson:"items"`
}

type feedItem struct {
	CreatedAt time.Time `bson:"c"`
	ID        string    `bson:"i"`
}

// dueDoc lists a pending notification: DueAt is a hint, kept close to the
// notification's own DueAt, for the worker's poll.
type dueDoc struct {
	ID    string    `bson:"_id"`
	DueAt time.Time `bson:"dueAt"`
}

func toDoc(n *notification.Notification) notificationDoc {
	return notificationDoc{
		ID: n.ID, UserID: n.UserID, Kind: string(n.Kind), Channel: string(n.Channel),
		Recipient: n.Recipient, RecipientName: n.RecipientName,
		Subject: n.Subject, Body: n.Body, HTML: n.HTML, OrderID: n.OrderID,
		Status: string(n.Status), Attempts: n.Attempts, LastError: n.LastError,
		CreatedAt: n.CreatedAt, SentAt: n.SentAt, DueAt: n.DueAt,
	}
}

func (d *notificationDoc) notification() *notification.Notification {
	n := &notification.Notification{
		ID: d.ID, UserID: d.UserID, Kind: notification.Kind(d.Kind), Channel: notification.Channel(d.Channel),
		Recipient: d.Recipient, RecipientName: d.RecipientName,
		Subject: d.Subject, Body: d.Body, HTML: d.HTML, OrderID: d.OrderID,
		Status: notification.Status(d.Status), Attempts: d.Attempts, LastError: d.LastError,
		CreatedAt: d.CreatedAt.UTC(), DueAt: d.DueAt.UTC(),
	}
	if d.Lease%2 == 1 {
		n.Claim = strconv.FormatInt(d.Lease, 10)
	}
	if !d.SentAt.IsZero() {
		n.SentAt = d.SentAt.UTC()
	}
	return n
}

// Create implements notification.Store. It inserts the notification, then
// lists it in its user's feed and as due; a crash in between is mended when
// the message that made it is handled again (Create lists an existing
// notification too).
func (s *Store) Create(ctx context.Context, n *notification.Notification) (bool, error) {
	created, createdAt := true, n.CreatedAt
	if _, err := s.notifications.InsertOne(ctx, toDoc(n)); err != nil {
		if !mongo.IsDuplicateKeyError(err) {
			return false, fmt.Errorf("insert notification %s: %w", n.ID, err)
		}
		created = false
		d, err := s.byID(ctx, n.ID)
		if err != nil || d == nil {
			return false, err
		}
		createdAt = d.CreatedAt // listed under its own time
	}
	if err := s.addToFeed(ctx, n.UserID, n.ID, createdAt); err != nil {
		return false, err
	}
	if n.Status == notification.StatusPending {
		// If it was sent meanwhile, the worker drops the entry.
		if err := s.addDue(ctx, n.ID, n.DueAt); err != nil {
			return false, err
		}
	}
	return created, nil
}

// addToFeed lists notification id in userID's feed, unless it is listed.
func (s *Store) addToFeed(ctx context.Context, userID, id string, createdAt time.Time) error {
	if userID == "" {
		return nil
	}
	item := feedItem{CreatedAt: createdAt.UTC().Truncate(time.Millisecond), ID: id} // as BSON keeps it
	add := func() error {
		_, err := s.feeds.UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}},
			bson.D{{Key: "$addToSet", Value: bson.D{{Key: "items", Value: item}}}}, options.UpdateOne().SetUpsert(true))
		return err
	}
	err := add()
	if mongo.IsDuplicateKeyError(err) { // two first upserts raced
		err = add()
	}
	if err != nil {
		return fmt.Errorf("list notification %s in %s's feed: %w", id, userID, err)
	}
	return nil
}

// addDue lists notification id as due at dueAt, unless it is listed.
func (s *Store) addDue(ctx context.Context, id string, dueAt time.Time) error {
	if _, err := s.due.InsertOne(ctx, dueDoc{ID: id, DueAt: dueAt}); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("list notification %s as due: %w", id, err)
	}
	return nil
}

// setDue moves notification id's due hint to dueAt (listing it if needed).
func (s *Store) setDue(ctx context.Context, id string, dueAt time.Time) error {
	_, err := s.due.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "dueAt", Value: dueAt}}}}, options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) { // two upserts raced; the other one inserted it
		return s.setDue(ctx, id, dueAt)
	}
	if err != nil {
		return fmt.Errorf("update due notification %s: %w", id, err)
	}
	return nil
}

func (s *Store) dropDue(ctx context.Context, id string) error {
	if _, err := s.due.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("drop due notification %s: %w", id, err)
	}
	return nil
}

// Notifications implements notification.Store: one read by _id per ID
// ($in is not answered from an index by FerretDB v1).
func (s *Store) Notifications(ctx context.Context, ids []string) (map[string]*notification.Notification, error) {
	out := make(map[string]*notification.Notification, len(ids))
	for _, id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		d, err := s.byID(ctx, id)
		if err != nil {
			return nil, err
		}
		if d != nil {
			out[id] = d.notification()
		}
	}
	return out, nil
}

// byID reads notification id, or nil if there is none.
func (s *Store) byID(ctx context.Context, id string) (*notificationDoc, error) {
	var d notificationDoc
	err := s.notifications.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find notification %s: %w", id, err)
	}
	return &d, nil
}

// ListByUser implements notification.Store: the user's feed by _id, then
// the page's notifications by _id.
func (s *Store) ListByUser(ctx context.Context, userID string, after *notification.Cursor, limit int) ([]*notification.Notification, error) {
	var f feedDoc
	err := s.feeds.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&f)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return []*notification.Notification{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find %s's feed: %w", userID, err)
	}
	newerFirst := func(a, b feedItem) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	}
	slices.SortFunc(f.Items, newerFirst)
	items := f.Items
	if after != nil {
		pos := feedItem{CreatedAt: after.CreatedAt, ID: after.ID}
		i, _ := slices.BinarySearchFunc(items, pos, newerFirst)
		for i < len(items) && newerFirst(items[i], pos) <= 0 {
			i++
		}
		items = items[i:]
	}
	out := make([]*notification.Notification, 0, min(limit, len(items)))
	for _, it := range items {
		if len(out) == limit {
			break
		}
		d, err := s.byID(ctx, it.ID)
		if err != nil {
			return nil, err
		}
		if d != nil && d.UserID == userID {
			out = append(out, d.notification())
		}
	}
	return out, nil
}

// Due implements notification.Store. It reads the due collection, which
// holds the pending notifications only.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	cur, err := s.due.Find(ctx, bson.D{{Key: "dueAt", Value: bson.D{{Key: "$lte", Value: now}}}},
		options.Find().SetSort(bson.D{{Key: "dueAt", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find due notifications: %w", err)
	}
	var docs []dueDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read due notifications: %w", err)
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, nil
}

// Claim implements notification.Store: a read by _id, then a
// findOneAndUpdate by _id that raises the lease to the next odd number
// (and DueAt to leaseUntil, Attempts by one) with $max. The claim is won if
// the document just before it still had the lease that was read: every
// claim and release raises the lease, and a loser's $max changes nothing
// (or only stretches the winner's lease to its own leaseUntil).
func (s *Store) Claim(ctx context.Context, id string, now, leaseUntil time.Time) (*notification.Notification, error) {
	d, err := s.byID(ctx, id)
	if err != nil {
		return nil, err
	}
	if d == nil || d.Status != string(notification.StatusPending) {
		// Create lists a notification after inserting it, so an entry
		// without one lists nothing.
		return nil, s.dropDue(ctx, id)
	}
	if d.DueAt.After(now) {
		// Held by a worker, or due later: keep the hint true.
		return nil, s.setDue(ctx, id, d.DueAt)
	}
	lease := d.Lease + 1 // an odd number: held
	if d.Lease%2 == 1 {
		lease = d.Lease + 2 // its holder's lease ran out
	}
	attempts := d.Attempts + 1
	var before notificationDoc
	err = s.notifications.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$max", Value: bson.D{
			{Key: "lease", Value: lease}, {Key: "attempts", Value: attempts}, {Key: "dueAt", Value: leaseUntil},
		}}},
		options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(&before)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim notification %s: %w", id, err)
	}
	if before.Lease != d.Lease {
		return nil, nil // another worker claimed or finished it first
	}
	// The due entry keeps its hint: Finish moves or drops it, and a poll
	// that finds it meanwhile corrects it (above). One write fewer.
	d.Lease, d.Attempts, d.DueAt = lease, attempts, leaseUntil
	return d.notification(), nil
}

// NextDue implements notification.Store. It reads the due collection.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var d dueDoc
	err := s.due.FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: "dueAt", Value: 1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("find the next due notification: %w", err)
	}
	return d.DueAt.UTC(), true, nil
}

// Finish implements notification.Store: a findOneAndUpdate by _id that
// raises the lease from claim to the next even number with $max, then, if
// the document just before still had that lease, the outcome by _id (no
// other worker can claim the notification in between: its DueAt is still
// the lease's end).
func (s *Store) Finish(ctx context.Context, id, claim string, status notification.Status, lastError string, at, due time.Time) (bool, error) {
	lease, err := strconv.ParseInt(claim, 10, 64)
	if err != nil || lease%2 != 1 {
		return false, fmt.Errorf("finish notification %s: %q is not a claim", id, claim)
	}
	var before struct {
		Lease int64 `bson:"lease"`
	}
	err = s.notifications.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "lease", Value: lease + 1}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(&before) // FerretDB v1: no projection here
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("release notification %s: %w", id, err)
	}
	if before.Lease != lease {
		return false, nil
	}
	set := bson.D{{Key: "status", Value: string(status)}}
	switch status {
	case notification.StatusSent, notification.StatusLogged:
		set = append(set, bson.E{Key: "sentAt", Value: at})
	case notification.StatusPending:
		set = append(set, bson.E{Key: "dueAt", Value: due})
	}
	if lastError != "" {
		set = append(set, bson.E{Key: "lastError", Value: lastError})
	}
	if _, err := s.notifications.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}}); err != nil {
		return false, fmt.Errorf("update notification %s: %w", id, err)
	}
	if status == notification.StatusPending {
		return true, s.setDue(ctx, id, due)
	}
	return true, s.dropDue(ctx, id)
}

// recipientDoc is what is known of a user. EmailV and NameV are dated
// values, the time of the event they came from followed by the value (see
// dated), so that $max keeps the newest: an older event delivered late does
// not overwrite a newer value. Email, EmailAt, Name and NameAt are the
// same, as versions before dated values stored them.
type recipientDoc struct {
	ID      string    `bson:"_id"`
	EmailV  string    `bson:"emailV,omitempty"`
	NameV   string    `bson:"nameV,omitempty"`
	Email   string    `bson:"email,omitempty"`
	EmailAt time.Time `bson:"emailAt,omitempty"`
	Name    string    `bson:"name,omitempty"`
	NameAt  time.Time `bson:"nameAt,omitempty"`
}

// datedLayout is fixed-width, so that dated values sort by time as strings.
const datedLayout = "2006-01-02T15:04:05.000000000Z"

// dated returns value as of at, as stored in a recipientDoc.
func dated(at time.Time, value string) string {
	return at.UTC().Format(datedLayout) + " " + value
}

// newest returns the newer of the dated value v and the value old recorded
// as of oldAt.
func newest(v, old string, oldAt time.Time) string {
	if len(v) > len(datedLayout) {
		at, err := time.Parse(datedLayout, v[:len(datedLayout)])
		if err == nil && !at.Before(oldAt) {
			return v[len(datedLayout)+1:]
		}
	}
	return old
}

// SaveRecipient implements notification.Store: one upsert by _id, whose
// $max keeps the newest dated email and name.
func (s *Store) SaveRecipient(ctx context.Context, r notification.Recipient, at time.Time) error {
	var newer bson.D
	if r.Email != "" {
		newer = append(newer, bson.E{Key: "emailV", Value: dated(at, r.Email)})
	}
	if r.Name != "" {
		newer = append(newer, bson.E{Key: "nameV", Value: dated(at, r.Name)})
	}
	update := bson.D{{Key: "$max", Value: newer}}
	if len(newer) == 0 {
		update = bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "since", Value: at}}}}
	}
	save := func() error {
		_, err := s.recipients.UpdateOne(ctx, bson.D{{Key: "_id", Value: r.UserID}}, update, options.UpdateOne().SetUpsert(true))
		return err
	}
	err := save()
	if mongo.IsDuplicateKeyError(err) {
		// Two first saves raced to insert; the other one's document exists
		// now, so this update finds it.
		err = save()
	}
	if err != nil {
		return fmt.Errorf("save recipient %s: %w", r.UserID, err)
	}
	return nil
}

// Recipient implements notification.Store.
func (s *Store) Recipient(ctx context.Context, userID string) (notification.Recipient, bool, error) {
	var d recipientDoc
	err := s.recipients.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return notification.Recipient{}, false, nil
	}
	if err != nil {
		return notification.Recipient{}, false, fmt.Errorf("find recipient %s: %w", userID, err)
	}
	return notification.Recipient{
		UserID: d.ID, Email: newest(d.EmailV, d.Email, d.EmailAt), Name: newest(d.NameV, d.Name, d.NameAt),
	}, true, nil
}

type preferencesDoc struct {
	ID           string    `bson:"_id"`
	EmailEnabled bool      `bson:"emailEnabled"`
	SMSEnabled   bool      `bson:"smsEnabled"`
	Phone        string    `bson:"phone"`
	UpdatedAt    time.Time `bson:"updatedAt"`
}

// Preferences implements notification.Store.
func (s *Store) Preferences(ctx context.Context, userID string) (notification.Preferences, error) {
	var d preferencesDoc
	err := s.preferences.FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return notification.DefaultPreferences(), nil
	}
	if err != nil {
		return notification.Preferences{}, fmt.Errorf("find preferences of %s: %w", userID, err)
	}
	return notification.Preferences{
		EmailEnabled: d.EmailEnabled, SMSEnabled: d.SMSEnabled, Phone: d.Phone, UpdatedAt: d.UpdatedAt.UTC(),
	}, nil
}

// SetPreferences implements notification.Store.
func (s *Store) SetPreferences(ctx context.Context, userID string, p notification.Preferences) error {
	err := s.setPreferences(ctx, userID, p)
	if mongo.IsDuplicateKeyError(err) {
		// Two first saves raced to insert; the other one's document exists
		// now, so this update finds it.
		err = s.setPreferences(ctx, userID, p)
	}
	if err != nil {
		return fmt.Errorf("save preferences of %s: %w", userID, err)
	}
	return nil
}

func (s *Store) setPreferences(ctx context.Context, userID string, p notification.Preferences) error {
	_, err := s.preferences.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: userID}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "emailEnabled", Value: p.EmailEnabled},
			{Key: "smsEnabled", Value: p.SMSEnabled},
			{Key: "phone", Value: p.Phone},
			{Key: "updatedAt", Value: p.UpdatedAt},
		}}},
		options.UpdateOne().SetUpsert(true))
	return err
}
