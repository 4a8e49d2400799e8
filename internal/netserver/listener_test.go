package netserver

import (
	"io"
	"net"
	"net/http"
	"testing"

	"gannet/internal/connlimit"
)

// TestListenerHTTP503: net/http behind a Listener; a client over the
// per-address limit gets a well-formed 503 that Go's client parses.
func TestListenerHTTP503(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry()
	nl := NewListener(ln, Config{Proto: "http", Limiter: connlimit.NewLimits(1, 0), Registry: reg, Refusal: RefusalHTTP, ClientFirst: true})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from "+r.RemoteAddr)
	})}
	go srv.Serve(nl)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String() + "/"
	get := func() (int, string) {
		t.Helper()
		// A fresh connection each time: no keep-alive slot reuse.
		cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := cl.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(); code != 200 {
		t.Fatalf("first GET = %d", code)
	}
	// Hold the one slot of 127.0.0.1.
	waitFor(t, func() bool { return reg.Open("http") == 0 })
	hold := dialFrom(t, ln.Addr().String(), "127.0.0.1")
	waitFor(t, func() bool { return reg.Open("http") == 1 })
	code, body := get()
	if code != http.StatusServiceUnavailable || body != "Too many connections; retry.\n" {
		t.Fatalf("GET over the limit = %d %q", code, body)
	}
	hold.nc.Close()
	waitFor(t, func() bool { return reg.Open("http") == 0 })
	if code, _ := get(); code != 200 {
		t.Fatalf("GET after the slot came back = %d", code)
	}
}
