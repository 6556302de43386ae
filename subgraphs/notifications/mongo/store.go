// Package mongo is the notifications service's notification.Store on
// MongoDB (or the embedded FerretDB v1).
//
// Every write is a single-document atomic operation: an insert whose unique
// _id makes it happen once (a notification's ID derives from the message
// that caused it), a findOneAndUpdate that claims a due notification, or an
// update conditioned on the fields it depends on (the worker's claim, the
// time a recipient's email was recorded). FerretDB v1 has no transactions
// and loses concurrent read-modify-write updates, so nothing here reads a
// document, changes it in Go and writes it back.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
)

// Store is the notification.Store on a MongoDB database.
type Store struct {
	notifications *mongo.Collection
	recipients    *mongo.Collection
	preferences   *mongo.Collection
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
		log:           log,
	}
	indexes := []mongo.IndexModel{
		{Keys: bson.D{{Key: "status", Value: 1}, {Key: "dueAt", Value: 1}}, Options: options.Index().SetName("status_due")},
		{Keys: bson.D{{Key: "userId", Value: 1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}, Options: options.Index().SetName("user_newest")},
	}
	// One at a time: FerretDB v1.24.2's createIndexes panics (and drops the
	// connection) when two or more of the indexes it is given exist already,
	// as they do at every start but the first.
	for _, ix := range indexes {
		if _, err := s.notifications.Indexes().CreateOne(ctx, ix); err != nil {
			return nil, fmt.Errorf("create index notifications: %w", err)
		}
	}
	return s, nil
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
	Claim         string    `bson:"claim"`
}

func toDoc(n *notification.Notification) notificationDoc {
	return notificationDoc{
		ID: n.ID, UserID: n.UserID, Kind: string(n.Kind), Channel: string(n.Channel),
		Recipient: n.Recipient, RecipientName: n.RecipientName,
		Subject: n.Subject, Body: n.Body, HTML: n.HTML, OrderID: n.OrderID,
		Status: string(n.Status), Attempts: n.Attempts, LastError: n.LastError,
		CreatedAt: n.CreatedAt, SentAt: n.SentAt, DueAt: n.DueAt, Claim: n.Claim,
	}
}

func (d *notificationDoc) notification() *notification.Notification {
	n := &notification.Notification{
		ID: d.ID, UserID: d.UserID, Kind: notification.Kind(d.Kind), Channel: notification.Channel(d.Channel),
		Recipient: d.Recipient, RecipientName: d.RecipientName,
		Subject: d.Subject, Body: d.Body, HTML: d.HTML, OrderID: d.OrderID,
		Status: notification.Status(d.Status), Attempts: d.Attempts, LastError: d.LastError,
		CreatedAt: d.CreatedAt.UTC(), DueAt: d.DueAt.UTC(), Claim: d.Claim,
	}
	if !d.SentAt.IsZero() {
		n.SentAt = d.SentAt.UTC()
	}
	return n
}

// Create implements notification.Store.
func (s *Store) Create(ctx context.Context, n *notification.Notification) (bool, error) {
	if _, err := s.notifications.InsertOne(ctx, toDoc(n)); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return false, nil
		}
		return false, fmt.Errorf("insert notification %s: %w", n.ID, err)
	}
	return true, nil
}

// Notifications implements notification.Store.
func (s *Store) Notifications(ctx context.Context, ids []string) (map[string]*notification.Notification, error) {
	out := make(map[string]*notification.Notification, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	docs, err := s.find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, options.Find())
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		out[d.ID] = d.notification()
	}
	return out, nil
}

// ListByUser implements notification.Store.
func (s *Store) ListByUser(ctx context.Context, userID string, after *notification.Cursor, limit int) ([]*notification.Notification, error) {
	filter := bson.D{{Key: "userId", Value: userID}}
	if after != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "createdAt", Value: bson.D{{Key: "$lt", Value: after.CreatedAt}}}},
			bson.D{{Key: "createdAt", Value: after.CreatedAt}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: after.ID}}}},
		}})
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit))
	docs, err := s.find(ctx, filter, opts)
	if err != nil {
		return nil, err
	}
	out := make([]*notification.Notification, len(docs))
	for i := range docs {
		out[i] = docs[i].notification()
	}
	return out, nil
}

