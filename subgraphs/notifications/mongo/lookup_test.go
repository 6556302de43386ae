package mongo_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/shopgraph/shopgraph/internal/testenv"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/mongo"
	"github.com/shopgraph/shopgraph/subgraphs/notifications/notification"
)

// command is one command a client sent: its name, collection and filters.
type command struct {
	name, coll string
	filters    []bson.Raw
}

// commandLog records the commands a client sends.
type commandLog struct {
	mu   sync.Mutex
	cmds []command
}

func (l *commandLog) take() []command {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.cmds
	l.cmds = nil
	return out
}

// filtersOf returns the filters of a find, findAndModify, update or delete.
func filtersOf(name string, cmd bson.Raw) []bson.Raw {
	doc := func(key string) bson.Raw {
		v, err := cmd.LookupErr(key)
		if err != nil {
			return nil
		}
		d, _ := v.DocumentOK()
		return d
	}
	each := func(list, key string) []bson.Raw {
		var out []bson.Raw
		v, err := cmd.LookupErr(list)
		if err != nil {
			return nil
		}
		arr, _ := v.ArrayOK()
		vals, _ := arr.Values()
		for _, v := range vals {
			if d, ok := v.DocumentOK(); ok {
				q, _ := d.Lookup(key).DocumentOK()
				out = append(out, q)
			}
		}
		return out
	}
	switch name {
	case "find":
		return []bson.Raw{doc("filter")}
	case "findAndModify":
		return []bson.Raw{doc("query")}
	case "update":
		return each("updates", "q")
	case "delete":
		return each("deletes", "q")
	}
	return nil
}

// monitoredStore returns a store on a fresh database through its own
// client, whose commands log records, and the database.
func monitoredStore(t testing.TB) (*mongo.Store, *mongodrv.Database, *commandLog) {
	t.Helper()
	log := &commandLog{}
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
		c := command{name: e.CommandName, coll: coll, filters: filtersOf(e.CommandName, slices.Clone(e.Command))}
		log.mu.Lock()
		defer log.mu.Unlock()
		log.cmds = append(log.cmds, c)
	}}
	client, err := mongodrv.Connect(options.Client().ApplyURI(testenv.MongoURI(t)).SetMonitor(mon))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	db := client.Database(testenv.Mongo(t, "lookup").Name())
	s, err := mongo.NewStore(context.Background(), db, testenv.Logger())
	if err != nil {
		t.Fatal(err)
	}
	testenv.MongoIndexIDLookups(t, db)
	return s, db, log
}

