package events

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

type reserve struct {
	OrderID string `json:"orderId"`
	Lines   []line `json:"lines"`
}

type line struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

func TestNewAndDecode(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	in := reserve{OrderID: "o1", Lines: []line{{SKU: "TEE-M", Qty: 2}}}
	m, err := New("inventory.ReserveStock", "o1", in, at)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID == "" || m.Type != "inventory.ReserveStock" || m.Key != "o1" {
		t.Errorf("New = %+v", m)
	}
	if want := at.UTC().Truncate(time.Microsecond); !m.OccurredAt.Equal(want) || m.OccurredAt.Location() != time.UTC {
		t.Errorf("OccurredAt = %v, want %v in UTC", m.OccurredAt, want)
	}
	out, err := Decode[reserve](m)
	if err != nil {
		t.Fatal(err)
	}
	if out.OrderID != "o1" || len(out.Lines) != 1 || out.Lines[0] != in.Lines[0] {
		t.Errorf("Decode = %+v, want %+v", out, in)
	}
	if _, err := Decode[[]int](m); err == nil {
		t.Error("Decode into the wrong type: no error")
	}
	if _, err := New("", "o1", in, at); err == nil {
		t.Error("New with empty type: no error")
	}
	if _, err := New("x", "o1", func() {}, at); err == nil {
		t.Error("New with unencodable payload: no error")
	}
	other, _ := New("inventory.ReserveStock", "o1", in, at)
	if other.ID == m.ID {
		t.Error("two messages share an ID")
	}
}

func TestFollowUpCarriesCorrelation(t *testing.T) {
	t.Parallel()
	at := time.Now()
	placed, _ := New("orders.OrderPlaced", "o1", map[string]string{}, at)
	if placed.CorrelationID() != placed.ID {
		t.Errorf("first message's correlation = %q, want its own ID %q", placed.CorrelationID(), placed.ID)
	}
	reserveCmd, err := placed.FollowUp("inventory.ReserveStock", "o1", reserve{OrderID: "o1"}, at)
	if err != nil {
		t.Fatal(err)
	}
	reserved, _ := reserveCmd.FollowUp("inventory.StockReserved", "o1", nil, at)
	for _, tc := range []struct {
		name                   string
		m                      Message
		correlation, causation string
	}{
		{"command", reserveCmd, placed.ID, placed.ID},
		{"reply", reserved, placed.ID, reserveCmd.ID},
	} {
		if got := tc.m.Metadata[MetaCorrelationID]; got != tc.correlation {
			t.Errorf("%s: correlation = %q, want %q", tc.name, got, tc.correlation)
		}
		if got := tc.m.Metadata[MetaCausationID]; got != tc.causation {
			t.Errorf("%s: causation = %q, want %q", tc.name, got, tc.causation)
		}
	}
}

func TestAddRejectsBadMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	good := newMessage(t, "test.Good", "k", 1)
	tests := []struct {
		name   string
		stream string
		mutate func(*Message)
		want   string
	}{
		{"empty stream", "", func(*Message) {}, "empty stream"},
		{"no ID", "s", func(m *Message) { m.ID = "" }, "no ID"},
		{"no type", "s", func(m *Message) { m.Type = "" }, "no type"},
		{"no time", "s", func(m *Message) { m.OccurredAt = time.Time{} }, "no OccurredAt"},
		{"bad JSON", "s", func(m *Message) { m.Payload = json.RawMessage(`{"a":`) }, "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := good
			tc.mutate(&m)
			ctx := context.Background()
			err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error { return Add(ctx, tx, tc.stream, m) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Add = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if n := e.outboxLen(t); n != 0 {
		t.Errorf("outbox holds %d rows after rejected adds", n)
	}
}
