package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/apperr"
	"github.com/shopgraph/shopgraph/internal/events"
	"github.com/shopgraph/shopgraph/internal/testenv"
	userspg "github.com/shopgraph/shopgraph/subgraphs/users/postgres"
	"github.com/shopgraph/shopgraph/subgraphs/users/user"
)

var t0 = time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)

func newStore(t *testing.T) *userspg.PGStore {
	t.Helper()
	pool := testenv.Postgres(t, "users", userspg.Migrations)
	if err := events.Migrate(context.Background(), pool, nil); err != nil {
		t.Fatal(err)
	}
	return userspg.NewStore(pool, testenv.Logger())
}

func newUser(email string) user.User {
	return user.User{ID: user.NewID(), Email: email, Name: "Ada", Role: user.RoleCustomer,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5", CreatedAt: t0, UpdatedAt: t0}
}

func mustCreate(t *testing.T, s *userspg.PGStore, email string) user.User {
	t.Helper()
	u := newUser(email)
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUsers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ada := mustCreate(t, s, "ada@example.com")
	bob := mustCreate(t, s, "bob@example.com")

	t.Run("get by id and email", func(t *testing.T) {
		got, err := s.User(ctx, ada.ID)
		if err != nil || got != ada {
			t.Fatalf("User = %+v, %v; want %+v", got, err, ada)
		}
		got, err = s.UserByEmail(ctx, "bob@example.com")
		if err != nil || got.ID != bob.ID {
			t.Fatalf("UserByEmail = %+v, %v; want bob", got, err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		if _, err := s.User(ctx, user.NewID()); apperr.Code(err) != apperr.NotFound {
			t.Fatalf("User(unknown) error = %v; want NOT_FOUND", err)
		}
		if _, err := s.UserByEmail(ctx, "nobody@example.com"); apperr.Code(err) != apperr.NotFound {
			t.Fatalf("UserByEmail(unknown) error = %v; want NOT_FOUND", err)
		}
	})
	t.Run("duplicate email is a conflict and stores nothing", func(t *testing.T) {
		dup := newUser("ada@example.com")
		err := s.CreateUser(ctx, dup)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.Conflict || e.Message != "email already registered" {
			t.Fatalf("CreateUser(duplicate) = %v; want CONFLICT email already registered", err)
		}
		if _, err := s.User(ctx, dup.ID); apperr.Code(err) != apperr.NotFound {
			t.Fatalf("duplicate user was stored: %v", err)
		}
	})
	t.Run("by ids", func(t *testing.T) {
		got, err := s.UsersByIDs(ctx, []string{ada.ID, bob.ID, user.NewID()})
		if err != nil || len(got) != 2 || got[ada.ID].Email != ada.Email || got[bob.ID].Email != bob.Email {
			t.Fatalf("UsersByIDs = %+v, %v", got, err)
		}
	})
	t.Run("update saves, a failing fn saves nothing, a taken email conflicts", func(t *testing.T) {
		u, err := s.UpdateUser(ctx, bob.ID, func(u *user.User) error {
			u.Name, u.Phone, u.UpdatedAt = "Robert", "+14155550123", t0.Add(time.Hour)
			return nil
		})
		if err != nil || u.Name != "Robert" {
			t.Fatalf("UpdateUser = %+v, %v", u, err)
		}
		boom := errors.New("boom")
		if _, err := s.UpdateUser(ctx, bob.ID, func(u *user.User) error { u.Name = "Bobby"; return boom }); !errors.Is(err, boom) {
			t.Fatalf("UpdateUser with failing fn = %v; want boom", err)
		}
		if _, err := s.UpdateUser(ctx, bob.ID, func(u *user.User) error { u.Email = "ada@example.com"; return nil }); apperr.Code(err) != apperr.Conflict {
			t.Fatalf("UpdateUser to a taken email = %v; want CONFLICT", err)
		}
		got, _ := s.User(ctx, bob.ID)
		if got.Name != "Robert" || got.Phone != "+14155550123" || got.Email != "bob@example.com" || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("stored %+v", got)
		}
		if _, err := s.UpdateUser(ctx, user.NewID(), func(*user.User) error { return nil }); apperr.Code(err) != apperr.NotFound {
			t.Fatalf("UpdateUser(unknown) = %v; want NOT_FOUND", err)
		}
	})
}

func addr(city string) user.AddressInput {
	return user.AddressInput{Recipient: "Ada", Line1: "1 Main St", City: city, PostalCode: "12345", Country: "US"}
}

func book(t *testing.T, s *userspg.PGStore, userID string) []user.Address {
	t.Helper()
	books, err := s.AddressesByUserIDs(context.Background(), []string{userID})
	if err != nil {
		t.Fatal(err)
	}
	return books[userID]
}

func TestAddressBook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ada := mustCreate(t, s, "ada@example.com")
	bob := mustCreate(t, s, "bob@example.com")

	edit := func(userID string, fn func(b *user.AddressBook) error) error {
		return s.UpdateAddressBook(ctx, userID, fn)
	}
	var ids []string
	for i, city := range []string{"Boston", "Chicago", "Denver"} {
		err := edit(ada.ID, func(b *user.AddressBook) error {
			a, err := b.Add(user.NewID(), addr(city), t0.Add(time.Duration(i)*time.Minute))
			ids = append(ids, a.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := edit(bob.ID, func(b *user.AddressBook) error { _, err := b.Add(user.NewID(), addr("Austin"), t0); return err }); err != nil {
		t.Fatal(err)
	}

	got := book(t, s, ada.ID)
	if len(got) != 3 || got[0].ID != ids[0] || !got[0].IsDefault || got[1].IsDefault || got[2].City != "Denver" {
		t.Fatalf("ada's book = %+v; want Boston (default), Chicago, Denver", got)
	}

	// Switch the default to Denver: one UPDATE clears Boston, one sets Denver.
	if err := edit(ada.ID, func(b *user.AddressBook) error { _, err := b.SetDefault(ids[2], t0.Add(time.Hour)); return err }); err != nil {
		t.Fatal(err)
	}
	got = book(t, s, ada.ID)
	if got[0].ID != ids[2] || !got[0].IsDefault || got[1].IsDefault || got[2].IsDefault {
		t.Fatalf("after switching the default: %+v; want Denver first and the only default", got)
	}

	t.Run("the store refuses two defaults", func(t *testing.T) {
		err := edit(ada.ID, func(b *user.AddressBook) error {
			for i := range b.Addresses {
				b.Addresses[i].IsDefault = true
			}
			return nil
		})
		if err == nil {
			t.Fatal("saved a book with three default addresses")
		}
		n := 0
		for _, a := range book(t, s, ada.ID) {
			if a.IsDefault {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d default addresses after a refused save; want 1", n)
		}
	})

	t.Run("a failing edit changes nothing", func(t *testing.T) {
		before := book(t, s, ada.ID)
		err := edit(ada.ID, func(b *user.AddressBook) error {
			_ = b.Remove(ids[0])
			_, err := b.Update(ids[1], user.AddressInput{Country: "XX"}, t0)
			return err
		})
		if apperr.Code(err) != apperr.InvalidInput {
			t.Fatalf("err = %v; want INVALID_INPUT", err)
		}
		if after := book(t, s, ada.ID); len(after) != len(before) {
			t.Fatalf("book changed from %d to %d addresses", len(before), len(after))
		}
	})

	t.Run("remove and look up by ids", func(t *testing.T) {
		if err := edit(ada.ID, func(b *user.AddressBook) error { return b.Remove(ids[0]) }); err != nil {
			t.Fatal(err)
		}
		byID, err := s.AddressesByIDs(ctx, []string{ids[0], ids[1], ids[2]})
		if err != nil || len(byID) != 2 || byID[ids[1]].UserID != ada.ID {
			t.Fatalf("AddressesByIDs = %+v, %v; want Chicago and Denver", byID, err)
		}
		books, _ := s.AddressesByUserIDs(ctx, []string{ada.ID, bob.ID})
		if len(books[ada.ID]) != 2 || len(books[bob.ID]) != 1 {
			t.Fatalf("books = %+v", books)
		}
	})

	t.Run("unknown user", func(t *testing.T) {
		if err := edit(user.NewID(), func(*user.AddressBook) error { return nil }); apperr.Code(err) != apperr.NotFound {
			t.Fatalf("err = %v; want NOT_FOUND", err)
		}
	})

	t.Run("concurrent adds of a default keep one default", func(t *testing.T) {
		yes := true
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				in := addr("Elgin")
				in.IsDefault = &yes
				if err := edit(bob.ID, func(b *user.AddressBook) error { _, err := b.Add(user.NewID(), in, t0); return err }); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		n, defaults := 0, 0
		for _, a := range book(t, s, bob.ID) {
			n++
			if a.IsDefault {
				defaults++
			}
		}
		if n != 9 || defaults != 1 {
			t.Fatalf("bob has %d addresses and %d defaults; want 9 and 1", n, defaults)
		}
	})
}

func token(userID, family string, created time.Time) user.RefreshToken {
	return user.RefreshToken{Hash: user.HashRefreshToken(user.NewID()), FamilyID: family, UserID: userID,
		CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour)}
}

func TestRefreshTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ada := mustCreate(t, s, "ada@example.com")
	family := user.NewID()
	first := token(ada.ID, family, t0)
	if err := s.CreateRefreshToken(ctx, first); err != nil {
		t.Fatal(err)
	}
	got, err := s.RefreshToken(ctx, first.Hash)
	if err != nil || got.FamilyID != family || got.UserID != ada.ID || got.UsedAt != nil || got.RevokedAt != nil || !got.ExpiresAt.Equal(first.ExpiresAt) {
		t.Fatalf("RefreshToken = %+v, %v", got, err)
	}
	if _, err := s.RefreshToken(ctx, user.HashRefreshToken("nope")); apperr.Code(err) != apperr.NotFound {
		t.Fatalf("unknown token: %v; want NOT_FOUND", err)
	}

	// Of concurrent rotations of one token exactly one wins.
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.RotateRefreshToken(ctx, first.Hash, token(ada.ID, family, t0.Add(time.Minute))) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch apperr.Code(err) {
		case "":
			wins++
		case apperr.Conflict:
		default:
			t.Fatalf("rotate: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent rotations won; want 1", wins, n)
	}
	got, _ = s.RefreshToken(ctx, first.Hash)
	if got.UsedAt == nil || !got.UsedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("rotated token UsedAt = %v", got.UsedAt)
	}
	if err := s.RotateRefreshToken(ctx, user.HashRefreshToken("nope"), token(ada.ID, family, t0)); apperr.Code(err) != apperr.NotFound {
		t.Fatalf("rotating an unknown token: %v; want NOT_FOUND", err)
	}

	live, err := s.RevokeRefreshFamily(ctx, family, t0.Add(2*time.Minute))
	if err != nil || !live {
		t.Fatalf("RevokeRefreshFamily = %v, %v; want true", live, err)
	}
	live, err = s.RevokeRefreshFamily(ctx, family, t0.Add(3*time.Minute))
	if err != nil || live {
		t.Fatalf("second RevokeRefreshFamily = %v, %v; want false", live, err)
	}
	got, _ = s.RefreshToken(ctx, first.Hash)
	if got.RevokedAt == nil || !got.RevokedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("revoked token RevokedAt = %v; want the first revocation time", got.RevokedAt)
	}

	// An expired family is not live; expired tokens can be deleted.
	old := token(ada.ID, user.NewID(), t0.Add(-48*time.Hour))
	if err := s.CreateRefreshToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	if live, _ := s.RevokeRefreshFamily(ctx, old.FamilyID, t0); live {
		t.Fatal("revoking an expired family reported a live session")
	}
	if err := s.DeleteExpiredRefreshTokens(ctx, ada.ID, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RefreshToken(ctx, old.Hash); apperr.Code(err) != apperr.NotFound {
		t.Fatalf("expired token still there: %v", err)
	}
	if _, err := s.RefreshToken(ctx, first.Hash); err != nil {
		t.Fatalf("unexpired token deleted: %v", err)
	}
}