// TestCheckoutPathLooksUpByIDEquality is the store's contract for the work
// that each order event causes: recording the recipient, reading them and
// their preferences, storing the notification, claiming, sending and
// finishing it; and for the customer's reads (a notification by ID, the
// list of theirs). Every filter it sends is one `_id` equality, the only
// query FerretDB v1 answers from an index, so its cost does not grow with
// the notification log (BenchmarkCheckoutPath gives the figures). Only the
// worker's poll (Due, NextDue) reads by another filter, and it reads the
// due collection, which holds pending notifications only.
func TestCheckoutPathLooksUpByIDEquality(t *testing.T) {
	t.Parallel()
	s, _, log := monitoredStore(t)
	ctx := t.Context()
	log.take()

	steps := []struct {
		name string
		run  func() error
	}{
		{"SaveRecipient", func() error {
			return s.SaveRecipient(ctx, notification.Recipient{UserID: "u1", Email: "ada@example.com", Name: "Ada"}, t0)
		}},
		{"SaveRecipient again", func() error {
			return s.SaveRecipient(ctx, notification.Recipient{UserID: "u1", Email: "ada@example.org"}, t0.Add(time.Second))
		}},
		{"Recipient", func() error { _, _, err := s.Recipient(ctx, "u1"); return err }},
		{"Preferences", func() error { _, err := s.Preferences(ctx, "u1"); return err }},
		{"Create", func() error { _, err := s.Create(ctx, pending("m1:email", "u1", t0)); return err }},
		{"Create again", func() error { _, err := s.Create(ctx, pending("m1:email", "u1", t0)); return err }},
		{"Claim, Finish", func() error {
			n, err := s.Claim(ctx, "m1:email", t0, t0.Add(time.Minute))
			if err != nil || n == nil {
				return fmt.Errorf("claim = %v, %v", n, err)
			}
			held, err := s.Finish(ctx, n.ID, n.Claim, notification.StatusSent, "", t0, time.Time{})
			if err != nil || !held {
				return fmt.Errorf("finish = %v, %v", held, err)
			}
			return nil
		}},
		{"Claim of a sent one", func() error {
			n, err := s.Claim(ctx, "m1:email", t0, t0.Add(time.Minute))
			if n != nil {
				return fmt.Errorf("claimed a sent notification")
			}
			return err
		}},
		{"Notifications", func() error { _, err := s.Notifications(ctx, []string{"m1:email", "m2:email"}); return err }},
		{"ListByUser", func() error {
			ns, err := s.ListByUser(ctx, "u1", nil, 10)
			if err == nil && (len(ns) != 1 || ns[0].ID != "m1:email") {
				err = fmt.Errorf("listed %v, want m1:email", ns)
			}
			return err
		}},
	}
	for _, step := range steps {
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		cmds := log.take()
		if len(cmds) == 0 {
			t.Errorf("%s sent no command", step.name)
		}
		for _, c := range cmds {
			for _, f := range c.filters {
				elems, _ := f.Elements()
				if len(elems) != 1 || elems[0].Key() != "_id" || elems[0].Value().Type != bson.TypeString {
					t.Errorf("%s: %s on %s with filter %s, want one _id equality", step.name, c.name, c.coll, f)
				}
			}
		}
	}
	// The check sees filters: the poll's is not an _id equality.
	if _, err := s.Due(ctx, t0, 16); err != nil {
		t.Fatal(err)
	}
	if cmds := log.take(); len(cmds) != 1 || cmds[0].coll != "due" || len(cmds[0].filters) != 1 || len(cmds[0].filters[0]) == 0 ||
		cmds[0].filters[0].Lookup("dueAt").Type != bson.TypeEmbeddedDocument {
		t.Errorf("Due sent %+v, want one find on due by dueAt", cmds)
	}
	if r, _, _ := s.Recipient(ctx, "u1"); r.Email != "ada@example.org" || r.Name != "Ada" {
		t.Errorf("recipient %+v, want the newer email and the name", r)
	}
}

// BenchmarkCheckoutPath times what one order event costs the store (record
// the recipient, read them and their preferences, store a notification,
// claim it and record it sent) with 100 and 10,000 notifications already
// in the log: the cost stays flat. "scan" is the claim the store made
// before ({status, dueAt} with a sort, then {_id, claim}), for comparison:
// it grows with the log on FerretDB v1.
//
//	go test -run '^$' -bench CheckoutPath -benchtime 20x ./subgraphs/notifications/mongo/
//
// (the scan of 10,000 takes more than a second per claim).
func BenchmarkCheckoutPath(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int{100, 10_000} {
		s, db, _ := monitoredStore(b)
		docs := make([]any, size)
		for i := range docs {
			docs[i] = bson.D{
				{Key: "_id", Value: fmt.Sprintf("old%06d:email", i)}, {Key: "userId", Value: fmt.Sprint("u", i%500)},
				{Key: "kind", Value: "ORDER_CONFIRMED"}, {Key: "channel", Value: "EMAIL"}, {Key: "recipient", Value: "x@example.com"},
				{Key: "subject", Value: "Your order"}, {Key: "body", Value: "Thanks for your order."},
				{Key: "status", Value: "LOGGED"}, {Key: "attempts", Value: 1}, {Key: "createdAt", Value: t0},
				{Key: "sentAt", Value: t0}, {Key: "dueAt", Value: t0}, {Key: "lease", Value: 2},
			}
		}
		if _, err := db.Collection("notifications").InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
		testenv.MongoIndexIDLookups(b, db)
		b.Run(fmt.Sprintf("log=%d/event", size), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				user := fmt.Sprint("u", i%500)
				if err := s.SaveRecipient(ctx, notification.Recipient{UserID: user, Email: "ada@example.com"}, t0); err != nil {
					b.Fatal(err)
				}
				if _, _, err := s.Recipient(ctx, user); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Preferences(ctx, user); err != nil {
					b.Fatal(err)
				}
				id := fmt.Sprintf("log%d-%d:email", size, i)
				if _, err := s.Create(ctx, pending(id, user, t0)); err != nil {
					b.Fatal(err)
				}
				n, err := s.Claim(ctx, id, t0, t0.Add(time.Minute))
				if err != nil || n == nil {
					b.Fatal(n, err)
				}
				if held, err := s.Finish(ctx, id, n.Claim, notification.StatusLogged, "", t0, time.Time{}); err != nil || !held {
					b.Fatal(held, err)
				}
			}
		})
		b.Run(fmt.Sprintf("log=%d/scan", size), func(b *testing.B) {
			coll := db.Collection("notifications")
			for i := 0; b.Loop(); i++ {
				// What Claim and Finish sent before: a claim by status and
				// dueAt, sorted, and an update by _id and claim.
				err := coll.FindOne(ctx, bson.D{{Key: "status", Value: "PENDING"}, {Key: "dueAt", Value: bson.D{{Key: "$lte", Value: t0}}}},
					options.FindOne().SetSort(bson.D{{Key: "dueAt", Value: 1}, {Key: "_id", Value: 1}})).Err()
				if err != nil && err != mongodrv.ErrNoDocuments {
					b.Fatal(err)
				}
				if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "old000001:email"}, {Key: "claim", Value: "w"}},
					bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: "LOGGED"}}}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRecipientStoredBeforeDatedValues: a recipient stored by a version
