package events

import (
	"context"
	"errors"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
)

// countingLogger counts Watermill log calls by level.
type countingLogger struct {
	watermill.NopLogger
	errors, debugs *int
}

func (l countingLogger) Error(string, error, watermill.LogFields) { *l.errors++ }
func (l countingLogger) Debug(string, watermill.LogFields)        { *l.debugs++ }
func (l countingLogger) With(watermill.LogFields) watermill.LoggerAdapter {
	return l
}

// TestOutageErrorsAreNotRepeated: while Redis is unreachable Watermill
// reports a failed read every 500ms; one message is logged at Error once per
// errorEvery (the repeats at Debug), and a stop's "context canceled" never.
func TestOutageErrorsAreNotRepeated(t *testing.T) {
	t.Parallel()
	refused := errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	tests := []struct {
		name       string
		log        func(q watermill.LoggerAdapter)
		wantErrors int
		wantDebugs int
	}{
		{"a read failing 20 times", func(q watermill.LoggerAdapter) {
			for range 20 {
				q.Error("read fail", refused, nil)
			}
		}, 1, 19},
		{"two kinds of failure, through With", func(q watermill.LoggerAdapter) {
			for range 5 {
				q.Error("read fail", refused, nil)
				q.With(watermill.LogFields{"x": 1}).Error("xpendingext fail", refused, nil)
			}
		}, 2, 8},
		{"stopping", func(q watermill.LoggerAdapter) {
			q.Error("read fail", context.Canceled, nil)
		}, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var errs, debugs int
			tc.log(newQuietLogger(countingLogger{errors: &errs, debugs: &debugs}))
			if errs != tc.wantErrors || debugs != tc.wantDebugs {
				t.Errorf("logged %d at Error and %d at Debug, want %d and %d", errs, debugs, tc.wantErrors, tc.wantDebugs)
			}
		})
	}
}
