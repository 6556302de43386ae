package gateway

import (
	"encoding/json"
	"errors"
)

// parseMessage reads a websocket protocol message. Its payload is a slice of
// b, not a copy.
//
// Written by hand for the relay's hot path: encoding/json validates and
// copies a RawMessage payload, which cost as much CPU as writing the event to
// the client. This scanner walks the envelope's keys and skips over values;
// the payload's JSON is checked by whoever decodes it (the client). Anything
// it does not understand goes to encoding/json.
func parseMessage(b []byte) (wsMessage, error) {
	if m, ok := scanMessage(b); ok {
		return m, nil
	}
	var m wsMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return wsMessage{}, err
	}
	if m.Type == "" {
		return wsMessage{}, errors.New("message without a type")
	}
	return m, nil
}

// scanMessage is parseMessage's fast path: an object whose id and type are
// strings without escapes.
func scanMessage(b []byte) (wsMessage, bool) {
	var m wsMessage
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return m, false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			return m, m.Type != "" && skipSpace(b, i+1) == len(b)
		}
		key, next, ok := plainString(b, i)
		if !ok {
			return m, false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return m, false
		}
		i = skipSpace(b, i+1)
		end, ok := skipValue(b, i)
		if !ok {
			return m, false
		}
		switch key {
		case "type", "id":
			v, _, ok := plainString(b, i)
			if !ok {
				return m, false
			}
			if key == "type" {
				m.Type = v
			} else {
				m.ID = v
			}
		case "payload":
			if string(b[i:end]) != "null" {
				m.Payload = b[i:end]
			}
		}
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString returns the string at b[i] if it has no escapes, and the index
// after it.
func plainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			return "", 0, false
		case '"':
			return string(b[i+1 : j]), j + 1, true
		}
	}
	return "", 0, false
}

// skipValue returns the index after the JSON value at b[i]. It balances
// brackets and skips strings; it does not validate what is between.
func skipValue(b []byte, i int) (int, bool) {
	depth := 0
	for j := i; j < len(b); j++ {
		switch c := b[j]; c {
		case '"':
			j++
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(b) {
				return 0, false
			}
			if depth == 0 {
				return j + 1, true
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j, j > i // the end of a scalar
			}
			depth--
			if depth < 0 {
				return 0, false
			}
			if depth == 0 {
				return j + 1, true
			}
		case ',', ' ', '\t', '\n', '\r', ':':
			if depth == 0 {
				return j, j > i
			}
		default:
			if depth == 0 && j+1 == len(b) {
				return j + 1, true
			}
		}
	}
	return 0, false
}
