package notifications_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/redis/go-redis/v9"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/notifications"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/email"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/notifytest"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/sms"
)

// options shape a test's service.
type options struct {
	// smtp configures the SMTP server; noSMTP runs without one (log only).
	smtp   notifytest.SMTPOptions
	noSMTP bool
	// sms answers SMS requests (nil: 201 Created).
	sms         func(n int) (int, string)
	maxAttempts int
}

// env is a running notifications service (consumers and worker included)
// behind an HTTP server, with a real SMTP server, a fake SMS API, Redis
// streams to publish events on, and tokens.
type env struct {
	url    string
	rdb    *redis.Client
	prefix string
	smtp   *notifytest.SMTPServer
	sms    *notifytest.SMSServer
	key    jwk.Key
	logs   *recorder
	admin  string
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	key, verifier := testenv.SigningKey(t)
	rdb, prefix := testenv.Redis(t)
	e := &env{rdb: rdb, prefix: prefix, key: key, logs: &recorder{}}
	e.admin = testenv.Token(t, key, "admin-1", "ADMIN")
	log := slog.New(teeHandler{next: testenv.Logger().Handler(), rec: e.logs})

	c := notifications.Config{
		DB:           testenv.Mongo(t, "notifications"),
		Redis:        rdb,
		StreamPrefix: prefix,
		Verifier:     verifier,
		// Retries come at once, so that tests need not wait for backoff.
		RetryBase:   time.Millisecond,
		MaxAttempts: o.maxAttempts,
		Log:         log,
	}
	if !o.noSMTP {
		e.smtp = notifytest.StartSMTP(t, o.smtp)
		m, err := email.New(email.Config{Host: e.smtp.Host, Port: e.smtp.Port,
			From: "Shopgraph <no-reply@shopgraph.test>", StartTLS: email.StartTLSOff})
		if err != nil {
			t.Fatal(err)
		}
		c.Mailer = m
	}
	e.sms = notifytest.StartSMS(t, o.sms)
	p, err := sms.NewHTTP(sms.Config{URL: e.sms.URL, AccountSID: "AC123", AuthToken: "secret-token", From: "+14155550100"})
	if err != nil {
		t.Fatal(err)
	}
	c.SMS = p

	svc, err := notifications.New(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	srv := httptest.NewServer(svc.Handler)
	t.Cleanup(srv.Close)
	e.url = srv.URL + "/graphql"

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return e
}

// token returns an access token for a customer.
func (e *env) token(t *testing.T, userID string) string {
	t.Helper()
	return testenv.Token(t, e.key, userID, "CUSTOMER")
}

// publish adds messages to a stream as the relay does.
func (e *env) publish(t *testing.T, stream string, msgs ...events.Message) {
	t.Helper()
	for _, m := range msgs {
		body, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		values, err := redisstream.DefaultMarshallerUnmarshaller{}.Marshal("", message.NewMessage(m.ID, body))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: e.prefix + stream, Values: values}).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func newMessage(t *testing.T, typ, key string, payload any) events.Message {
	t.Helper()
	m, err := events.New(typ, key, payload, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func registered(t *testing.T, userID, addr, name string) events.Message {
	return newMessage(t, contract.TypeUserRegistered, userID,
		contract.UserRegistered{UserID: userID, Email: addr, Name: name})
}

func statusChanged(t *testing.T, e contract.OrderStatusChanged) events.Message {
	if e.Total.Currency == "" {
		e.Total = money.Money{Amount: 4250, Currency: "USD"}
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	return newMessage(t, contract.TypeOrderStatusChanged, e.OrderID, e)
}

type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code  string `json:"code"`
		Field string `json:"field"`
	} `json:"extensions"`
}

type response struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// do posts a GraphQL request with token ("" for none).
func (e *env) do(t *testing.T, token, query string, vars map[string]any) response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out response
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return out
}

// ok posts a request that must succeed and decodes its data into out.
func (e *env) ok(t *testing.T, token, query string, vars map[string]any, out any) {
	t.Helper()
	res := e.do(t, token, query, vars)
	if len(res.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v", res.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(res.Data, out); err != nil {
			t.Fatalf("decode data %s: %v", res.Data, err)
		}
	}
}