// before dated values keeps its email unless a newer one comes.
func TestRecipientStoredBeforeDatedValues(t *testing.T) {
	t.Parallel()
	s, db, _ := monitoredStore(t)
	ctx := t.Context()
	if _, err := db.Collection("recipients").InsertOne(ctx, bson.D{
		{Key: "_id", Value: "u1"}, {Key: "email", Value: "old@example.com"}, {Key: "emailAt", Value: t0},
		{Key: "name", Value: "Ada"}, {Key: "nameAt", Value: t0},
	}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		email string
		at    time.Time
		want  string
	}{
		{"older@example.com", t0.Add(-time.Hour), "old@example.com"},
		{"new@example.com", t0.Add(time.Hour), "new@example.com"},
		{"late@example.com", t0.Add(time.Minute), "new@example.com"},
	}
	for _, st := range steps {
		if err := s.SaveRecipient(ctx, notification.Recipient{UserID: "u1", Email: st.email}, st.at); err != nil {
			t.Fatal(err)
		}
		r, ok, err := s.Recipient(ctx, "u1")
		if err != nil || !ok || r.Email != st.want || r.Name != "Ada" {
			t.Errorf("after saving %s as of %v: %+v, %v, %v; want %s and the name", st.email, st.at, r, ok, err, st.want)
		}
	}
}

// TestStoreMadeBeforeDueAndFeeds: notifications stored by a version without
// the due and feeds collections are listed at the first start.
func TestStoreMadeBeforeDueAndFeeds(t *testing.T) {
	t.Parallel()
	db := testenv.Mongo(t, "upgrade")
	ctx := t.Context()
	old := func(id, status string, at time.Time) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "userId", Value: "u1"}, {Key: "channel", Value: "EMAIL"},
			{Key: "status", Value: status}, {Key: "createdAt", Value: at}, {Key: "dueAt", Value: at}, {Key: "claim", Value: ""}}
	}
	if _, err := db.Collection("notifications").InsertMany(ctx, []any{
		old("sent:email", "LOGGED", t0), old("pending:email", "PENDING", t0.Add(time.Second)),
	}); err != nil {
		t.Fatal(err)
	}
	s, err := mongo.NewStore(ctx, db, testenv.Logger())
	if err != nil {
		t.Fatal(err)
	}
	ns, err := s.ListByUser(ctx, "u1", nil, 10)
	if err != nil || len(ns) != 2 || ns[0].ID != "pending:email" || ns[1].ID != "sent:email" {
		t.Fatalf("ListByUser = %v, %v; want both, newest first", ns, err)
	}
	if ids, err := s.Due(ctx, t0.Add(time.Minute), 10); err != nil || len(ids) != 1 || ids[0] != "pending:email" {
		t.Fatalf("Due = %v, %v; want the pending one", ids, err)
	}
	n, err := s.Claim(ctx, "pending:email", t0.Add(time.Minute), t0.Add(2*time.Minute))
	if err != nil || n == nil || n.Attempts != 1 {
		t.Fatalf("Claim = %+v, %v", n, err)
	}
}
