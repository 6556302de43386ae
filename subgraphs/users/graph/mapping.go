package graph

import (
	"context"
	"errors"

	"github.com/vikstrous/dataloadgen"

	"github.com/shopgraph/shopgraph/internal/gid"
	"github.com/shopgraph/shopgraph/subgraphs/users/graph/model"
	"github.com/shopgraph/shopgraph/subgraphs/users/user"
)

// Global-ID types of the entities this subgraph owns.
const (
	userType    = "User"
	addressType = "Address"
)

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func toUser(u user.User) *model.User {
	return &model.User{
		ID:        gid.Encode(userType, u.ID),
		Email:     u.Email,
		Name:      u.Name,
		Phone:     optional(u.Phone),
		Role:      model.Role(u.Role),
		CreatedAt: u.CreatedAt,
	}
}

func toAddress(a user.Address) *model.Address {
	return &model.Address{
		ID:         gid.Encode(addressType, a.ID),
		Recipient:  a.Recipient,
		Line1:      a.Line1,
		Line2:      optional(a.Line2),
		City:       a.City,
		Region:     optional(a.Region),
		PostalCode: a.PostalCode,
		Country:    a.Country,
		Phone:      optional(a.Phone),
		IsDefault:  a.IsDefault,
	}
}

func toAddresses(as []user.Address) []*model.Address {
	out := make([]*model.Address, len(as))
	for i, a := range as {
		out[i] = toAddress(a)
	}
	return out
}

func toSession(s user.Session) *model.AuthPayload {
	return &model.AuthPayload{
		AccessToken:  s.AccessToken,
		RefreshToken: s.RefreshToken,
		TokenType:    "Bearer",
		ExpiresAt:    s.AccessExpiresAt,
		User:         toUser(s.User),
	}
}

func fromAddressInput(in model.AddressInput) user.AddressInput {
	return user.AddressInput{
		Recipient: in.Recipient, Line1: in.Line1, Line2: deref(in.Line2), City: in.City,
		Region: deref(in.Region), PostalCode: in.PostalCode, Country: in.Country,
		Phone: deref(in.Phone), IsDefault: in.IsDefault,
	}
}

// found turns a loader's "no such key" into nil, nil.
func found[T any](v T, err error) (*T, error) {
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// addressBook loads the address book of obj, a user the caller was allowed
// to get.
func (r *userResolver) addressBook(ctx context.Context, obj *model.User) ([]user.Address, error) {
	key, err := gid.DecodeAs(obj.ID, userType)
	if err != nil {
		return nil, err
	}
	return loadersFrom(ctx).books.Load(ctx, key)
}
