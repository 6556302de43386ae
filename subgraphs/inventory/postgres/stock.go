package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
)

// Items returns the stock of the SKUs among skus that were ever stocked.
func (s *Store) Items(ctx context.Context, skus []string) ([]stock.Item, error) {
	if len(skus) == 0 {
		return nil, nil
	}
	rows, err := New(s.db).GetItems(ctx, skus)
	if err != nil {
		return nil, fmt.Errorf("get stock items: %w", err)
	}
	out := make([]stock.Item, len(rows))
	for i, r := range rows {
		out[i] = r.item()
	}
	return out, nil
}

// ListItems returns a page of stocked SKUs in SKU order.
func (s *Store) ListItems(ctx context.Context, q stock.ItemQuery) (stock.ItemPage, error) {
	p := ListItemsParams{After: q.After, Lim: int32(q.First + 1)}
	if q.LowStockBelow != nil {
		b := int32(min(*q.LowStockBelow, 1<<31-1))
		p.Below = &b
	}
	rows, err := New(s.db).ListItems(ctx, p)
	if err != nil {
		return stock.ItemPage{}, fmt.Errorf("list stock items: %w", err)
	}
	var page stock.ItemPage
	if len(rows) > q.First {
		page.HasNext, rows = true, rows[:q.First]
	}
	page.Items = make([]stock.Item, len(rows))
	for i, r := range rows {
		page.Items[i] = r.item()
	}
	return page, nil
}

// Ledgers returns a page of the ledger of each of skus, in one query.
func (s *Store) Ledgers(ctx context.Context, skus []string, q stock.LedgerQuery) (map[string]stock.LedgerPage, error) {
	out := make(map[string]stock.LedgerPage, len(skus))
	if len(skus) == 0 {
		return out, nil
	}
	rows, err := New(s.db).LedgerPages(ctx, LedgerPagesParams{Skus: skus, After: q.After, Lim: int32(q.First + 1)})
	if err != nil {
		return nil, fmt.Errorf("ledger pages: %w", err)
	}
	for _, sku := range skus {
		out[sku] = stock.LedgerPage{Entries: []stock.LedgerEntry{}}
	}
	for _, r := range rows {
		page := out[r.Sku]
		if len(page.Entries) == q.First {
			page.HasNext = true
		} else {
			page.Entries = append(page.Entries, r.entry())
		}
		out[r.Sku] = page
	}
	return out, nil
}

// Adjust changes the units on hand of a SKU, creating its stock item if
// needed. Returns CONFLICT if on hand would go below zero or below reserved.
func (s *Store) Adjust(ctx context.Context, a stock.Adjustment) (stock.Item, error) {
	var item stock.Item
	err := s.inTx(ctx, func(q *Queries, tx pgx.Tx) error {
		if err := q.EnsureItem(ctx, EnsureItemParams{Sku: a.SKU, Now: a.Now}); err != nil {
			return fmt.Errorf("create stock item: %w", err)
		}
		locked, err := q.LockItems(ctx, []string{a.SKU})
		if err != nil || len(locked) != 1 {
			return fmt.Errorf("lock stock item %s: %w", a.SKU, err)
		}
		before := locked[0]
		row, err := q.AdjustOnHand(ctx, AdjustOnHandParams{Delta: int32(a.Delta), Now: a.Now, Sku: a.SKU})
		if errors.Is(err, pgx.ErrNoRows) {
			return &apperr.Error{Code: apperr.Conflict, Field: "delta", Message: fmt.Sprintf(
				"cannot remove %d of %s: %d on hand, %d reserved for orders, so at most %d can be removed",
				-a.Delta, a.SKU, before.OnHand, before.Reserved, before.OnHand-before.Reserved)}
		}
		if err != nil {
			return fmt.Errorf("adjust on hand: %w", err)
		}
		if err := q.InsertLedger(ctx, InsertLedgerParams{
			Kind: string(stock.KindAdjustment), Reason: a.Reason, Actor: a.Actor, At: a.Now,
			Skus: []string{a.SKU}, Deltas: []int32{int32(a.Delta)},
			OnHandAfter: []int32{row.OnHand}, ReservedAfter: []int32{row.Reserved},
		}); err != nil {
			return fmt.Errorf("write ledger: %w", err)
		}
		item = row.item()
		return nil
	})
	if err != nil {
		return stock.Item{}, err
	}
	return item, nil
}

func (r stockItemRow) item() stock.Item {
	return stock.Item{SKU: r.Sku, OnHand: int(r.OnHand), Reserved: int(r.Reserved), UpdatedAt: r.UpdatedAt}
}

func (r ledgerRow) entry() stock.LedgerEntry {
	return stock.LedgerEntry{
		ID: r.ID, SKU: r.Sku, Delta: int(r.Delta), OnHandAfter: int(r.OnHandAfter), ReservedAfter: int(r.ReservedAfter),
		Reason: r.Reason, Kind: stock.Kind(r.Kind), OrderID: r.OrderID, Actor: r.Actor, At: r.At,
	}
}
