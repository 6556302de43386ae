package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Metadata keys that every service understands.
const (
	// MetaCorrelationID ties together all messages of one business flow, such
	// as one checkout. See [Message.CorrelationID].
	MetaCorrelationID = "correlation_id"
	// MetaCausationID names the message that caused this one.
	MetaCausationID = "causation_id"
	// MetaDeadLetterReason is set on a dead-lettered message: the last error.
	MetaDeadLetterReason = "reason_poisoned"
	// MetaDeadLetterStream is set on a dead-lettered message: the Redis key
	// of the stream it was read from.
	MetaDeadLetterStream = "topic_poisoned"
)

// Message is the envelope shared by every command and event. It is what
// [Add] stores and what handlers receive; on the wire it is its JSON form.
type Message struct {
	// ID is unique per message; consumers use it to drop duplicates.
	ID string `json:"id"`
	// Type names what happened or what is asked, e.g. "inventory.ReserveStock".
	Type string `json:"type"`
	// Key is the ID of the aggregate the message is about, e.g. an order ID.
	Key string `json:"key,omitempty"`
	// Payload is the JSON body; see [New] and [Decode]. It arrives compacted
	// (insignificant whitespace removed), its key order kept.
	Payload json.RawMessage `json:"payload"`
	// Metadata carries cross-cutting values such as MetaCorrelationID.
	Metadata map[string]string `json:"metadata,omitempty"`
	// OccurredAt is when the producer created the message (UTC, microseconds).
	OccurredAt time.Time `json:"occurred_at"`
}

// New returns a message of type typ about the aggregate key, with payload
// encoded as JSON, a fresh time-ordered ID, and OccurredAt set to at (pass
// the service's injected now()).
func New(typ, key string, payload any, at time.Time) (Message, error) {
	if typ == "" {
		return Message{}, errors.New("new message: empty type")
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return Message{}, fmt.Errorf("new message %s: encode payload: %w", typ, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Message{}, fmt.Errorf("new message %s: %w", typ, err)
	}
	return Message{
		ID:         id.String(),
		Type:       typ,
		Key:        key,
		Payload:    body,
		Metadata:   map[string]string{},
		OccurredAt: at.UTC().Truncate(time.Microsecond), // what PostgreSQL keeps
	}, nil
}

// FollowUp returns a new message caused by m, as [New] does, that carries m's
// correlation ID and names m as its cause. A saga step uses it to answer a
// command or to issue the next one.
func (m Message) FollowUp(typ, key string, payload any, at time.Time) (Message, error) {
	next, err := New(typ, key, payload, at)
	if err != nil {
		return Message{}, err
	}
	next.Metadata[MetaCorrelationID] = m.CorrelationID()
	next.Metadata[MetaCausationID] = m.ID
	return next, nil
}

// CorrelationID returns the MetaCorrelationID of m, or m's own ID if it has
// none (a message that starts a flow correlates with itself).
func (m Message) CorrelationID() string {
	if id := m.Metadata[MetaCorrelationID]; id != "" {
		return id
	}
	return m.ID
}

// Decode returns m's payload decoded into a T. Unknown fields are ignored, so
// that producers can add fields before every consumer knows them.
func Decode[T any](m Message) (T, error) {
	var v T
	if err := json.Unmarshal(m.Payload, &v); err != nil {
		return v, fmt.Errorf("decode %s payload of message %s: %w", m.Type, m.ID, err)
	}
	return v, nil
}

func (m Message) validate() error {
	switch {
	case m.ID == "":
		return errors.New("message has no ID")
	case m.Type == "":
		return fmt.Errorf("message %s has no type", m.ID)
	case m.OccurredAt.IsZero():
		return fmt.Errorf("message %s has no OccurredAt", m.ID)
	case len(m.Payload) > 0 && !json.Valid(m.Payload):
		return fmt.Errorf("message %s: payload is not valid JSON", m.ID)
	}
	return nil
}
