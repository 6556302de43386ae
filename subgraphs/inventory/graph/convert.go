package graph

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/graph/model"
	"github.com/shopgraph/shopgraph/subgraphs/inventory/stock"
)

// Global ID types.
const (
	typeVariant     = "Variant"
	typeStockItem   = "StockItem"
	typeReservation = "Reservation"
	typeOrder       = "Order"
	typeUser        = "User"
)

func stockModel(it stock.Item) *model.Stock {
	return &model.Stock{Sku: it.SKU, OnHand: it.OnHand, Reserved: it.Reserved, Available: it.Available()}
}

func variantModel(id string, it stock.Item) *model.Variant {
	return &model.Variant{ID: id, Stock: stockModel(it)}
}

func stockItemModel(it stock.Item) *model.StockItem {
	return &model.StockItem{
		ID: gid.Encode(typeStockItem, it.SKU), Sku: it.SKU,
		OnHand: it.OnHand, Reserved: it.Reserved, Available: it.Available(), UpdatedAt: it.UpdatedAt,
	}
}

func reservationModel(r stock.Reservation) *model.Reservation {
	m := &model.Reservation{
		ID:        gid.Encode(typeReservation, r.ID),
		Order:     &model.Order{ID: gid.Encode(typeOrder, r.OrderID)},
		Lines:     make([]*model.ReservationLine, len(r.Lines)),
		Status:    model.ReservationStatus(r.Status),
		Shortages: make([]*model.StockShortage, len(r.Shortages)),
		ExpiresAt: r.ExpiresAt,
		CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt,
	}
	for i, l := range r.Lines {
		m.Lines[i] = &model.ReservationLine{Sku: l.SKU, Quantity: l.Quantity}
	}
	for i, s := range r.Shortages {
		m.Shortages[i] = &model.StockShortage{Sku: s.SKU, Requested: s.Requested, Available: s.Available}
	}
	if r.Reason != "" {
		m.Reason = &r.Reason
	}
	return m
}

func ledgerConnection(p stock.LedgerPage) *model.StockLedgerConnection {
	c := &model.StockLedgerConnection{Edges: make([]*model.StockLedgerEdge, len(p.Entries)), PageInfo: &model.PageInfo{HasNextPage: p.HasNext}}
	for i, e := range p.Entries {
		n := &model.StockLedgerEntry{
			Delta: e.Delta, OnHandAfter: e.OnHandAfter, ReservedAfter: e.ReservedAfter,
			Reason: e.Reason, Kind: model.StockChangeKind(e.Kind), Actor: e.Actor, At: e.At,
		}
		if e.OrderID != "" {
			id := gid.Encode(typeOrder, e.OrderID)
			n.OrderID = &id
		}
		c.Edges[i] = &model.StockLedgerEdge{Cursor: ledgerCursor(e.ID), Node: n}
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.StartCursor, c.PageInfo.EndCursor = &c.Edges[0].Cursor, &c.Edges[n-1].Cursor
	}
	return c
}

func itemConnection(p stock.ItemPage) *model.StockItemConnection {
	c := &model.StockItemConnection{Edges: make([]*model.StockItemEdge, len(p.Items)), PageInfo: &model.PageInfo{HasNextPage: p.HasNext}}
	for i, it := range p.Items {
		c.Edges[i] = &model.StockItemEdge{Cursor: itemCursor(it.SKU), Node: stockItemModel(it)}
	}
	if n := len(c.Edges); n > 0 {
		c.PageInfo.StartCursor, c.PageInfo.EndCursor = &c.Edges[0].Cursor, &c.Edges[n-1].Cursor
	}
	return c
}

// Cursors are opaque to clients: base64url("kind:value").

func itemCursor(sku string) string { return encodeCursor("sku", sku) }

func ledgerCursor(id int64) string { return encodeCursor("ledger", strconv.FormatInt(id, 10)) }

func encodeCursor(kind, v string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + v))
}

func decodeCursor(kind string, after *string) (string, error) {
	if after == nil || *after == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*after)
	v, ok := strings.CutPrefix(string(raw), kind+":")
	if err != nil || !ok || v == "" {
		return "", apperr.Invalid("after", "after is not a cursor from this list")
	}
	return v, nil
}

func decodeLedgerCursor(after *string) (int64, error) {
	v, err := decodeCursor("ledger", after)
	if err != nil || v == "" {
		return 0, err
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.Invalid("after", "after is not a cursor from this list")
	}
	return id, nil
}

func deref(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// decodeReps returns the local key of each representation's global ID ("" for
// one that is malformed or of another type) and, if any was, the per-index
// errors (a graphql.BatchErrorList) that report them.
func decodeReps[T any](reps []T, typ string, id func(T) string) ([]string, error) {
	keys := make([]string, len(reps))
	var errs graphql.BatchErrorList
	for i, rep := range reps {
		k, err := gid.DecodeAs(id(rep), typ)
		if err != nil {
			if errs == nil {
				errs = make(graphql.BatchErrorList, len(reps))
			}
			errs[i] = err
			continue
		}
		keys[i] = k
	}
	if errs == nil {
		return keys, nil
	}
	return keys, errs
}
