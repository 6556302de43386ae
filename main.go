// Command shopgraph runs Shopgraph: every subgraph plus the gateway in one
// process (-target=all, the default), or one of them (-target=orders, …) as
// one container per service does. `shopgraph -h` lists every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/shopgraph/shopgraph/internal/config"
	"github.com/shopgraph/shopgraph/internal/observability"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "shopgraph:", err)
		os.Exit(1)
	}
}

// run starts what the configuration asks for, prints where it listens, and
// serves until ctx is cancelled; then it shuts down cleanly: listeners close,
// in-flight requests finish (up to -shutdown-timeout), connections close.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return runWith(ctx, args, getenv, stdout, observability.Options{})
}

// runWith is run with telemetry options beyond the environment: the tests'
// in-memory span exporter.
func runWith(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, o observability.Options) error {
	cfg, err := config.Load(args, getenv, stdout)
	if err != nil {
		return err
	}
	tel, err := observability.New(ctx, getenv, o)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx) // flush the last spans
	}()
	log := newLogger(cfg, os.Stderr)
	a := &app{cfg: cfg, log: log, tel: tel}
	defer a.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := a.start(ctx); err != nil {
		cancel()
		_ = a.wait() // stop what had started
		return err
	}
	a.printURLs(stdout)
	log.Info("shopgraph started", "target", cfg.Target)
	err = a.wait()
	log.Info("shopgraph stopped")
	return err
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	// Every line logged with a request's or a message's context carries its
	// trace_id and span_id.
	if cfg.LogFormat == "json" {
		return slog.New(observability.LogHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(observability.LogHandler(slog.NewTextHandler(w, opts)))
}
