package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/shopgraph/shopgraph/internal/auth"
)

// shortToken issues a customer token that expires within about 4 seconds
// (exp has whole seconds): time enough for the subscription to start even on
// a slow, shared machine.
func (e *subEnv) shortToken(t testing.TB, userID string) string {
	t.Helper()
	s, err := auth.NewSigner(e.key, 4*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Issue(auth.Identity{UserID: userID, Role: auth.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// checkTokenExpired checks errs is the single "token expired" error.
func checkTokenExpired(t testing.TB, errs []gqlError) {
	t.Helper()
	if len(errs) != 1 || errs[0].Message != "token expired" || errs[0].Ext["code"] != "UNAUTHENTICATED" {
		t.Fatalf("errors %+v, want one UNAUTHENTICATED \"token expired\"", errs)
	}
}

// The subscriptions of a connection or SSE request end soon after its token
// expires; those on a long-lived token keep going.
func TestSubscriptionTokenExpiry(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws", "sse"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			e := newSubEnv(t)
			long := e.dial(t, transportWS)
			long.init(map[string]any{"Authorization": "Bearer " + e.token(t, "alice")})
			long.subscribe("l", feedQuery, nil)
			defer long.close()
			e.waitFeedSubscribers(t, 1)

			short := e.shortToken(t, "bob")
			switch proto {
			case "sse":
				s, res := e.sse(t, http.MethodPost, feedQuery, nil, "Authorization: Bearer "+short)
				if s == nil {
					t.Fatalf("not a stream: %s", res.Raw)
				}
				e.waitFeedSubscribers(t, 2)
				for {
					ev, err := s.next()
					if err != nil {
						t.Fatalf("stream ended before the error: %v", err)
					}
					if ev.Comment {
						continue
					}
					if ev.Event != "next" {
						t.Fatalf("event %q %s, want next with the error", ev.Event, ev.Data)
					}
					var r result
					if err := json.Unmarshal([]byte(ev.Data), &r); err != nil {
						t.Fatal(err)
					}
					checkTokenExpired(t, r.Errors)
					break
				}
				for {
					ev, err := s.next()
					if err != nil {
						t.Fatalf("stream ended before complete: %v", err)
					}
					if !ev.Comment {
						if ev.Event != "complete" {
							t.Fatalf("event %q, want complete", ev.Event)
						}
						break
					}
				}
				if _, err := s.next(); err != io.EOF {
					t.Fatalf("after complete: %v, want the end of the stream", err)
				}
			default:
				c := e.dial(t, []string{proto})
				defer c.close()
				c.init(map[string]any{"Authorization": "Bearer " + short})
				c.subscribe("s", feedQuery, nil)
				e.waitFeedSubscribers(t, 2)
				if c.legacy {
					checkTokenExpired(t, c.expect("error", "s").errs(t))
					c.expect("complete", "s")
				}
				if code, reason := c.closed(); code != 4403 || reason != "token expired" {
					t.Fatalf("closed with %d %q, want 4403 \"token expired\"", code, reason)
				}
			}

			// The expired subscription is gone upstream; the long-lived
			// one still gets events.
			e.waitFeedSubscribers(t, 1)
			e.feed.Publish(time.Now())
			if got := tickNumbers(t, []result{long.expect("next", "l").result(t)}); len(got) != 1 || got[0] != 1 {
				t.Fatalf("long-lived subscription got %v, want tick 1", got)
			}
		})
	}
}
