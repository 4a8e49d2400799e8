package main

import (
	"io"
	"log/slog"

	"gannet/internal/config"
)

// newLogger makes the server's logger from the config keys log_format and
// log_level (Validate has checked both): one line per event on w, as text
// (key=value) or JSON. README.md ("Logs") lists the lines an operator greps
// for.
func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	level, err := config.ParseLogLevel(cfg.LogLevel)
	if err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
