package events

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
)

// A stream entry is in watermill-redisstream's format (the fields
// _watermill_message_uuid, payload and metadata), so that Watermill's
// subscriber, retry and poison-queue middleware work on it unchanged. Its
// payload is the whole Message as JSON; its Watermill metadata is empty until
// the poison queue adds the reason for dead-lettering.

// metaUnreadable marks an entry that is not in the expected format.
const metaUnreadable = "events_unreadable"

// toWatermill returns the Redis stream fields for m.
func toWatermill(m Message) (map[string]any, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode message %s: %w", m.ID, err)
	}
	return redisstream.DefaultMarshallerUnmarshaller{}.Marshal("", message.NewMessage(m.ID, body))
}

// fromWatermill returns the Message carried by msg, with msg's Watermill
// metadata (such as MetaDeadLetterReason) added to its Metadata.
func fromWatermill(msg *message.Message) (Message, error) {
	if reason := msg.Metadata.Get(metaUnreadable); reason != "" {
		return Message{}, fmt.Errorf("unreadable stream entry: %s", reason)
	}
	var m Message
	if err := json.Unmarshal(msg.Payload, &m); err != nil {
		return Message{}, fmt.Errorf("decode message %s: %w", msg.UUID, err)
	}
	if m.ID == "" || m.Type == "" {
		return Message{}, fmt.Errorf("message %s: not an events.Message (no id or type)", msg.UUID)
	}
	for k, v := range msg.Metadata {
		if _, ok := m.Metadata[k]; !ok {
			if m.Metadata == nil {
				m.Metadata = map[string]string{}
			}
			m.Metadata[k] = v
		}
	}
	return m, nil
}

// unmarshaller is watermill-redisstream's default, except that an entry it
// cannot read becomes a message marked unreadable (and so is dead-lettered)
// instead of an error, which would stop the subscriber for good.
type unmarshaller struct{}

func (unmarshaller) Unmarshal(values map[string]any) (*message.Message, error) {
	msg, err := redisstream.DefaultMarshallerUnmarshaller{}.Unmarshal(values)
	if err == nil {
		return msg, nil
	}
	raw, jerr := json.Marshal(values)
	if jerr != nil {
		raw = []byte(fmt.Sprintf("%q", fmt.Sprint(values)))
	}
	bad := message.NewMessage(watermill.NewUUID(), raw)
	bad.Metadata.Set(metaUnreadable, err.Error())
	return bad, nil
}

// permanentError is a handler error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix (a malformed message,
// a reference to something that will never exist): the consumer sends the
// message to the dead-letter stream at once instead of retrying it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// FromStream decodes the Message in the fields of one Redis stream entry
// (as XRANGE or XREAD return them), for tools and tests that read a stream
// directly, such as a dead-letter stream.
func FromStream(values map[string]any) (Message, error) {
	msg, err := unmarshaller{}.Unmarshal(values)
	if err != nil {
		return Message{}, err
	}
	return fromWatermill(msg)
}
