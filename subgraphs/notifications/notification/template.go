package notification

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// The templates: for each kind, <kind>.txt defines "subject", "text" (the
// email's plain-text part) and "sms", parsed with text/template together
// with common.txt; <kind>.html defines "content", the email's HTML part
// inside layout.html, parsed with html/template, which escapes every value.
//
//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

type kindTemplates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// templates are parsed once: they are part of the program, so a template
// that does not parse is a bug that the tests catch.
var templates = mustParseTemplates()

func templateName(k Kind) string { return strings.ToLower(string(k)) }

func mustParseTemplates() map[Kind]kindTemplates {
	out := make(map[Kind]kindTemplates, len(Kinds))
	for _, k := range Kinds {
		name := templateName(k)
		t := texttemplate.Must(texttemplate.New(name).Option("missingkey=error").
			ParseFS(templateFS, "templates/common.txt", "templates/"+name+".txt"))
		h := htmltemplate.Must(htmltemplate.New(name).Option("missingkey=error").
			ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
		out[k] = kindTemplates{text: t, html: h}
	}
	return out
}

// Content is what a template may show.
type Content struct {
	// Shop is the shop's name, such as Shopgraph.
	Shop string
	// Name is the recipient's name for the greeting; "" if unknown.
	Name string
	// Email is the recipient's email address.
	Email string
	// OrderID is the order's reference for people: its number (SG-000123),
	// or its ID if the event carries no number; "" for a welcome.
	OrderID string
	// Total is the order's total, formatted, such as "USD 42.50".
	Total string
	// Reason explains a cancellation or rejection.
	Reason string
	// Carrier and TrackingNumber are set when the order ships.
	Carrier        string
	TrackingNumber string
	// Subject is the rendered subject (set by Render, for the HTML title).
	Subject string
}

// Message is a rendered notification.
type Message struct {
	Subject string
	Text    string
	HTML    string
	SMS     string
}

// Render renders the templates of kind k with c.
func Render(k Kind, c Content) (Message, error) {
	t, ok := templates[k]
	if !ok {
		return Message{}, fmt.Errorf("render: no templates for kind %q", k)
	}
	text := func(name string) (string, error) {
		var b bytes.Buffer
		if err := t.text.ExecuteTemplate(&b, name, c); err != nil {
			return "", fmt.Errorf("render %s %s: %w", k, name, err)
		}
		return b.String(), nil
	}
	var m Message
	var err error
	if m.Subject, err = text("subject"); err != nil {
		return Message{}, err
	}
	// A header is one line, whatever the values held.
	m.Subject = strings.Join(strings.Fields(m.Subject), " ")
	if m.Text, err = text("text"); err != nil {
		return Message{}, err
	}
	m.Text = strings.TrimSpace(m.Text) + "\n"
	if m.SMS, err = text("sms"); err != nil {
		return Message{}, err
	}
	m.SMS = strings.Join(strings.Fields(m.SMS), " ")
	c.Subject = m.Subject
	var b bytes.Buffer
	if err := t.html.ExecuteTemplate(&b, "layout", c); err != nil {
		return Message{}, fmt.Errorf("render %s html: %w", k, err)
	}
	m.HTML = b.String()
	return m, nil
}
