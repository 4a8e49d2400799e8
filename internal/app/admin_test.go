package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gannet/internal/config"
)

// TestAdminListener: health, metrics that move with deliveries, and pprof.
func TestAdminListener(t *testing.T) {
	cfg := config.DevConfig(t.TempDir())
	cfg.Domains = []string{"admin.test"}
	cfg.TLS = config.TLS{}
	cfg.Listeners = config.Listeners{SMTP: "127.0.0.1:0", Admin: "127.0.0.1:0"}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if _, err := a.Store.AddAccount(t.Context(), "u@admin.test", "pw"); err != nil {
		t.Fatal(err)
	}
	base := "http://" + listener(t, a, "admin")
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	metric := func(body, name string) float64 {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + name + ` ([0-9.e+]+)$`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("metric %s missing in:\n%s", name, body)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	_, before := get("/metrics")
	w0 := metric(before, "gannet_store_writes_total")
	smtpDeliver(t, a, "u@admin.test", "metrics")
	code, after := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	if w1 := metric(after, "gannet_store_writes_total"); w1 <= w0 {
		t.Fatalf("writes_total did not grow with a delivery: %v → %v", w0, w1)
	}
	if metric(after, "gannet_store_wal_syncs_total") < 1 || metric(after, "gannet_queue_messages") != 0 {
		t.Fatalf("unexpected metrics:\n%s", after)
	}
	if code, body := get("/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("/debug/pprof/ = %d", code)
	}
	if code, _ := get("/nothing"); code != 404 {
		t.Fatalf("/nothing = %d", code)
	}
}
