package config

import (
	"fmt"
	"log/slog"
	"strings"
)

// ParseLogLevel reads the log_level key: "debug", "info", "warn" or
// "error" (any case).
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q: want \"debug\", \"info\", \"warn\" or \"error\"", s)
}

// validUserName accepts what useradd accepts (a portable name, at most 32
// characters, not starting with '-'), or a numeric uid.
func validUserName(n string) bool {
	if len(n) > 32 || strings.HasPrefix(n, "-") {
		return false
	}
	for _, r := range n {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}
