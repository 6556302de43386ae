package postgres

import (
	"context"
	"errors"

	"github.com/shopgraph/shopgraph/subgraphs/users/user"
)

func (r addressRow) address() user.Address {
	return user.Address{
		ID: r.ID, UserID: r.UserID, Recipient: r.Recipient, Line1: r.Line1, Line2: r.Line2,
		City: r.City, Region: r.Region, PostalCode: r.PostalCode, Country: r.Country,
		Phone: r.Phone, IsDefault: r.IsDefault, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// AddressesByIDs implements user.Store.
func (s *PGStore) AddressesByIDs(ctx context.Context, ids []string) (map[string]user.Address, error) {
	rows, err := s.q.ListAddressesByIDs(ctx, ids)
	if err != nil {
		return nil, wrap("list addresses", err)
	}
	out := make(map[string]user.Address, len(rows))
	for _, r := range rows {
		out[r.ID] = r.address()
	}
	return out, nil
}

// AddressesByUserIDs implements user.Store.
func (s *PGStore) AddressesByUserIDs(ctx context.Context, userIDs []string) (map[string][]user.Address, error) {
	rows, err := s.q.ListAddressesByUserIDs(ctx, userIDs)
	if err != nil {
		return nil, wrap("list addresses by user", err)
	}
	out := make(map[string][]user.Address)
	for _, r := range rows {
		out[r.UserID] = append(out[r.UserID], r.address())
	}
	for _, as := range out {
		user.SortAddresses(as)
	}
	return out, nil
}

// UpdateAddressBook implements user.Store. The user's row is locked for the
// transaction, so changes to one address book are serialized. Writes go in an
// order that keeps the one-default index satisfied at every step: deletes,
// then updates that clear a default, then the other updates, then inserts.
func (s *PGStore) UpdateAddressBook(ctx context.Context, userID string, fn func(*user.AddressBook) error) error {
	err := s.inTx(ctx, func(q *Queries) error {
		if _, err := q.GetUserForUpdate(ctx, userID); err != nil {
			return notFound("user", err)
		}
		rows, err := q.ListAddressesByUserIDs(ctx, []string{userID})
		if err != nil {
			return err
		}
		before := make(map[string]user.Address, len(rows))
		book := &user.AddressBook{UserID: userID}
		for _, r := range rows {
			a := r.address()
			before[a.ID] = a
			book.Addresses = append(book.Addresses, a)
		}
		if err := fn(book); err != nil {
			return err
		}

		after := make(map[string]user.Address, len(book.Addresses))
		defaults := 0
		for _, a := range book.Addresses {
			if a.UserID != userID {
				return errors.New("address book holds another user's address")
			}
			if _, dup := after[a.ID]; dup {
				return errors.New("address book holds an address twice")
			}
			after[a.ID] = a
			if a.IsDefault {
				defaults++
			}
		}
		if defaults > 1 {
			return errors.New("address book has more than one default address")
		}
		for id := range before {
			if _, ok := after[id]; !ok {
				if _, err := q.DeleteAddress(ctx, DeleteAddressParams{ID: id, UserID: userID}); err != nil {
					return err
				}
			}
		}
		var sets []user.Address
		for _, a := range book.Addresses {
			old, ok := before[a.ID]
			switch {
			case !ok || old == a:
			case a.IsDefault:
				sets = append(sets, a)
			default:
				if err := saveAddress(ctx, q, a); err != nil {
					return err
				}
			}
		}
		for _, a := range sets {
			if err := saveAddress(ctx, q, a); err != nil {
				return err
			}
		}
		for _, a := range book.Addresses {
			if _, ok := before[a.ID]; ok {
				continue
			}
			err := q.InsertAddress(ctx, InsertAddressParams{
				ID: a.ID, UserID: a.UserID, Recipient: a.Recipient, Line1: a.Line1, Line2: a.Line2,
				City: a.City, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country,
				Phone: a.Phone, IsDefault: a.IsDefault, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("update address book", err)
}

func saveAddress(ctx context.Context, q *Queries, a user.Address) error {
	_, err := q.UpdateAddress(ctx, UpdateAddressParams{
		ID: a.ID, UserID: a.UserID, Recipient: a.Recipient, Line1: a.Line1, Line2: a.Line2,
		City: a.City, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country,
		Phone: a.Phone, IsDefault: a.IsDefault, UpdatedAt: a.UpdatedAt,
	})
	return err
}
