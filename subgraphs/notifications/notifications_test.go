package notifications_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/notifytest"
)

const orderID = "0191b7a2-5d1e-7c3a-9f00-00000000a001"

// TestEachEventSendsItsEmail publishes each event that customers hear about
// and checks the email that the SMTP server receives.
func TestEachEventSendsItsEmail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// register first publishes UserRegistered (name Ada Lovelace).
		register bool
		event    contract.OrderStatusChanged // none: the welcome only
		kind     string
		subject  string
		greeting string
		// want is in both the text and the HTML part.
		want []string
	}{
		{name: "welcome", register: true, kind: "WELCOME", subject: "Welcome to Shopgraph", greeting: "Hi Ada Lovelace,",
			want: []string{"Welcome to Shopgraph!", "ada@example.com"}},
		{name: "confirmed", register: true, kind: "ORDER_CONFIRMED",
			event:   contract.OrderStatusChanged{Status: "CONFIRMED", Previous: "AWAITING_PAYMENT"},
			subject: "Your Shopgraph order " + orderID + " is confirmed", greeting: "Hi Ada Lovelace,",
			want: []string{orderID, "USD 42.50", "Your payment was accepted"}},
		{name: "cancelled with the reason", register: true, kind: "ORDER_CANCELLED",
			event:   contract.OrderStatusChanged{Status: "CANCELLED", Reason: "card declined: insufficient funds"},
			subject: "Your Shopgraph order " + orderID + " was cancelled", greeting: "Hi Ada Lovelace,",
			want: []string{"card declined: insufficient funds", orderID, "USD 42.50"}},
		{name: "rejected with the reason", register: true, kind: "ORDER_REJECTED",
			event:   contract.OrderStatusChanged{Status: "REJECTED", Reason: "not enough stock of MUG-1"},
			subject: "We could not accept your Shopgraph order " + orderID, greeting: "Hi Ada Lovelace,",
			want: []string{"not enough stock of MUG-1", orderID}},
		{name: "shipped with carrier and tracking number", register: true, kind: "ORDER_SHIPPED",
			event: contract.OrderStatusChanged{Status: "SHIPPED", Carrier: "UPS", TrackingNumber: "1Z999AA10123456784",
				Total: money.Money{Amount: 1999, Currency: "EUR"}},
			subject: "Your Shopgraph order " + orderID + " has shipped", greeting: "Hi Ada Lovelace,",
			want: []string{"UPS", "1Z999AA10123456784", "EUR 19.99"}},
		{name: "delivered", register: true, kind: "ORDER_DELIVERED",
			event:   contract.OrderStatusChanged{Status: "DELIVERED"},
			subject: "Your Shopgraph order " + orderID + " was delivered", greeting: "Hi Ada Lovelace,",
			want: []string{"was delivered", orderID}},
		{name: "a customer whose name is not known", kind: "ORDER_CONFIRMED",
			event:   contract.OrderStatusChanged{Status: "CONFIRMED", Total: money.Money{Amount: 500, Currency: "JPY"}},
			subject: "Your Shopgraph order " + orderID + " is confirmed", greeting: "Hello,",
			want: []string{"JPY 500"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, options{})
			user := "user-" + testenv.ID()
			want := 0
			if tt.register {
				e.publish(t, contract.UserEvents, registered(t, user, "ada@example.com", "Ada Lovelace"))
				want++
				e.smtp.Wait(t, want) // so that the order's email comes second
			}
			if tt.event.Status != "" {
				ev := tt.event
				ev.OrderID, ev.CustomerID, ev.Email = orderID, user, "ada@example.com"
				e.publish(t, contract.OrderEvents, statusChanged(t, ev))
				want++
			}
			mails := e.smtp.Wait(t, want)
			m := mails[want-1]
			if m.Subject != tt.subject {
				t.Errorf("subject %q, want %q", m.Subject, tt.subject)
			}
			if len(m.To) != 1 || m.To[0] != "ada@example.com" || !strings.Contains(m.Header.Get("To"), "ada@example.com") {
				t.Errorf("sent to %v (To: %s)", m.To, m.Header.Get("To"))
			}
			if m.From != "no-reply@shopgraph.test" {
				t.Errorf("envelope sender %q", m.From)
			}
			if !strings.HasPrefix(m.Text, tt.greeting+"\n") {
				t.Errorf("text part does not start with %q:\n%s", tt.greeting, m.Text)
			}
			if !strings.Contains(m.HTML, "<p>"+tt.greeting+"</p>") {
				t.Errorf("HTML part lacks the greeting %q:\n%s", tt.greeting, m.HTML)
			}
			for _, w := range tt.want {
				if !strings.Contains(m.Text, w) || !strings.Contains(m.HTML, w) {
					t.Errorf("text or HTML part lacks %q:\n%s\n%s", w, m.Text, m.HTML)
				}
			}

			// The delivery log says the same.
			got := e.settled(t, e.token(t, user), want)
			n := got[0]
			if n.Kind != tt.kind || n.Channel != "EMAIL" || n.Status != "SENT" || n.Attempts != 1 ||
				n.Recipient != "ada@example.com" || n.Subject == nil || *n.Subject != tt.subject ||
				n.SentAt == nil || n.LastError != nil || n.User.ID != gid.Encode("User", user) {
				t.Errorf("log entry %+v", n)
			}
			if n.Body != m.Text {
				t.Errorf("logged body differs from the text sent:\n%s\n---\n%s", n.Body, m.Text)
			}
			if tt.event.Status != "" && (n.Order == nil || n.Order.ID != orderGID(orderID)) {
				t.Errorf("order %+v, want %s", n.Order, orderGID(orderID))
			}
			if tt.event.Status == "" && n.Order != nil {
				t.Errorf("a welcome is about order %+v", n.Order)
			}
		})
	}
}

