package stock_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/contract"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
)

// recorder is a Store that records the reserve request it gets.
type recorder struct {
	stock.Store
	got stock.ReserveRequest
}

func (r *recorder) Reserve(_ context.Context, req stock.ReserveRequest) (stock.Outcome, error) {
	r.got = req
	return stock.Outcome{}, nil
}

func TestReserveRequest(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		cmd     contract.ReserveStock
		lines   []stock.Line
		expires time.Time
		invalid string // a substring of the reason, "" if valid
	}{
		{
			name:    "merged, normalized and sorted; default expiry",
			cmd:     contract.ReserveStock{Lines: []contract.Line{{SKU: " mug ", Quantity: 1}, {SKU: "CAP", Quantity: 2}, {SKU: "MUG", Quantity: 3}}},
			lines:   []stock.Line{{SKU: "CAP", Quantity: 2}, {SKU: "MUG", Quantity: 4}},
			expires: now.Add(stock.DefaultReservationTTL),
		},
		{
			name:    "expiry from the command",
			cmd:     contract.ReserveStock{Lines: []contract.Line{{SKU: "MUG", Quantity: 1}}, ExpiresAt: now.Add(time.Minute)},
			lines:   []stock.Line{{SKU: "MUG", Quantity: 1}},
			expires: now.Add(time.Minute),
		},
		{name: "no lines", cmd: contract.ReserveStock{}, invalid: "no lines"},
		{name: "zero quantity", cmd: contract.ReserveStock{Lines: []contract.Line{{SKU: "MUG"}}}, invalid: "line 1: quantity 0"},
		{name: "bad SKU", cmd: contract.ReserveStock{Lines: []contract.Line{{SKU: "MUG", Quantity: 1}, {SKU: "-x", Quantity: 1}}}, invalid: "line 2: invalid SKU"},
		{name: "expired", cmd: contract.ReserveStock{Lines: []contract.Line{{SKU: "MUG", Quantity: 1}}, ExpiresAt: now}, invalid: "has passed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			svc := stock.NewService(rec, nil, stock.Options{Now: func() time.Time { return now }})
			tt.cmd.OrderID = "o1"
			if _, err := svc.Reserve(t.Context(), tt.cmd); err != nil {
				t.Fatal(err)
			}
			got := rec.got
			if tt.invalid != "" {
				if !strings.Contains(got.Invalid, tt.invalid) {
					t.Errorf("invalid %q, want it to mention %q", got.Invalid, tt.invalid)
				}
				return
			}
			if got.Invalid != "" || !slices.Equal(got.Lines, tt.lines) || !got.ExpiresAt.Equal(tt.expires) || got.OrderID != "o1" {
				t.Errorf("request %+v, want lines %v expiring %v", got, tt.lines, tt.expires)
			}
		})
	}
}

func TestEventFor(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 11, 21, 9, 15, 0, 0, time.UTC)
	tests := []struct {
		status stock.Status
		typ    string
	}{
		{stock.StatusActive, contract.TypeStockReserved},
		{stock.StatusCommitted, contract.TypeStockCommitted},
		{stock.StatusReleased, contract.TypeStockReleased},
		{stock.StatusExpired, contract.TypeReservationExpired},
		{stock.StatusRejected, contract.TypeStockRejected},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			t.Parallel()
			ev := stock.EventFor(stock.Reservation{OrderID: "o1", Status: tt.status, ExpiresAt: exp,
				Shortages: []stock.Shortage{{SKU: "MUG", Requested: 2, Available: 1}}})
			if ev.Type != tt.typ || ev.Result.OrderID != "o1" {
				t.Errorf("event %+v, want %s for o1", ev, tt.typ)
			}
			if tt.status == stock.StatusRejected && len(ev.Result.Shortages) != 1 {
				t.Errorf("rejection without shortages: %+v", ev)
			}
			if tt.status == stock.StatusActive && !ev.Result.ExpiresAt.Equal(exp) {
				t.Errorf("StockReserved without expiry: %+v", ev)
			}
		})
	}
}
