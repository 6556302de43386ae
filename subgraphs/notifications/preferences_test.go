package notifications_test

import (
	"testing"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/testenv"
)

const prefsQuery = `{ notificationPreferences { emailEnabled smsEnabled phone updatedAt } }`

func prefs(t *testing.T, e *env, token string) map[string]any {
	t.Helper()
	var out struct{ NotificationPreferences map[string]any }
	e.ok(t, token, prefsQuery, nil, &out)
	return out.NotificationPreferences
}

func TestPreferencesDefaultsAndUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	tok := e.token(t, "user-"+testenv.ID())
	got := prefs(t, e, tok)
	if got["emailEnabled"] != true || got["smsEnabled"] != false || got["phone"] != nil || got["updatedAt"] != nil {
		t.Fatalf("defaults %v; want email on, SMS off, no phone", got)
	}
	set := setPrefs(t, e, tok, true, true, " +1 (415) 555-0123 ")
	if set["emailEnabled"] != true || set["smsEnabled"] != true || set["phone"] != "+14155550123" || set["updatedAt"] == nil {
		t.Fatalf("update returned %v; want the phone in E.164 form", set)
	}
	if again := prefs(t, e, tok); again["phone"] != "+14155550123" || again["smsEnabled"] != true {
		t.Errorf("stored %v", again)
	}
	// Turning SMS off keeps the number unless it is cleared.
	if set := setPrefs(t, e, tok, true, false, nil); set["phone"] != nil || set["smsEnabled"] != false {
		t.Errorf("after clearing: %v", set)
	}
}

func TestPreferencesRejectBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	tok := e.token(t, "user-"+testenv.ID())
	before := setPrefs(t, e, tok, true, true, "+442079460958")
	const mutation = `mutation($in: NotificationPreferencesInput!) { updateNotificationPreferences(input: $in) { phone } }`
	tests := []struct {
		name  string
		token string
		in    map[string]any
		code  string
		field string
	}{
		{"phone without country code", tok, map[string]any{"emailEnabled": true, "smsEnabled": true, "phone": "415 555 0123"}, "INVALID_INPUT", "phone"},
		{"letters in the phone", tok, map[string]any{"emailEnabled": true, "smsEnabled": false, "phone": "+1 415 CALL NOW"}, "INVALID_INPUT", "phone"},
		{"SMS without a phone", tok, map[string]any{"emailEnabled": false, "smsEnabled": true, "phone": nil}, "INVALID_INPUT", "phone"},
		{"SMS with an empty phone", tok, map[string]any{"emailEnabled": false, "smsEnabled": true, "phone": "  "}, "INVALID_INPUT", "phone"},
		{"missing field", tok, map[string]any{"smsEnabled": false}, "GRAPHQL_VALIDATION_FAILED", ""},
		{"not signed in", "", map[string]any{"emailEnabled": false, "smsEnabled": false}, "UNAUTHENTICATED", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e.fails(t, tt.token, mutation, map[string]any{"in": tt.in}, tt.code, tt.field)
		})
	}
	t.Cleanup(func() {
		// Nothing changed: what was stored before is still stored.
		after := prefs(t, e, tok)
		if after["phone"] != before["phone"] || after["smsEnabled"] != true || after["emailEnabled"] != true ||
			after["updatedAt"] != before["updatedAt"] {
			t.Errorf("preferences changed by rejected input: %v, were %v", after, before)
		}
	})
	e.fails(t, "", prefsQuery, nil, "UNAUTHENTICATED", "")
}

// TestSMSOptIn: a user who turned SMS on gets the SMS through the
// provider's API as well as the email.
func TestSMSOptIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	user := "user-" + testenv.ID()
	tok := e.token(t, user)
	setPrefs(t, e, tok, true, true, "+1 415-555-0123")
	e.publish(t, contract.OrderEvents, statusChanged(t, contract.OrderStatusChanged{
		OrderID: orderID, CustomerID: user, Email: "ada@example.com", Status: "SHIPPED",
		Carrier: "DHL", TrackingNumber: "JD014600003828"}))
	got := e.settled(t, tok, 2)
	byChannel := map[string]notificationJSON{}
	for _, n := range got {
		byChannel[n.Channel] = n
	}
	s, m := byChannel["SMS"], byChannel["EMAIL"]
	if s.Status != "SENT" || s.Recipient != "+14155550123" || s.Subject != nil || s.Kind != "ORDER_SHIPPED" {
		t.Errorf("SMS entry %+v", s)
	}
	if m.Status != "SENT" || m.Recipient != "ada@example.com" {
		t.Errorf("email entry %+v", m)
	}
	reqs := e.sms.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d SMS requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.ContentType != "application/x-www-form-urlencoded" || r.User != "AC123" || r.Password != "secret-token" {
		t.Errorf("request %s %s with basic auth %q:%q", r.Method, r.ContentType, r.User, r.Password)
	}
	want := "Shopgraph: your order " + orderID + " has shipped with DHL, tracking number JD014600003828."
	if r.Form.Get("To") != "+14155550123" || r.Form.Get("From") != "+14155550100" || r.Form.Get("Body") != want {
		t.Errorf("form %v; want Body %q", r.Form, want)
	}
	if s.Body != want {
		t.Errorf("logged SMS body %q", s.Body)
	}
	if len(e.smtp.Mails()) != 1 {
		t.Errorf("%d emails, want 1", len(e.smtp.Mails()))
	}
}

// TestEmailOptOut: a user who turned email off gets none.
func TestEmailOptOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	quiet, other := "user-"+testenv.ID(), "user-"+testenv.ID()
	quietTok := e.token(t, quiet)
	setPrefs(t, e, quietTok, false, false, nil)
	// The stream is handled in order: once the other user's email is out,
	// the quiet user's event was handled.
	e.publish(t, contract.OrderEvents,
		statusChanged(t, contract.OrderStatusChanged{OrderID: orderID, CustomerID: quiet, Email: "quiet@example.com", Status: "CONFIRMED"}),
		statusChanged(t, contract.OrderStatusChanged{OrderID: orderID, CustomerID: other, Email: "other@example.com", Status: "CONFIRMED"}))
	e.settled(t, e.token(t, other), 1)
	if got := e.mine(t, quietTok); len(got) != 0 {
		t.Errorf("the user who opted out has notifications: %+v", got)
	}
	for _, m := range e.smtp.Mails() {
		if m.To[0] == "quiet@example.com" {
			t.Errorf("an email went to the user who opted out: %s", m.Subject)
		}
	}
	if len(e.sms.Requests()) != 0 {
		t.Errorf("SMS sent")
	}
}
