package order

import (
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/orders/cart"
)

func TestGivesCartBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   Status
		progress Progress
		want     bool
	}{
		{"no stock", StatusRejected, Progress{Stock: Rejected}, true},
		{"card declined", StatusCancelled, Progress{Stock: Released, Payment: Declined}, true},
		{"payment failed", StatusCancelled, Progress{Stock: Released, Payment: Failed}, true},
		{"cancelled by the customer", StatusCancelled, Progress{Stock: Released}, false},
		{"timed out", StatusCancelled, Progress{Stock: Expired}, false},
		{"confirmed", StatusConfirmed, Progress{Stock: Committed, Payment: Authorized}, false},
		{"pending", StatusPending, Progress{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := &Order{Status: tt.status, Progress: tt.progress}
			if got := o.GivesCartBack(); got != tt.want {
				t.Errorf("GivesCartBack() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRestoreLines(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	usd := func(n int64) money.Money { return money.Money{Amount: n, Currency: "USD"} }
	lines := []Line{
		{SKU: "LAMP", ProductName: "Lamp", VariantName: "Red", Quantity: 2, UnitPrice: usd(2500)},
		{SKU: "MUG", ProductName: "Mug", Quantity: 98, UnitPrice: usd(900)},
	}
	c := &cart.Cart{Items: []cart.Item{
		{SKU: "MUG", Quantity: 3, AddedAt: t0},  // added since: merged, capped
		{SKU: "SOFA", Quantity: 1, AddedAt: t0}, // added since: kept
	}}
	restoreLines(c, lines, now)
	want := []cart.Item{
		{SKU: "MUG", Quantity: cart.MaxQuantity, AddedAt: t0},
		{SKU: "SOFA", Quantity: 1, AddedAt: t0},
		{SKU: "LAMP", Quantity: 2, AddedAt: now, ProductName: "Lamp", VariantName: "Red", Price: usd(2500)},
	}
	if len(c.Items) != len(want) {
		t.Fatalf("items %+v, want %+v", c.Items, want)
	}
	for i := range want {
		if c.Items[i] != want[i] {
			t.Errorf("item %d = %+v, want %+v", i, c.Items[i], want[i])
		}
	}
	if !c.UpdatedAt.Equal(now) {
		t.Errorf("UpdatedAt %v, want %v", c.UpdatedAt, now)
	}

	full := &cart.Cart{}
	for i := range cart.MaxItems {
		full.Items = append(full.Items, cart.Item{SKU: string(rune('A'+i%26)) + string(rune('A'+i/26)), Quantity: 1})
	}
	restoreLines(full, lines, now)
	if len(full.Items) != cart.MaxItems {
		t.Errorf("a full cart grew to %d items, want %d", len(full.Items), cart.MaxItems)
	}
}
