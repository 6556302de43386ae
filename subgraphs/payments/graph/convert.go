package graph

import (
	"strings"
	"unicode"

	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/subgraphs/payments/graph/model"
	"github.com/shopgraph/shopgraph/subgraphs/payments/payment"
)

// Global ID types.
const (
	typePayment = "Payment"
	typeRefund  = "Refund"
	typeOrder   = "Order"
	typeUser    = "User"
)

func toPayment(p *payment.Payment) *model.Payment {
	if p == nil {
		return nil
	}
	amount, captured, refunded := p.Amount, p.Captured, p.Refunded
	return &model.Payment{
		ID:             gid.Encode(typePayment, p.ID),
		Order:          &model.Order{ID: gid.Encode(typeOrder, p.OrderID)},
		Customer:       &model.User{ID: gid.Encode(typeUser, p.CustomerID)},
		Amount:         &amount,
		CapturedAmount: &captured,
		RefundedAmount: &refunded,
		Status:         model.PaymentStatus(p.Status),
		Provider:       p.Provider,
		DeclineReason:  optional(p.DeclineReason),
		DeclineCode:    optional(p.DeclineCode),
		FailureReason:  optional(p.FailureReason),
		ClientSecret:   optional(p.ClientSecret),
		CreatedAt:      p.CreatedAt,
		UpdatedAt:      p.UpdatedAt,
	}
}

// toRefund maps a refund. Its Payment carries only the payment's ID, which
// the Refund.payment resolver loads.
func toRefund(r payment.Refund) *model.Refund {
	amount := r.Amount
	return &model.Refund{
		ID:        gid.Encode(typeRefund, r.ID),
		Payment:   &model.Payment{ID: gid.Encode(typePayment, r.PaymentID)},
		Amount:    &amount,
		Reason:    r.Reason,
		CreatedAt: r.CreatedAt,
	}
}

func toEvent(e payment.Event) *model.PaymentEvent {
	return &model.PaymentEvent{
		// "PaymentAuthorized" → AUTHORIZED, "PaymentActionRequired" → ACTION_REQUIRED
		Type:   model.PaymentEventType(enumName(strings.TrimPrefix(e.Type(), "Payment"))),
		At:     e.At,
		Detail: e.Data.Describe(),
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// localIDs returns the local keys of the global IDs of type typ; IDs that
// are malformed or name another type map to "" (they name nothing here).
func localIDs(typ string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i], _ = gid.DecodeAs(id, typ)
	}
	return out
}

// enumName turns a CamelCase name into an ENUM_VALUE.
func enumName(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}
