package pop3server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gannet/internal/store"
)

// benchMessage is a distinct message of about size octets with 76-column lines.
func benchMessage(i, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Benchmark message %d.\n", i)
	line := strings.Repeat("0123456789abcdefghij", 4)[:74]
	for b.Len() < size-400 {
		fmt.Fprintf(&b, "%06d %s\n", i, line[:67])
	}
	return msg(fmt.Sprintf("bench %d", i), b.String())
}

// fill delivers msgs to the account concurrently, as many SMTP sessions
// would (the store group-commits them).
func fill(tb testing.TB, st store.Store, accountID int64, msgs [][]byte) {
	tb.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(msgs))
	next := make(chan []byte)
	for range 8 {
		wg.Go(func() {
			for raw := range next {
				res, err := st.Deliver(context.Background(), store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: accountID}}})
				if err == nil {
					err = res[0].Err
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	for _, m := range msgs {
		next <- m
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("deliver: %v", err)
	}
}

// benchClient is a minimal POP3 client that reads multi-line answers in bulk,
// as a download client does.
type benchClient struct {
	nc net.Conn
	r  *bufio.Reader
}

func (c *benchClient) cmd(s string) (string, error) {
	if _, err := io.WriteString(c.nc, s+"\r\n"); err != nil {
		return "", err
	}
	l, err := c.r.ReadString('\n')
	if err == nil && !strings.HasPrefix(l, "+OK") {
		err = fmt.Errorf("%s: %s", s, l)
	}
	return l, err
}

// multi reads a multi-line body and returns its length as sent.
func (c *benchClient) multi() (int, error) {
	n := 0
	for {
		l, err := c.r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			return n, err
		}
		if len(l) == 3 && l[0] == '.' && l[1] == '\r' {
			return n, nil
		}
		n += len(l)
	}
}

// BenchmarkRETR50K downloads 1,000 messages of 50 KB in one POP3 session per
// iteration (login, STAT, LIST, RETR each, QUIT), like bench-pop3.py; MB/s is
// message octets delivered per second.
func BenchmarkRETR50K(b *testing.B) { benchRETR(b, 1000, 50<<10) }

// BenchmarkRETR13K is the shape of bench-pop3.py's default maildrops: 200
// messages of about 13 KB, kept inline in the database, which is where the
// per-message cost of reading from the store shows (cmd_retr.go read-ahead).
// cpu-ns/op is the process's CPU time (server and client) per download.
func BenchmarkRETR13K(b *testing.B) { benchRETR(b, 200, 13000) }

func benchRETR(b *testing.B, n, size int) {
	e := newEnv(b)
	var msgs [][]byte
	total := 0
	for i := range n {
		m := benchMessage(i, size)
		msgs = append(msgs, m)
		total += len(m)
	}
	fill(b, e.st, e.acct.ID, msgs)
	b.SetBytes(int64(total))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		nc, err := net.Dial("tcp", e.addr)
		if err != nil {
			b.Fatal(err)
		}
		c := &benchClient{nc: nc, r: bufio.NewReaderSize(nc, 256<<10)}
		if _, err := c.r.ReadString('\n'); err != nil {
			b.Fatal(err)
		}
		for _, s := range []string{"USER " + alice, "PASS " + alicePw, "STAT", "LIST"} {
			if _, err := c.cmd(s); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := c.multi(); err != nil {
			b.Fatal(err)
		}
		got := 0
		for i := 1; i <= n; i++ {
			if _, err := c.cmd(fmt.Sprintf("RETR %d", i)); err != nil {
				b.Fatal(err)
			}
			k, err := c.multi()
			if err != nil {
				b.Fatal(err)
			}
			got += k
		}
		if _, err := c.cmd("QUIT"); err != nil {
			b.Fatal(err)
		}
		nc.Close()
		if got < total {
			b.Fatalf("downloaded %d octets, want at least %d", got, total)
		}
	}
}

// BenchmarkCopyBody measures the RETR transformation alone (CRLF check and
// dot-stuffing) on a 50 KB message.
func BenchmarkCopyBody(b *testing.B) {
	raw := benchMessage(1, 50<<10)
	w := bufio.NewWriterSize(io.Discard, 32<<10)
	src := bufio.NewReaderSize(nil, srcBufSize)
	rd := bytes.NewReader(raw)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(raw)
		src.Reset(rd)
		if _, err := copyBody(w, src, -1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWireSize measures the size scan LIST and STAT do once per blob.
func BenchmarkWireSize(b *testing.B) {
	raw := benchMessage(1, 50<<10)
	buf := make([]byte, srcBufSize)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wireSize(bytes.NewReader(raw), buf); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU reports the process's CPU time (user+system, from getrusage) per
// operation, which varies far less than wall time on a machine shared with
// other work. Call it just before the loop and defer what it returns.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpu()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}