// TestStatusesWithoutNotification: statuses that customers do not hear
// about make no notification.
func TestStatusesWithoutNotification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	user := "user-" + testenv.ID()
	ev := func(status string) contract.OrderStatusChanged {
		return contract.OrderStatusChanged{OrderID: orderID, CustomerID: user, Email: "ada@example.com", Status: status}
	}
	// The consumer handles a stream in order, so once DELIVERED is in the
	// log the others were handled.
	e.publish(t, contract.OrderEvents, statusChanged(t, ev("PENDING")), statusChanged(t, ev("AWAITING_PAYMENT")),
		statusChanged(t, ev("REFUNDED")), statusChanged(t, ev("DELIVERED")))
	got := e.settled(t, e.token(t, user), 1)
	if got[0].Kind != "ORDER_DELIVERED" || len(e.smtp.Mails()) != 1 {
		t.Errorf("log %+v, %d emails; want only the delivery's", got, len(e.smtp.Mails()))
	}
}

// TestRedeliveredEventSendsOnce: the same message delivered twice makes one
// notification and one email.
func TestRedeliveredEventSendsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	user := "user-" + testenv.ID()
	confirmed := statusChanged(t, contract.OrderStatusChanged{OrderID: orderID, CustomerID: user, Email: "ada@example.com", Status: "CONFIRMED"})
	shipped := statusChanged(t, contract.OrderStatusChanged{OrderID: orderID, CustomerID: user, Email: "ada@example.com", Status: "SHIPPED"})
	e.publish(t, contract.OrderEvents, confirmed)
	e.smtp.Wait(t, 1)
	// Again, after it was sent, then a later event: once that one's email
	// is out, the redelivery has been handled.
	e.publish(t, contract.OrderEvents, confirmed, shipped)
	mails := e.smtp.Wait(t, 2)
	got := e.settled(t, e.token(t, user), 2)
	if len(mails) != 2 || got[0].Kind != "ORDER_SHIPPED" || got[1].Kind != "ORDER_CONFIRMED" {
		t.Fatalf("%d emails, log %+v; want one confirmation and one shipping email", len(mails), got)
	}
	if mails[0].Subject == mails[1].Subject || len(e.smtp.Mails()) != 2 {
		t.Errorf("subjects %q and %q", mails[0].Subject, mails[1].Subject)
	}
}

// TestFailingDeliveryIsRetried: a mail server or SMS provider that fails
// twice and then accepts gets the message once, on the third attempt.
func TestFailingDeliveryIsRetried(t *testing.T) {
	t.Parallel()
	deferred := &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	tests := []struct {
		name      string
		o         options
		channel   string
		lastError string
	}{
		{name: "email", channel: "EMAIL", lastError: "the mail server deferred the message: 451 4.3.0 try again later",
			o: options{smtp: notifytest.SMTPOptions{Reject: func(n int) error {
				if n <= 2 {
					return deferred
				}
				return nil
			}}}},
		{name: "SMS", channel: "SMS", lastError: "the SMS provider failed (503)",
			o: options{sms: func(n int) (int, string) {
				if n <= 2 {
					return 503, `{"message":"unavailable"}`
				}
				return 201, `{"sid":"SM1"}`
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.o)
			user := "user-" + testenv.ID()
			tok := e.token(t, user)
			if tt.channel == "SMS" {
				setPrefs(t, e, tok, false, true, "+14155550123")
			}
			e.publish(t, contract.OrderEvents, statusChanged(t, contract.OrderStatusChanged{
				OrderID: orderID, CustomerID: user, Email: "ada@example.com", Status: "CONFIRMED"}))
			got := e.settled(t, tok, 1)[0]
			if got.Channel != tt.channel || got.Status != "SENT" || got.Attempts != 3 || got.LastError == nil || *got.LastError != tt.lastError {
				t.Fatalf("log entry %+v (lastError %v); want SENT after 3 attempts, last error %q", got, deref(got.LastError), tt.lastError)
			}
			switch tt.channel {
			case "EMAIL":
				if len(e.smtp.Mails()) != 1 || e.smtp.Tries() != 3 {
					t.Errorf("%d emails accepted of %d offered; want 1 of 3", len(e.smtp.Mails()), e.smtp.Tries())
				}
			case "SMS":
				if n := len(e.sms.Requests()); n != 3 {
					t.Errorf("%d SMS requests, want 3", n)
				}
			}
		})
	}
}

