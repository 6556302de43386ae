package gateway

import (
	"context"
	"fmt"
	"log/slog"

	nautilus "github.com/nautilus/gateway"
)

// nautilusLogger sends nautilus's logs to slog, at debug level (nautilus logs
// every plan step at Info; its warnings are about errors the gateway reports
// itself).
type nautilusLogger struct {
	log *slog.Logger
}

var _ nautilus.Logger = nautilusLogger{}

func (l nautilusLogger) Debug(args ...any) { l.debug(args) }
func (l nautilusLogger) Info(args ...any)  { l.debug(args) }
func (l nautilusLogger) Warn(args ...any)  { l.debug(args) }

// debug formats args only when debug logging is on: nautilus logs whole
// results on every step.
func (l nautilusLogger) debug(args []any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprint(args...))
	}
}

func (l nautilusLogger) WithFields(fields nautilus.LoggerFields) nautilus.Logger {
	attrs := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		attrs = append(attrs, k, v)
	}
	return nautilusLogger{l.log.With(attrs...)}
}

// QueryPlanStep logs a step of a query plan.
func (l nautilusLogger) QueryPlanStep(step *nautilus.QueryPlanStep) {
	l.log.Debug("nautilus plan step", "parent_type", step.ParentType, "insertion_point", step.InsertionPoint)
}
