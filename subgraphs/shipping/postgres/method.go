package postgres

import (
	"context"

	"github.com/shopgraph/shopgraph/internal/money"
	"github.com/shopgraph/shopgraph/subgraphs/shipping/shipment"
)

// Methods implements shipment.Store.
func (s *Store) Methods(ctx context.Context, currency string) ([]shipment.Method, error) {
	rows, err := s.q.MethodsInCurrency(ctx, currency)
	if err != nil {
		return nil, err
	}
	out := make([]shipment.Method, len(rows))
	for i, r := range rows {
		out[i] = shipment.Method{
			Code: r.Code, Name: r.Name, Description: r.Description, EstimatedDays: int(r.EstimatedDays),
			Price: money.Money{Amount: r.Amount, Currency: r.Currency},
		}
	}
	return out, nil
}

// Currencies implements shipment.Store.
func (s *Store) Currencies(ctx context.Context) ([]string, error) {
	return s.q.Currencies(ctx)
}

// MethodActive implements shipment.Store.
func (s *Store) MethodActive(ctx context.Context, code string) (bool, error) {
	return s.q.MethodActive(ctx, code)
}
