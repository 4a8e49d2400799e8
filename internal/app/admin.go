package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// adminServer is the private operations listener ([listeners] admin, default
// 127.0.0.1:8081): a health check for supervisors and load balancers, metrics in
// the Prometheus text format (what Postfix and Dovecot users scrape through
// their exporters), and Go's profiler. It has no authentication, like Dovecot's
// doveadm HTTP API without a password: keep it on loopback or a private network.
type adminServer struct {
	a   *App
	srv *http.Server
}

func newAdminServer(a *App) *adminServer {
	s := &adminServer{a: a}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.health)
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: /debug/pprof/profile streams for as long as asked.
	}
	return s
}

func (s *adminServer) Serve(ln net.Listener) error        { return s.srv.Serve(ln) }
func (s *adminServer) Close() error                       { return s.srv.Close() }
func (s *adminServer) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// health answers 200 when the store answers a read, 503 otherwise.
func (s *adminServer) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if _, err := s.a.Store.Domains(ctx); err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// metrics writes a few gauges in the Prometheus text exposition format 0.0.4.
func (s *adminServer) metrics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	gauge := func(name, help string, v any) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %v\n", name, help, name, name, v)
	}
	if msgs, err := s.a.Store.QueueList(ctx); err == nil {
		rcpts := 0
		for _, m := range msgs {
			rcpts += len(m.Recipients)
		}
		gauge("gannet_queue_messages", "Messages waiting in the outbound queue.", len(msgs))
		gauge("gannet_queue_recipients", "Recipients waiting in the outbound queue.", rcpts)
	}
	counter := func(name, help string, v any) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %v\n", name, help, name, name, v)
	}
	if wst, ok := s.a.Store.(writerStatser); ok {
		ws := wst.WriterStats()
		counter("gannet_store_commits_total", "Store transactions committed (each holds one or more writes).", ws.Batches)
		counter("gannet_store_writes_total", "Store write operations committed.", ws.Ops)
		counter("gannet_store_wal_syncs_total", "WAL fsyncs (each makes one or more commits durable).", ws.Syncs)
		counter("gannet_store_wal_sync_seconds_total", "Time spent in WAL fsyncs.", ws.SyncTime.Seconds())
		counter("gannet_store_checkpoints_total", "WAL checkpoints.", ws.Checkpoints)
		counter("gannet_store_wal_restarts_total", "Checkpoints after which the WAL starts over from its beginning.", ws.Restarts)
		counter("gannet_store_deferred_ops_total", "Large write operations undone and run again first in the next batch.", ws.Deferred)
	}
	if dst, ok := s.a.Store.(deliveryStatser); ok {
		b, d := dst.DeliveryStats()
		counter("gannet_store_delivery_batches_total", "Delivery transactions this node committed (each holds one or more deliveries).", b)
		counter("gannet_store_deliveries_total", "Deliveries this node stored in those transactions.", d)
	}
	counter("gannet_store_gc_runs_total", "Collections of unreferenced message bodies this node ran.", s.a.gc.runs.Load())
	counter("gannet_store_gc_removed_total", "Message bodies those collections removed.", s.a.gc.removed.Load())
	counter("gannet_store_gc_failures_total", "Collections that failed (the log says why).", s.a.gc.failures.Load())
	if s.a.Config.Backup.Dir != "" {
		gauge("gannet_backup_last_success_timestamp_seconds", "When the newest backup in [backup] dir finished (unix seconds; 0: none yet).", s.a.backups.lastSuccess.Load())
		gauge("gannet_backup_last_size_bytes", "Size of the newest backup's snapshot: database and message files.", s.a.backups.lastSize.Load())
		counter("gannet_backup_failures_total", "Scheduled backups that failed (the log says why).", s.a.backups.failures.Load())
	}
	s.connMetrics(w)
	fmt.Fprintf(w, "# HELP gannet_node_info This node's name (config key node_name).\n# TYPE gannet_node_info gauge\ngannet_node_info{node=%q} 1\n", s.a.Config.Node())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gauge("gannet_goroutines", "Goroutines (about one per open connection).", runtime.NumGoroutine())
	gauge("gannet_heap_bytes", "Bytes of allocated heap objects.", ms.HeapAlloc)
	gauge("gannet_sys_bytes", "Bytes obtained from the operating system.", ms.Sys)
}

// connMetrics writes the connection registry and limiter counters, labelled
// by protocol ("smtp", "submission", "imap", "pop3", "http", "admin").
func (s *adminServer) connMetrics(w http.ResponseWriter) {
	if s.a.Registry == nil || s.a.Conns == nil {
		return
	}
	stats := s.a.Registry.Stats()
	fmt.Fprintf(w, "# HELP gannet_connections Connections open now, per protocol.\n# TYPE gannet_connections gauge\n")
	for _, p := range stats {
		fmt.Fprintf(w, "gannet_connections{proto=%q} %d\n", p.Proto, p.Open)
	}
	fmt.Fprintf(w, "# HELP gannet_connections_accepted_total Connections admitted, per protocol.\n# TYPE gannet_connections_accepted_total counter\n")
	for _, p := range stats {
		fmt.Fprintf(w, "gannet_connections_accepted_total{proto=%q} %d\n", p.Proto, p.Accepted)
	}
	fmt.Fprintf(w, "# HELP gannet_connections_refused_total Connections refused by the limits, per protocol and limit.\n# TYPE gannet_connections_refused_total counter\n")
	for _, p := range stats {
		fmt.Fprintf(w, "gannet_connections_refused_total{proto=%q,reason=\"per_ip\"} %d\n", p.Proto, p.RefusedPerIP)
		fmt.Fprintf(w, "gannet_connections_refused_total{proto=%q,reason=\"total\"} %d\n", p.Proto, p.RefusedTotal)
	}
	ls := s.a.Conns.Stats()
	fmt.Fprintf(w, "# HELP gannet_connections_limit Connections allowed open at once over every listener.\n# TYPE gannet_connections_limit gauge\ngannet_connections_limit %d\n", ls.MaxTotal)
	fmt.Fprintf(w, "# HELP gannet_connection_addresses Client addresses (IPv6: /64) with an open connection.\n# TYPE gannet_connection_addresses gauge\ngannet_connection_addresses %d\n", ls.Addresses)
}