// TestDeliveryGivesUp: after the bound of attempts, or at once when the
// recipient is refused, a notification is FAILED and logged at Error.
func TestDeliveryGivesUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		o         options
		attempts  int
		lastError string
	}{
		{name: "always deferred", attempts: 3, lastError: "the mail server deferred the message: 451 4.3.0 try again later",
			o: options{maxAttempts: 3, smtp: notifytest.SMTPOptions{Reject: func(int) error {
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
			}}}},
		{name: "recipient refused", attempts: 1, lastError: "the mail server refused the recipient: 550 5.1.1 no such mailbox",
			o: options{maxAttempts: 3, smtp: notifytest.SMTPOptions{RejectRcpt: func(string) error {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
			}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.o)
			user := "user-" + testenv.ID()
			e.publish(t, contract.OrderEvents, statusChanged(t, contract.OrderStatusChanged{
				OrderID: orderID, CustomerID: user, Email: "ada@example.com", Status: "SHIPPED"}))
			got := e.settled(t, e.token(t, user), 1)[0]
			if got.Status != "FAILED" || got.Attempts != tt.attempts || got.SentAt != nil || deref(got.LastError) != tt.lastError {
				t.Fatalf("log entry %+v (lastError %q); want FAILED after %d attempts with %q", got, deref(got.LastError), tt.attempts, tt.lastError)
			}
			if len(e.smtp.Mails()) != 0 {
				t.Errorf("the server accepted %d emails", len(e.smtp.Mails()))
			}
			_, key, _ := gid.Decode(got.ID)
			// The worker logs the give-up once it has recorded it.
			notifytest.Await(t, "the give-up to be logged", func() bool {
				return len(e.logs.find("notification failed; giving up", "notification_id", key)) > 0
			})
			recs := e.logs.find("notification failed; giving up", "notification_id", key)
			if len(recs) != 1 || recs[0].Level.String() != "ERROR" {
				t.Errorf("want one Error record of the give-up, got %d", len(recs))
			}
		})
	}
}

// TestWithoutSMTPEmailsAreLogged: with no mailer (all-in-one mode without
// SMTP settings) emails are logged and recorded as LOGGED.
func TestWithoutSMTPEmailsAreLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{noSMTP: true})
	user := "user-" + testenv.ID()
	e.publish(t, contract.UserEvents, registered(t, user, "grace@example.com", "Grace"))
	got := e.settled(t, e.token(t, user), 1)[0]
	if got.Status != "LOGGED" || got.SentAt == nil || got.Kind != "WELCOME" {
		t.Fatalf("log entry %+v; want a LOGGED welcome", got)
	}
	_, key, _ := gid.Decode(got.ID)
	recs := e.logs.find("email logged, not sent: no SMTP server is configured", "notification_id", key)
	if len(recs) != 1 {
		t.Fatalf("want the email in the log once, got %d records", len(recs))
	}
	attrs := map[string]string{}
	recs[0].Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		return true
	})
	if attrs["to"] != "grace@example.com" || attrs["subject"] != "Welcome to Shopgraph" || !strings.HasPrefix(attrs["body"], "Hi Grace,") {
		t.Errorf("logged %v", attrs)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func setPrefs(t *testing.T, e *env, token string, emailOn, smsOn bool, phone any) map[string]any {
	t.Helper()
	var out struct{ UpdateNotificationPreferences map[string]any }
	e.ok(t, token, `mutation($in: NotificationPreferencesInput!) { updateNotificationPreferences(input: $in) {
		emailEnabled smsEnabled phone updatedAt } }`,
		map[string]any{"in": map[string]any{"emailEnabled": emailOn, "smsEnabled": smsOn, "phone": phone}}, &out)
	return out.UpdateNotificationPreferences
}
