package graph

import (
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/graph/model"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/notification"
)

// Global ID types.
const (
	typeNotification = "Notification"
	typeOrder        = "Order"
	typeUser         = "User"
)

func toNotification(n *notification.Notification) *model.Notification {
	if n == nil {
		return nil
	}
	out := &model.Notification{
		ID:        gid.Encode(typeNotification, n.ID),
		Kind:      model.NotificationKind(n.Kind),
		Channel:   model.NotificationChannel(n.Channel),
		User:      &model.User{ID: gid.Encode(typeUser, n.UserID)},
		Recipient: n.Recipient,
		Subject:   optional(n.Subject),
		Body:      n.Body,
		Status:    model.NotificationStatus(n.Status),
		Attempts:  n.Attempts,
		LastError: optional(n.LastError),
		CreatedAt: n.CreatedAt,
	}
	if n.OrderID != "" {
		out.Order = &model.Order{ID: gid.Encode(typeOrder, n.OrderID)}
	}
	if !n.SentAt.IsZero() {
		t := n.SentAt
		out.SentAt = &t
	}
	return out
}

func toPreferences(p notification.Preferences) *model.NotificationPreferences {
	out := &model.NotificationPreferences{
		EmailEnabled: p.EmailEnabled,
		SmsEnabled:   p.SMSEnabled,
		Phone:        optional(p.Phone),
	}
	if !p.UpdatedAt.IsZero() {
		t := p.UpdatedAt
		out.UpdatedAt = &t
	}
	return out
}

// toConnection maps a page; after reports whether it was asked for after a
// cursor (so notifications precede it).
func toConnection(p notification.Page, after bool) *model.NotificationConnection {
	c := &model.NotificationConnection{
		Edges:    make([]*model.NotificationEdge, len(p.Items)),
		PageInfo: &model.PageInfo{HasNextPage: p.HasNext, HasPreviousPage: after},
	}
	for i, n := range p.Items {
		c.Edges[i] = &model.NotificationEdge{Cursor: notification.CursorOf(n).Encode(), Node: toNotification(n)}
	}
	if len(c.Edges) > 0 {
		c.PageInfo.StartCursor = &c.Edges[0].Cursor
		c.PageInfo.EndCursor = &c.Edges[len(c.Edges)-1].Cursor
	}
	return c
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
