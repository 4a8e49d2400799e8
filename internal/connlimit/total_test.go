package connlimit

import (
	"net"
	"testing"
)

func TestTotalLimit(t *testing.T) {
	t.Parallel()
	l := NewLimits(2, 3)
	addr := func(s string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(s), Port: 1} }
	unix := &net.UnixAddr{Name: "/run/x", Net: "unix"}
	r1, w1 := l.AcquireReason(addr("192.0.2.1"))
	_, w2 := l.AcquireReason(addr("192.0.2.1"))
	if _, w := l.AcquireReason(addr("192.0.2.1")); w != PerIP {
		t.Fatalf("third from one address: %v, want per_ip", w)
	}
	// A Unix socket has no address to limit, but counts in the total.
	if _, w := l.AcquireReason(unix); w != OK {
		t.Fatalf("unix: %v", w)
	}
	if _, w := l.AcquireReason(addr("2001:db8::1")); w != Total {
		t.Fatalf("fourth in all: %v, want total", w)
	}
	if w1 != OK || w2 != OK {
		t.Fatalf("first two: %v %v", w1, w2)
	}
	st := l.Stats()
	if st.Open != 3 || st.Addresses != 1 || st.RefusedPerIP != 1 || st.RefusedTotal != 1 || st.MaxTotal != 3 || st.MaxPerIP != 2 {
		t.Fatalf("stats = %+v", st)
	}
	r1()
	r1()
	if _, w := l.AcquireReason(addr("2001:db8::1")); w != OK {
		t.Fatalf("after a release: %v", w)
	}
	if st := l.Stats(); st.Open != 3 || st.Addresses != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestTotalFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		nofile uint64
		want   int
	}{
		{1024, 896}, {20000, 18000}, {1 << 20, 943719}, {100, 16}, {0, 16}, {1 << 40, 1932735283},
	} {
		if got := TotalFor(tc.nofile); got != tc.want {
			t.Errorf("TotalFor(%d) = %d, want %d", tc.nofile, got, tc.want)
		}
	}
	if DefaultTotal() < 16 {
		t.Errorf("DefaultTotal() = %d", DefaultTotal())
	}
}
