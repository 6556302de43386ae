package gateway

import (
	"encoding/json"
	"testing"
)

func TestSubscriptionParseMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		fast     bool // taken by the fast path
		err      bool
	}{
		{"gqlgen next", `{"payload":{"data":{"feed":{"n":1,"s":"a\"}{,"}}},"id":"1","type":"next"}`, true, false},
		{"spaces", " { \"type\" : \"ping\" , \"payload\" : { } } ", true, false},
		{"null payload", `{"type":"complete","id":"1","payload":null}`, true, false},
		{"scalars", `{"type":"x","n":12,"b":true,"z":null,"a":[1,"]",{"k":[]}],"id":"7"}`, true, false},
		{"scalar last", `{"id":"7","n":-1.5e3,"type":"x"}`, true, false},
		{"escaped type", `{"type":"n\u0065xt","id":"1"}`, false, false},
		{"error list", `{"id":"1","type":"error","payload":[{"message":"no \\ way"}]}`, true, false},
		{"not an object", `[1,2]`, false, true},
		{"no type", `{"id":"1"}`, false, true},
		{"truncated", `{"type":"next","payload":{"data":`, false, true},
		{"garbage", `hello`, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, fast := scanMessage([]byte(tc.in))
			if fast != tc.fast {
				t.Errorf("fast path %v, want %v", fast, tc.fast)
			}
			got, err := parseMessage([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err %v, want error %v", err, tc.err)
			}
			if err != nil {
				return
			}
			var want wsMessage
			if err := json.Unmarshal([]byte(tc.in), &want); err != nil {
				t.Fatal(err)
			}
			if string(want.Payload) == "null" {
				want.Payload = nil
			}
			if got.Type != want.Type || got.ID != want.ID || compact(t, got.Payload) != compact(t, want.Payload) {
				t.Errorf("got %+v (payload %s), want %+v (payload %s)", got, got.Payload, want, want.Payload)
			}
		})
	}
}

func compact(t *testing.T, b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("payload %s: %v", b, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}
