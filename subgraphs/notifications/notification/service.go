package notification

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/auth"
	"github.com/shopgraph/shopgraph/internal/contract"
)

// Page sizes of MyNotifications.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// DefaultShop is the shop's name in messages.
const DefaultShop = "Shopgraph"

// Config configures a Service.
type Config struct {
	Store Store
	// Shop is the shop's name in messages (DefaultShop if empty).
	Shop string
	// Created is called with the IDs of new notifications once they are
	// stored, to hand them to the worker that sends them; nil for none.
	Created func(ids ...string)
	// Log defaults to slog.Default().
	Log *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Service decides what to send when orders and users change, and answers
// the signed-in user's questions about their notifications and preferences.
//
// Who sees what: a user sees their own notifications and preferences;
// administrators (and services) may read any notification by ID.
type Service struct {
	store   Store
	shop    string
	created func(ids ...string)
	log     *slog.Logger
	now     func() time.Time
}

// NewService returns the service described by c.
func NewService(c Config) *Service {
	s := &Service{store: c.Store, shop: c.Shop, created: c.Created, log: c.Log, now: c.Now}
	if s.shop == "" {
		s.shop = DefaultShop
	}
	if s.created == nil {
		s.created = func(...string) {}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Source identifies the message that causes notifications.
type Source struct {
	// MessageID is the message's unique ID; the notifications' IDs derive
	// from it.
	MessageID string
	// At is when the message was created.
	At time.Time
}

// kindOf returns the kind of notification that an order status calls for.
func kindOf(status string) (Kind, bool) {
	switch status {
	case "CONFIRMED":
		return KindOrderConfirmed, true
	case "CANCELLED":
		return KindOrderCancelled, true
	case "REJECTED":
		return KindOrderRejected, true
	case "SHIPPED":
		return KindOrderShipped, true
	case "DELIVERED":
		return KindOrderDelivered, true
	}
	return "", false
}

// UserRegistered records the new user's email and name and welcomes them.
// Handling the same message again has no further effect.
// Returns INVALID_INPUT if the event has no user ID or message ID.
func (s *Service) UserRegistered(ctx context.Context, src Source, e contract.UserRegistered) error {
	if src.MessageID == "" || e.UserID == "" {
		return apperr.Errorf(apperr.InvalidInput, "UserRegistered without message or user ID")
	}
	email := cleanEmail(e.Email)
	name := strings.TrimSpace(e.Name)
	if err := s.store.SaveRecipient(ctx, Recipient{UserID: e.UserID, Email: email, Name: name}, src.At); err != nil {
		return fmt.Errorf("save recipient %s: %w", e.UserID, err)
	}
	r, err := s.recipient(ctx, e.UserID, email)
	if err != nil {
		return err
	}
	return s.notify(ctx, src, r, KindWelcome, "", Content{Shop: s.shop})
}

// OrderStatusChanged records the customer's email and, if the new status
// is one that customers hear about (CONFIRMED, CANCELLED, REJECTED, SHIPPED,
// DELIVERED), notifies them. Handling the same message again has no further
// effect.
// Returns INVALID_INPUT if the event has no message, order or customer ID.
func (s *Service) OrderStatusChanged(ctx context.Context, src Source, e contract.OrderStatusChanged) error {
	if src.MessageID == "" || e.OrderID == "" || e.CustomerID == "" {
		return apperr.Errorf(apperr.InvalidInput, "OrderStatusChanged without message, order or customer ID")
	}
	email := cleanEmail(e.Email)
	at := e.At
	if at.IsZero() {
		at = src.At
	}
	if email != "" {
		if err := s.store.SaveRecipient(ctx, Recipient{UserID: e.CustomerID, Email: email}, at); err != nil {
			return fmt.Errorf("save recipient %s: %w", e.CustomerID, err)
		}
	}
	kind, ok := kindOf(e.Status)
	if !ok {
		return nil
	}
	r, err := s.recipient(ctx, e.CustomerID, email)
	if err != nil {
		return err
	}
	c := Content{
		Shop:           s.shop,
		OrderID:        cmp.Or(e.Number, e.OrderID),
		Reason:         strings.TrimSpace(e.Reason),
		Carrier:        strings.TrimSpace(e.Carrier),
		TrackingNumber: strings.TrimSpace(e.TrackingNumber),
	}
	if e.Total.Currency != "" {
		c.Total = e.Total.String()
	}
	return s.notify(ctx, src, r, kind, e.OrderID, c)
}

// recipient returns what is known of the user, with the email address the
// event carries (if any) in preference to the recorded one.
func (s *Service) recipient(ctx context.Context, userID, email string) (Recipient, error) {
	r, _, err := s.store.Recipient(ctx, userID)
	if err != nil {
		return Recipient{}, fmt.Errorf("load recipient %s: %w", userID, err)
	}
	r.UserID = userID
	if email != "" {
		r.Email = email
	}
	return r, nil
}

// notify stores a notification of kind for each channel that the user
// wants and can be reached on.
func (s *Service) notify(ctx context.Context, src Source, r Recipient, kind Kind, orderID string, c Content) error {
	prefs, err := s.store.Preferences(ctx, r.UserID)
	if err != nil {
		return fmt.Errorf("load preferences of %s: %w", r.UserID, err)
	}
	c.Name, c.Email = r.Name, r.Email
	msg, err := Render(kind, c)
	if err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	var out []*Notification
	switch {
	case !prefs.EmailEnabled:
		s.log.DebugContext(ctx, "email notifications turned off", "user_id", r.UserID, "kind", kind)
	case r.Email == "":
		s.log.WarnContext(ctx, "no email address known for user; email notification skipped",
			"user_id", r.UserID, "kind", kind, "message_id", src.MessageID)
	default:
		out = append(out, &Notification{
			ID: SourceID(src.MessageID, ChannelEmail), Channel: ChannelEmail,
			Recipient: r.Email, RecipientName: r.Name,
			Subject: msg.Subject, Body: msg.Text, HTML: msg.HTML,
		})
	}
	if prefs.SMSEnabled && prefs.Phone != "" {
		out = append(out, &Notification{
			ID: SourceID(src.MessageID, ChannelSMS), Channel: ChannelSMS,
			Recipient: prefs.Phone, RecipientName: r.Name, Body: msg.SMS,
		})
	}
	var created []string
	for _, n := range out {
		n.UserID, n.Kind, n.OrderID = r.UserID, kind, orderID
		n.Status, n.CreatedAt, n.DueAt = StatusPending, now, now
		ok, err := s.store.Create(ctx, n)
		if err != nil {
			return fmt.Errorf("store notification %s: %w", n.ID, err)
		}
		if ok {
			created = append(created, n.ID)
		}
	}
	if len(created) > 0 {
		s.created(created...)
	}
	return nil
}

// cleanEmail returns the bare address of an email address, or "" if it is
// not one.
func cleanEmail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return ""
	}
	return a.Address
}

// Page is a page of notifications, newest first.
type Page struct {
	Items []*Notification
	// HasNext reports whether more notifications follow the last item.
	HasNext bool
}

// MyNotifications returns the signed-in user's notifications, newest first:
// first of them (DefaultPageSize if nil) after the cursor after ("" for the
// newest).
// Returns UNAUTHENTICATED without a signed-in user and INVALID_INPUT if
// first is not 0 to MaxPageSize or after is not a cursor.
func (s *Service) MyNotifications(ctx context.Context, first *int, after string) (Page, error) {
	id, err := auth.Require(ctx)
	if err != nil {
		return Page{}, err
	}
	limit := DefaultPageSize
	if first != nil {
		limit = *first
	}
	if limit < 0 || limit > MaxPageSize {
		return Page{}, apperr.Invalid("first", "first must be 0 to %d, got %d", MaxPageSize, limit)
	}
	var cur *Cursor
	if after != "" {
		c, err := DecodeCursor(after)
		if err != nil {
			return Page{}, err
		}
		cur = &c
	}
	if limit == 0 {
		return Page{Items: []*Notification{}}, nil
	}
	ns, err := s.store.ListByUser(ctx, id.UserID, cur, limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("list notifications: %w", err)
	}
	p := Page{Items: ns}
	if len(ns) > limit {
		p.Items, p.HasNext = ns[:limit], true
	}
	return p, nil
}

// Notifications returns those notifications with ids that the caller may
// see, by ID: their own, or any for administrators.
// Returns UNAUTHENTICATED without a signed-in user.
func (s *Service) Notifications(ctx context.Context, ids []string) (map[string]*Notification, error) {
	id, err := auth.Require(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(ids))
	for _, k := range ids {
		if k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return map[string]*Notification{}, nil
	}
	ns, err := s.store.Notifications(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("load notifications: %w", err)
	}
	for k, n := range ns {
		if n.UserID != id.UserID && !id.IsAdmin() {
			delete(ns, k)
		}
	}
	return ns, nil
}

// Preferences returns the signed-in user's preferences.
// Returns UNAUTHENTICATED without a signed-in user.
func (s *Service) Preferences(ctx context.Context) (Preferences, error) {
	id, err := auth.Require(ctx)
	if err != nil {
		return Preferences{}, err
	}
	p, err := s.store.Preferences(ctx, id.UserID)
	if err != nil {
		return Preferences{}, fmt.Errorf("load preferences: %w", err)
	}
	return p, nil
}

// PreferencesInput sets all of a user's preferences at once.
type PreferencesInput struct {
	EmailEnabled bool
	SMSEnabled   bool
	// Phone is a phone number, or "" for none.
	Phone string
}

// UpdatePreferences replaces the signed-in user's preferences and returns
// them. The phone number is stored in E.164 form.
// Returns UNAUTHENTICATED without a signed-in user, and INVALID_INPUT
// (field "phone") if the phone number is not a valid one, or if SMS is
// enabled without one; then nothing is changed.
func (s *Service) UpdatePreferences(ctx context.Context, in PreferencesInput) (Preferences, error) {
	id, err := auth.Require(ctx)
	if err != nil {
		return Preferences{}, err
	}
	p := Preferences{EmailEnabled: in.EmailEnabled, SMSEnabled: in.SMSEnabled}
	if strings.TrimSpace(in.Phone) != "" {
		if p.Phone, err = NormalizePhone(in.Phone); err != nil {
			return Preferences{}, err
		}
	}
	if p.SMSEnabled && p.Phone == "" {
		return Preferences{}, apperr.Invalid("phone", "a phone number is required to receive SMS notifications")
	}
	p.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
	if err := s.store.SetPreferences(ctx, id.UserID, p); err != nil {
		return Preferences{}, fmt.Errorf("save preferences: %w", err)
	}
	return p, nil
}
