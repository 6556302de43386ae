// Package apperr is Shopgraph's one application error type. Domain code returns
// *Error values with one of a small set of codes; the GraphQL error presenter
// (internal/subgraph) turns them into extensions.code once, at the edge.
// Errors that are not *Error are internal: they are logged and shown to clients
// only as "internal error".
package apperr

import (
	"errors"
	"fmt"
)

// Application error codes. They appear verbatim as extensions.code.
const (
	NotFound        = "NOT_FOUND"
	InvalidInput    = "INVALID_INPUT"
	Unauthenticated = "UNAUTHENTICATED"
	Forbidden       = "FORBIDDEN"
	Conflict        = "CONFLICT"
	RateLimited     = "RATE_LIMITED"
	Unavailable     = "UNAVAILABLE"
	Internal        = "INTERNAL"
)

// Error is an error that is safe to show to a client.
type Error struct {
	// Code is one of the constants above.
	Code string
	// Message is a human-readable message for the client.
	Message string
	// Field optionally names the input field at fault (for INVALID_INPUT).
	Field string
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an INVALID_INPUT error about one input field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: InvalidInput, Message: fmt.Sprintf(format, args...), Field: field}
}

// Code returns the code of the first *Error in err's chain, or INTERNAL for any
// other non-nil error, or "" for nil.
func Code(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Message returns the client-safe message of err: the *Error's message, or a
// generic text for internal errors.
func Message(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// As returns the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