// fails posts a request that must fail with code (and, if given, field).
func (e *env) fails(t *testing.T, token, query string, vars map[string]any, code, field string) {
	t.Helper()
	res := e.do(t, token, query, vars)
	if len(res.Errors) == 0 {
		t.Fatalf("want error %s, got data %s", code, res.Data)
	}
	if got := res.Errors[0]; got.Extensions.Code != code || (field != "" && got.Extensions.Field != field) {
		t.Fatalf("want error %s on %q, got %+v", code, field, res.Errors)
	}
}

type notificationJSON struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Channel   string `json:"channel"`
	User      struct{ ID string }
	Recipient string  `json:"recipient"`
	Subject   *string `json:"subject"`
	Body      string  `json:"body"`
	Status    string  `json:"status"`
	Attempts  int     `json:"attempts"`
	LastError *string `json:"lastError"`
	Order     *struct {
		ID string `json:"id"`
	} `json:"order"`
	CreatedAt time.Time  `json:"createdAt"`
	SentAt    *time.Time `json:"sentAt"`
}

const notificationFields = `id kind channel user { id } recipient subject body status attempts lastError order { id } createdAt sentAt`

type connection struct {
	Edges []struct {
		Cursor string
		Node   notificationJSON
	}
	PageInfo struct {
		HasNextPage     bool
		HasPreviousPage bool
		EndCursor       *string
	}
}

// list returns a page of the user's notifications.
func (e *env) list(t *testing.T, token string, vars map[string]any) connection {
	t.Helper()
	var out struct{ MyNotifications connection }
	e.ok(t, token, `query($first: Int, $after: String) { myNotifications(first: $first, after: $after) {
		edges { cursor node { `+notificationFields+` } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`, vars, &out)
	return out.MyNotifications
}

// mine returns all of the user's notifications, newest first.
func (e *env) mine(t *testing.T, token string) []notificationJSON {
	t.Helper()
	c := e.list(t, token, map[string]any{"first": 100})
	out := make([]notificationJSON, len(c.Edges))
	for i, ed := range c.Edges {
		out[i] = ed.Node
	}
	return out
}

// settled waits until the user has n notifications and none is PENDING,
// and returns them, newest first.
func (e *env) settled(t *testing.T, token string, n int) []notificationJSON {
	t.Helper()
	var got []notificationJSON
	notifytest.Await(t, "notifications to be delivered", func() bool {
		got = e.mine(t, token)
		return len(got) >= n && !slices.ContainsFunc(got, func(x notificationJSON) bool { return x.Status == "PENDING" })
	})
	if len(got) != n {
		t.Fatalf("%d notifications, want %d: %+v", len(got), n, got)
	}
	return got
}

func orderGID(id string) string { return gid.Encode("Order", id) }

// recorder keeps log records for assertions.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

// find returns the records with message msg and attribute key=value.
func (r *recorder) find(msg, key, value string) []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []slog.Record
	for _, rec := range r.recs {
		if rec.Message != msg {
			continue
		}
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == key && a.Value.String() == value {
				out = append(out, rec)
				return false
			}
			return true
		})
	}
	return out
}

// teeHandler records every record, with the attributes given through
// With, and passes it on to next.
type teeHandler struct {
	next  slog.Handler
	rec   *recorder
	attrs []slog.Attr
}

func (h teeHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	rc := r.Clone()
	rc.AddAttrs(h.attrs...)
	h.rec.mu.Lock()
	h.rec.recs = append(h.rec.recs, rc)
	h.rec.mu.Unlock()
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{h.next.WithAttrs(as), h.rec, append(slices.Clone(h.attrs), as...)}
}

func (h teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{h.next.WithGroup(name), h.rec, h.attrs}
}