func (s *Store) find(ctx context.Context, filter bson.D, opts *options.FindOptionsBuilder) ([]notificationDoc, error) {
	cur, err := s.notifications.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("find notifications: %w", err)
	}
	var docs []notificationDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	return docs, nil
}

// Claim implements notification.Store.
func (s *Store) Claim(ctx context.Context, now, leaseUntil time.Time, claim string) (*notification.Notification, error) {
	filter := bson.D{
		{Key: "status", Value: string(notification.StatusPending)},
		{Key: "dueAt", Value: bson.D{{Key: "$lte", Value: now}}},
	}
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "dueAt", Value: leaseUntil}, {Key: "claim", Value: claim}}},
		{Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}},
	}
	opts := options.FindOneAndUpdate().
		SetSort(bson.D{{Key: "dueAt", Value: 1}, {Key: "_id", Value: 1}}).
		SetReturnDocument(options.After)
	var d notificationDoc
	err := s.notifications.FindOneAndUpdate(ctx, filter, update, opts).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim a due notification: %w", err)
	}
	return d.notification(), nil
}

// NextDue implements notification.Store.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	opts := options.FindOne().
		SetSort(bson.D{{Key: "dueAt", Value: 1}}).
		SetProjection(bson.D{{Key: "dueAt", Value: 1}})
	var d struct {
		DueAt time.Time `bson:"dueAt"`
	}
	err := s.notifications.FindOne(ctx, bson.D{{Key: "status", Value: string(notification.StatusPending)}}, opts).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("find the next due notification: %w", err)
	}
	return d.DueAt.UTC(), true, nil
}

// Finish implements notification.Store.
func (s *Store) Finish(ctx context.Context, id, claim string, status notification.Status, lastError string, at, due time.Time) (bool, error) {
	set := bson.D{{Key: "status", Value: string(status)}, {Key: "claim", Value: ""}}
	switch status {
	case notification.StatusSent, notification.StatusLogged:
		set = append(set, bson.E{Key: "sentAt", Value: at})
	case notification.StatusPending:
		set = append(set, bson.E{Key: "dueAt", Value: due})
	}
	if lastError != "" {
		set = append(set, bson.E{Key: "lastError", Value: lastError})
	}
	res, err := s.notifications.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "claim", Value: claim}},
		bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return false, fmt.Errorf("update notification %s: %w", id, err)
	}
	return res.MatchedCount == 1, nil
}

// recipientDoc is what is known of a user. EmailAt and NameAt are the times
// of the events the values came from, so that an older event delivered
// late does not overwrite a newer value.
type recipientDoc struct {
	ID      string    `bson:"_id"`
	Email   string    `bson:"email"`
	EmailAt time.Time `bson:"emailAt"`
	Name    string    `bson:"name"`
	NameAt  time.Time `bson:"nameAt"`
}

// SaveRecipient implements notification.Store.
func (s *Store) SaveRecipient(ctx context.Context, r notification.Recipient, at time.Time) error {
	doc := recipientDoc{ID: r.UserID}
	if r.Email != "" {
		doc.Email, doc.EmailAt = r.Email, at
	}
	if r.Name != "" {
		doc.Name, doc.NameAt = r.Name, at
	}
	_, err := s.recipients.InsertOne(ctx, doc)
	if err == nil {
		return nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("insert recipient %s: %w", r.UserID, err)
	}
	set := func(field, value, atField string) error {
		if value == "" {
			return nil
		}
		_, err := s.recipients.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: r.UserID}, {Key: atField, Value: bson.D{{Key: "$lte", Value: at}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: value}, {Key: atField, Value: at}}}})
		if err != nil {
			return fmt.Errorf("update recipient %s's %s: %w", r.UserID, field, err)
		}
		return nil
	}
	if err := set("email", r.Email, "emailAt"); err != nil {
		return err
	}
	return set("name", r.Name, "nameAt")
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
	return notification.Recipient{UserID: d.ID, Email: d.Email, Name: d.Name}, true, nil
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
