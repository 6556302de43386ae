package notification

import (
	"strings"
	"testing"

	"github.com/shopgraph/shopgraph/internal/apperr"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"+14155550123", "+14155550123"},
		{" +1 (415) 555-0123 ", "+14155550123"},
		{"+44 20 7946 0958", "+442079460958"},
		{"+33.1.23.45.67.89", "+33123456789"},
		{"4155550123", ""},        // no country code
		{"+04155550123", ""},      // country codes do not start with 0
		{"+1415555012345678", ""}, // more than 15 digits
		{"+12345", ""},            // too short
		{"+1415555O123", ""},      // a letter O
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizePhone(tt.in)
			if tt.want == "" {
				if e, ok := apperr.As(err); !ok || e.Code != apperr.InvalidInput || e.Field != "phone" {
					t.Fatalf("NormalizePhone(%q) = %q, %v; want INVALID_INPUT on phone", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRenderEveryKind(t *testing.T) {
	t.Parallel()
	base := Content{Shop: "Shopgraph", Name: "Ada <Lovelace>", Email: "ada@example.com",
		OrderID: "0191b7a2-0000-7000-8000-000000000001", Total: "USD 42.50"}
	tests := []struct {
		kind    Kind
		mod     func(*Content)
		subject string
		// in the text, the HTML and the SMS
		want    []string
		wantSMS []string
	}{
		{kind: KindWelcome, mod: func(c *Content) { c.OrderID, c.Total = "", "" },
			subject: "Welcome to Shopgraph", want: []string{"ada@example.com"}, wantSMS: []string{"Welcome to Shopgraph"}},
		{kind: KindOrderConfirmed, subject: "Your Shopgraph order 0191b7a2-0000-7000-8000-000000000001 is confirmed",
			want: []string{"USD 42.50", base.OrderID}, wantSMS: []string{"confirmed", "USD 42.50"}},
		{kind: KindOrderCancelled, mod: func(c *Content) { c.Reason = "card declined: insufficient funds" },
			subject: "Your Shopgraph order 0191b7a2-0000-7000-8000-000000000001 was cancelled",
			want:    []string{"card declined: insufficient funds", "USD 42.50"}, wantSMS: []string{"cancelled: card declined"}},
		{kind: KindOrderRejected, mod: func(c *Content) { c.Reason = "out of stock: MUG-1" },
			subject: "We could not accept your Shopgraph order 0191b7a2-0000-7000-8000-000000000001",
			want:    []string{"out of stock: MUG-1"}, wantSMS: []string{"out of stock: MUG-1"}},
		{kind: KindOrderShipped, mod: func(c *Content) { c.Carrier, c.TrackingNumber = "UPS", "1Z999AA10123456784" },
			subject: "Your Shopgraph order 0191b7a2-0000-7000-8000-000000000001 has shipped",
			want:    []string{"UPS", "1Z999AA10123456784"}, wantSMS: []string{"with UPS", "tracking number 1Z999AA10123456784"}},
		{kind: KindOrderDelivered, subject: "Your Shopgraph order 0191b7a2-0000-7000-8000-000000000001 was delivered",
			want: []string{"delivered", base.OrderID}, wantSMS: []string{"delivered"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			t.Parallel()
			c := base
			if tt.mod != nil {
				tt.mod(&c)
			}
			m, err := Render(tt.kind, c)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != tt.subject {
				t.Errorf("subject %q, want %q", m.Subject, tt.subject)
			}
			if !strings.HasPrefix(m.Text, "Hi Ada <Lovelace>,\n") {
				t.Errorf("text does not greet by name:\n%s", m.Text)
			}
			if !strings.Contains(m.HTML, "Hi Ada &lt;Lovelace&gt;,") || strings.Contains(m.HTML, "<Lovelace>") {
				t.Errorf("HTML does not greet by name, escaped:\n%s", m.HTML)
			}
			if !strings.Contains(m.HTML, "<title>"+tt.subject+"</title>") {
				t.Errorf("HTML title is not the subject:\n%s", m.HTML)
			}
			for _, w := range tt.want {
				if !strings.Contains(m.Text, w) || !strings.Contains(m.HTML, w) {
					t.Errorf("text or HTML lacks %q:\n%s\n%s", w, m.Text, m.HTML)
				}
			}
			for _, w := range tt.wantSMS {
				if !strings.Contains(m.SMS, w) {
					t.Errorf("SMS %q lacks %q", m.SMS, w)
				}
			}
			if strings.Contains(m.Text+m.SMS+m.HTML, "<no value>") {
				t.Errorf("a value is missing:\n%s\n%s", m.Text, m.SMS)
			}
		})
	}
}

func TestRenderWithoutName(t *testing.T) {
	t.Parallel()
	m, err := Render(KindOrderDelivered, Content{Shop: "Shopgraph", OrderID: "o1", Total: "EUR 1.00"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Text, "Hello,\n") || !strings.Contains(m.HTML, "<p>Hello,</p>") {
		t.Errorf("want a greeting without a name:\n%s\n%s", m.Text, m.HTML)
	}
}
